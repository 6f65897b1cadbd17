"""Excel exports of orders (openpyxl): what the page shows, every row of the filter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from tuangou.core.excel import Book
from tuangou.orders.models import Order
from tuangou.orders.process import ORDER
from tuangou.orders.selectors import mask_mobile


def _local(when: Any) -> Any:
    return timezone.localtime(when).replace(tzinfo=None) if when else None


def merchant_orders_xlsx(orders: Iterable[Order]) -> bytes:
    states = dict(ORDER.state_choices)
    book = Book()
    book.sheet(
        _("Orders"),
        (
            _("Order number"),
            _("Deal"),
            _("Member"),
            _("State"),
            _("Quantity"),
            _("Unit price"),
            _("Amount"),
            _("Placed"),
            pgettext("time", "Paid"),
            _("Vouchers issued"),
            _("Vouchers used"),
        ),
        (
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
            for o in orders
        ),
        widths=(22, 30, 14, 12, 8, 10, 10, 18, 18, 10, 10),
    )
    return book.to_bytes()
