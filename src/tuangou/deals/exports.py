"""Excel exports of deal reports (openpyxl)."""

from __future__ import annotations

import io
from typing import Any

from django.utils.translation import gettext as _


def team_report_xlsx(rows: list[dict[str, Any]], totals: dict[str, int]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = str(_("Team buys"))
    ws.append(
        [
            str(x)
            for x in (
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
            )
        ]
    )
    for r in rows:
        ws.append(
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
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 20
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
