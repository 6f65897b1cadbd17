"""core.excel: the one way the exports build a workbook — sheets in order, titles cut to 31
characters, a header row of text (or none), the rows, column widths, and Decimal cells in the
book's number format."""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook

from tuangou.core.excel import MONEY_FORMAT, Book


def test_sheets_in_order_with_their_header_rows_and_widths() -> None:
    book = Book()
    with translation.override("en"):  # lazy labels are written as text in the language of the export
        header = [gettext_lazy("Amount"), "n"]
        first = book.sheet(gettext_lazy("Orders"), header, [[Decimal("1.50"), 2]], widths=(22, 9))
    first.append(["total", 3])  # the sheet is returned for more rows
    book.sheet("x" * 40, None, ([i, str(i)] for i in range(3)))
    wb = load_workbook(io.BytesIO(book.to_bytes()))
    assert wb.sheetnames == ["Orders", "x" * 31]
    orders, second = wb.worksheets
    assert [[c.value for c in row] for row in orders.iter_rows()] == [["Amount", "n"], [1.5, 2], ["total", 3]]
    assert orders["A1"].data_type == "s" and orders["A2"].number_format == "General"
    assert (orders.column_dimensions["A"].width, orders.column_dimensions["B"].width) == (22, 9)
    assert [[c.value for c in row] for row in second.iter_rows()] == [[0, "0"], [1, "1"], [2, "2"]]


def test_decimal_cells_take_the_books_number_format() -> None:
    book = Book(decimal_format=MONEY_FORMAT)
    book.sheet("a", ["amount", "count", "float"], [[Decimal("1234.50"), 3, 1.5]])
    book.sheet("b", None, [[Decimal("2.00")]])
    wb = load_workbook(io.BytesIO(book.to_bytes()))
    a, b = wb.worksheets
    assert [a["A2"].number_format, a["B2"].number_format, a["C2"].number_format] == [MONEY_FORMAT, "General", "General"]
    assert b["A1"].number_format == MONEY_FORMAT and a["A1"].number_format == "General"
