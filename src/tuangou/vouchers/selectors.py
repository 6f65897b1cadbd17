"""Reads of vouchers: a member's, a merchant's (as its people may see them), and the QR code."""

from __future__ import annotations

from typing import Any

import segno
from django.db.models import QuerySet

from tuangou.core.ownership import visible_to
from tuangou.vouchers.models import Redemption, Voucher


def vouchers_of_member(user: Any) -> QuerySet[Voucher]:
    return Voucher.objects.filter(user=user).select_related("deal", "merchant").order_by("-issued_at", "-pk")


def vouchers_of_merchant(user: Any, *, state: str | None = None) -> QuerySet[Voucher]:
    """What the merchant's people may see of its vouchers (members' own vouchers excluded)."""
    qs = visible_to(Voucher.objects.exclude(user=user), user).select_related("deal", "used_store")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-used_at", "-issued_at", "-pk")


def verifications_of_merchant(user: Any) -> QuerySet[Redemption]:
    return visible_to(Redemption.objects.all(), user).select_related("voucher__deal", "store", "clerk")


def qr_svg(voucher: Voucher, *, scale: int = 5) -> str:
    """The code as an inline SVG QR code (the scanner at the counter reads the digits)."""
    return str(segno.make(voucher.code, error="m").svg_inline(scale=scale, dark="#111"))


def order_refund_allowed(order_id: int) -> bool:
    """For the payments domain's member refunds (隨時退): an order may be refunded in full only
    while none of its vouchers has been used (or settled)."""
    return not Voucher.objects.filter(order_id=order_id, state__in=("used", "settled")).exists()
