"""Language selection: Traditional Chinese unless the visitor chose otherwise.

Pages are in Traditional Chinese by default. A visitor's explicit choice (the language switch,
kept in a cookie) always wins; a browser asking for Simplified Chinese gets Simplified Chinese.
A browser that merely prefers English (the default of most browsers and of headless ones) still
gets the site's own language: this is a Chinese group-buy site, and English is one click away.
API clients are different: they get what their Accept-Language asks for, so an English client
reads English error messages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import trans_real


class SiteLocaleMiddleware(LocaleMiddleware):
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith("/api/"):
            super().process_request(request)
            return
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language and translation.check_for_language(language):
            chosen = trans_real.get_supported_language_variant(language)
        else:
            chosen = settings.LANGUAGE_CODE
            for accepted, _q in trans_real.parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
                if accepted.lower() in {"zh-cn", "zh-sg", "zh-hans"} or accepted.lower().startswith("zh-hans"):
                    chosen = "zh-hans"
                    break
                if accepted.lower().startswith("zh"):
                    break
        translation.activate(chosen)
        request.LANGUAGE_CODE = translation.get_language()
