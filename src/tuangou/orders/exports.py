"""Excel exports of orders (openpyxl): what the page shows, every row of the filter."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.orders.models import Order
from tuangou.orders.process import ORDER
from tuangou.orders.selectors import mask_mobile


def _local(when: Any) -> Any:
    return timezone.localtime(when).replace(tzinfo=None) if when else None


def merchant_orders_xlsx(orders: Iterable[Order]) -> bytes:
    from openpyxl import Workbook

    states = dict(ORDER.state_choices)
    wb = Workbook()
    ws = wb.active
    ws.title = str(_("Orders"))
    ws.append(
        [
            str(x)
            for x in (
                _("Order number"),
                _("Deal"),
                _("Member"),
                _("State"),
                _("Quantity"),
                _("Unit price"),
                _("Amount"),
                _("Placed"),
                _("Paid"),
                _("Vouchers issued"),
                _("Vouchers used"),
            )
        ]
    )
    for o in orders:
        ws.append(
            [
                o.number,
                o.deal.title,
                mask_mobile(o.user.mobile),
                str(states.get(o.status, o.status)),
                o.quantity,
                o.unit_price,
                o.amount,
                _local(o.created_at),
                _local(o.paid_at),
                getattr(o, "vouchers_issued", 0),
                getattr(o, "vouchers_used", 0),
            ]
        )
    for col, width in zip("ABCDEFGHIJK", (22, 30, 14, 12, 8, 10, 10, 18, 18, 10, 10), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
