"""Excel exports of deal reports (openpyxl)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tuangou.core.excel import Book


def team_report_xlsx(rows: list[dict[str, Any]], totals: dict[str, int]) -> bytes:
    book = Book()
    ws = book.sheet(
        _("Team buys"),
        (
            _("Deal"),
            _("Merchant"),
            _("City"),
            _("Team size"),
            _("Teams opened"),
            _("Filled"),
            _("Completed virtually"),
            _("Seats made up"),
            _("Failed"),
            _("Forming"),
            _("Cancelled"),
            _("Fill rate (%)"),
        ),
        (
            [
                r["deal__title"],
                r["deal__merchant__name"],
                r["deal__city__name"],
                r["deal__team_size"],
                r["teams"],
                r["filled"],
                r["virtual"],
                r["virtual_seats"],
                r["failed"],
                r["forming"],
                r["cancelled"],
                r["fill_rate"],
            ]
            for r in rows
        ),
        widths=(30, 20),
    )
    ws.append(
        [
            str(_("Total")),
            "",
            "",
            "",
            totals["teams"],
            totals["filled"],
            totals["virtual"],
            totals["virtual_seats"],
            totals["failed"],
            totals["forming"],
            totals["cancelled"],
            "",
        ]
    )
    return book.to_bytes()
