"""Excel exports (.xlsx, openpyxl): the one way to build one.

A `Book` is a workbook whose sheets are added in order, each with its title (cut to Excel's 31
characters), an optional header row (labels, lazy or not, written as text) and its rows;
`Book.to_bytes()` is the file. openpyxl is imported only when a book is made, so a process
that never exports does not load it.

    book = Book()
    book.sheet(_("Orders"), [_("Order number"), _("Amount")], rows, widths=(22, 10))
    return book.to_bytes()
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

MONEY_FORMAT = "#,##0.00"


class Book:
    """A workbook being written. `decimal_format`: the number format of every `Decimal` cell
    (e.g. `MONEY_FORMAT`); by default openpyxl's general format."""

    def __init__(self, *, decimal_format: str | None = None) -> None:
        from openpyxl import Workbook

        self.workbook = Workbook()
        self.decimal_format = decimal_format
        self._sheets: list[Worksheet] = []

    def sheet(
        self,
        title: Any,
        header: Sequence[Any] | None,
        rows: Iterable[Sequence[Any]] = (),
        *,
        widths: Sequence[float] = (),
    ) -> Worksheet:
        """Add a sheet: `title`, the `header` row (None: none), then `rows`; `widths` are the
        widths of the first columns (A, B, …). Returns the sheet, to append more rows."""
        from openpyxl.utils import get_column_letter

        ws = None if self._sheets else self.workbook.active  # a new workbook has its first sheet
        if ws is None:
            ws = self.workbook.create_sheet()
        ws.title = str(title)[:31]
        if header is not None:
            ws.append([str(label) for label in header])
        for row in rows:
            ws.append(list(row))
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        self._sheets.append(ws)
        return ws

    def to_bytes(self) -> bytes:
        """The .xlsx file."""
        if self.decimal_format is not None:
            for ws in self._sheets:
                for row in ws.iter_rows():
                    for cell in row:
                        if isinstance(cell.value, Decimal):
                            cell.number_format = self.decimal_format
        out = io.BytesIO()
        self.workbook.save(out)
        return out.getvalue()
