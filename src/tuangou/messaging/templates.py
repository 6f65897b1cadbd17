"""Message templates in the three languages. Text is gettext-translated like every other string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from tuangou.core.models import SiteSettings

# template name → (text with %(name)s placeholders, whether the text carries a secret)
TEMPLATES: dict[str, tuple[Any, bool]] = {
    "otp_login": (_("[%(site)s] Your sign-in code is %(code)s, valid for %(minutes)s minutes."), True),
    "otp_register": (_("[%(site)s] Your registration code is %(code)s, valid for %(minutes)s minutes."), True),
    "otp_reset": (
        _(
            "[%(site)s] Your password reset code is %(code)s, valid for %(minutes)s minutes. "
            "If you did not ask for it, ignore this message."
        ),
        True,
    ),
    "payment_received": (
        _("[%(site)s] We received %(amount)s for order %(order)s (%(deal)s). Thank you!"),
        False,
    ),
    "voucher_issued": (
        _(
            "[%(site)s] Your voucher for %(deal)s: %(code)s%(password_text)s, valid %(valid_from)s to "
            "%(valid_until)s. Show it at the store."
        ),
        True,
    ),
    "voucher_verified": (
        _("[%(site)s] Your voucher %(code_tail)s for %(deal)s was used at %(store)s on %(when)s."),
        False,
    ),
    "refund_done": (
        _("[%(site)s] %(amount)s for order %(order)s has been refunded to %(destination)s."),
        False,
    ),
}


def text(template: str, language: str) -> tuple[str, bool]:
    """The template's text in `language`, its ``%(name)s`` placeholders still to fill, and
    whether it carries a secret: translated once for many messages."""
    with translation.override(language):
        return _in_active_language(template)


def _in_active_language(template: str) -> tuple[str, bool]:
    source, sensitive = TEMPLATES[template]
    return str(source), sensitive


def render(template: str, params: dict[str, Any], language: str, *, site: str | None = None) -> tuple[str, bool]:
    """The text of one message in `language`; `site` (the site's name) saves a query when rendering many."""
    with translation.override(language):
        values = {"site": SiteSettings.current().name if site is None else site, **params}
        translated, sensitive = _in_active_language(template)  # `text` without a second override
        return translated % values, sensitive


def register(name: str, text: Any, *, sensitive: bool = False) -> Callable[[], None]:
    """Later domains add their templates (voucher issued, refund …) through this."""
    TEMPLATES[name] = (text, sensitive)
    return lambda: None
