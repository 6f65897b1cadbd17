"""Payment providers, one module each, behind `base.Gateway`. `get_gateway(name)` builds one."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import ValidationFailed
from tuangou.payments.providers.base import Gateway

LABELS = {
    "sandbox": _("Sandbox gateway"),
    "alipay": _("Alipay"),
    "wechatpay": _("WeChat Pay"),
    "balance": _("Site balance"),
}


def enabled() -> list[str]:
    return [p for p in settings.PAYMENT_PROVIDERS if p in LABELS]


def get_gateway(name: str) -> Gateway:
    if name not in enabled():
        raise ValidationFailed.field("provider", _("This payment method is not available."), code="bad_provider")
    if name == "sandbox":
        from tuangou.payments.providers.sandbox import SandboxGateway

        return SandboxGateway.from_settings()
    if name == "alipay":
        from tuangou.payments.providers.alipay import AlipayGateway

        return AlipayGateway.from_settings()
    if name == "wechatpay":
        from tuangou.payments.providers.wechatpay import WechatPayGateway

        return WechatPayGateway.from_settings()
    from tuangou.payments.providers.balance import BalanceGateway

    return BalanceGateway()
