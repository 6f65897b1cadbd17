"""Printouts of the sales desk: order form (書面訂單), delivery note with signature (送貨單/簽收單),
receipt (收款憑證) as PDF, and the register and reports as Excel.

The PDFs use reportlab's built-in CID fonts (MSung-Light for Traditional, STSong-Light for
Simplified Chinese): the viewer supplies the glyphs, so no font file is needed on the server.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, A5, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tuangou.core.excel import Book
from tuangou.core.models import SiteSettings
from tuangou.core.money import format_yuan
from tuangou.salesdesk.models import Collection, Order, Shipment

_registered: set[str] = set()


def _font() -> str:
    name = "STSong-Light" if (translation.get_language() or "").lower() in {"zh-hans", "zh-cn"} else "MSung-Light"
    if name not in _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(name))
        _registered.add(name)
    return name


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _styles() -> tuple[ParagraphStyle, ParagraphStyle, ParagraphStyle]:
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=4 * mm)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=11, textColor=colors.grey)
    return title, body, small


def _table(rows: list[list[Any]], widths: list[float] | None = None, header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), _font()),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")))
    table.setStyle(TableStyle(style))
    return table


def _build(story: list[Any], pagesize: tuple[float, float] = A4) -> bytes:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=12 * mm, bottomMargin=12 * mm
    )
    doc.build(story)
    return buffer.getvalue()


def _head(order: Order, heading: str) -> list[Any]:
    title, _body, _small = _styles()
    site = SiteSettings.current().name
    return [
        Paragraph(f"{site} · {heading}", title),
        _table(
            [
                [_("Register number"), order.number or "", _("Date"), _local(order.registered_at or order.taken_at)],
                [_("Customer"), order.customer.name, _("Sales rep"), str(order.owner)],
                [_("Address"), order.customer.address, _("Phone"), order.customer.phone],
            ],
            widths=[28 * mm, 62 * mm, 28 * mm, 62 * mm],
            header=False,
        ),
        Spacer(1, 4 * mm),
    ]


def order_form_pdf(order: Order) -> bytes:
    """書面訂單: what the rep places with the department."""
    _title, body, small = _styles()
    rows: list[list[Any]] = [[_("Product"), _("Unit"), _("Quantity"), _("Unit price"), _("Amount")]]
    for ln in order.lines.select_related("product").order_by("pk"):
        rows.append([ln.product.name, ln.product.unit, ln.quantity, format_yuan(ln.unit_price), format_yuan(ln.amount)])
    rows.append([_("Total"), "", "", "", format_yuan(order.amount_total)])
    story = _head(order, _("Order form"))
    story += [
        _table(rows, widths=[70 * mm, 20 * mm, 25 * mm, 30 * mm, 35 * mm]),
        Spacer(1, 4 * mm),
        Paragraph(
            _("Payment terms: %(terms)s. Channel: %(channel)s %(reason)s")
            % {
                "terms": order.customer.get_payment_terms_display(),
                "channel": order.get_channel_display() or _("Written order"),
                "reason": order.channel_reason,
            },
            body,
        ),
        Spacer(1, 12 * mm),
        _table(
            [[_("Sales rep (signature)"), "", _("Department (signature)"), ""]],
            widths=[35 * mm, 55 * mm, 35 * mm, 55 * mm],
            header=False,
        ),
        Spacer(1, 4 * mm),
        Paragraph(_("The rep who places this order owns it and is responsible for collecting the money."), small),
    ]
    return _build(story)


def delivery_note_pdf(shipment: Shipment) -> bytes:
    """送貨單, and once signed the 簽收單: receiver, time and the signature image."""
    _title, body, _small = _styles()
    order = shipment.order
    rows: list[list[Any]] = [[_("Product"), _("Unit"), _("Quantity"), _("Unit price"), _("Amount")]]
    for sl in shipment.lines.select_related("order_line__product").order_by("pk"):
        ln = sl.order_line
        rows.append(
            [
                ln.product.name,
                ln.product.unit,
                sl.quantity,
                format_yuan(ln.unit_price),
                format_yuan(ln.unit_price * sl.quantity),
            ]
        )
    rows.append([_("Total"), "", "", "", format_yuan(shipment.amount)])
    story = _head(order, _("Delivery note"))
    story += [
        Paragraph(
            _("Delivery note %(number)s · invoice %(invoice)s · picker %(picker)s")
            % {
                "number": shipment.number,
                "invoice": shipment.invoice.number if shipment.invoice else "",
                "picker": shipment.picker,
            },
            body,
        ),
        Spacer(1, 3 * mm),
        _table(rows, widths=[70 * mm, 20 * mm, 25 * mm, 30 * mm, 35 * mm]),
        Spacer(1, 6 * mm),
    ]
    signature: Any = ""
    if shipment.signature:
        reader = ImageReader(BytesIO(bytes(shipment.signature)))
        width, height = reader.getSize()
        scale = min(60 * mm / max(width, 1), 25 * mm / max(height, 1))
        signature = Image(BytesIO(bytes(shipment.signature)), width=width * scale, height=height * scale)
    story.append(
        _table(
            [
                [_("Receiver"), shipment.receiver_name, pgettext("delivery", "Signed"), _local(shipment.signed_at)],
                [_("Signature"), signature, "", ""],
            ],
            widths=[25 * mm, 70 * mm, 20 * mm, 65 * mm],
            header=False,
        )
    )
    return _build(story)


def receipt_pdf(collection: Collection) -> bytes:
    """收款憑證: what the rep collected, how, and for which order."""
    _title, body, small = _styles()
    order = collection.order
    story = _head(order, _("Receipt"))
    story += [
        _table(
            [
                [_("Receipt number"), collection.number],
                [_("Amount"), format_yuan(collection.amount)],
                [_("Paid by"), collection.get_method_display()],
                [_("Reference"), collection.reference],
                [_("Collected by"), str(collection.collected_by)],
                [pgettext("time", "Collected"), _local(collection.collected_at)],
                [_("Order total"), format_yuan(order.amount_total)],
            ],
            widths=[40 * mm, 100 * mm],
            header=False,
        ),
        Spacer(1, 10 * mm),
        Paragraph(_("Received with thanks."), body),
        Paragraph(_("Keep this receipt until the order is written off."), small),
    ]
    return _build(story, pagesize=landscape(A5))


# -- Excel -----------------------------------------------------------------------------------------


def register_xlsx(orders: QuerySet[Order]) -> bytes:
    """團購渠道銷售登記表 as the familiar spreadsheet."""
    book = Book()
    book.sheet(
        _("Sales register"),
        [
            _("Register number"), _("Registered"), _("Customer"), _("Sales rep"), _("Channel"), _("Picker"),
            _("Total"), _("Delivered"), _("Invoiced"), _("Collected"), _("Handed over"), _("Written off"),
            _("Payment due"), _("Step"),
        ],
        (
            [
                o.number, _local(o.registered_at), o.customer.name, str(o.owner), o.get_channel_display(),
                str(o.picker or ""), o.amount_total, o.amount_delivered, o.amount_invoiced, o.amount_collected,
                o.amount_handed_over, o.amount_written_off, o.due_date, o.get_state_display(),
            ]
            for o in orders
        ),
    )  # fmt: skip
    return book.to_bytes()


def reports_xlsx(context: dict[str, Any]) -> bytes:
    book = Book()
    book.sheet(
        _("Receivables aging"),
        [_("Bucket"), _("Register number"), _("Customer"), _("Payment due"), _("Receivable")],
        (
            [str(b["title"]), o.number, o.customer.name, o.due_date, o.receivable]
            for b in context["aging"]["buckets"]
            for o in b["orders"]
        ),
    )
    book.sheet(
        _("Overdue"),
        [_("Register number"), _("Customer"), _("Sales rep"), _("Payment due"), _("Days overdue"), _("Receivable")],
        ([o.number, o.customer.name, str(o.owner), o.due_date, days, o.receivable] for o, days in context["overdue"]),
    )
    book.sheet(
        _("Cash not handed over"),
        [_("Sales rep"), _("Amount"), _("Receipts"), _("Oldest"), _("Age (hours)")],
        ([str(r.rep), r.amount, r.count, _local(r.oldest), r.age_hours] for r in context["cash"]),
    )
    book.sheet(
        _("Rep performance"),
        [_("Rank"), _("Sales rep"), _("Sales"), _("Orders")],
        ([r["rank"], str(r["rep"]), r["amount"], r["orders"]] for r in context["performance"]),
    )
    book.sheet(
        _("Product sales"),
        [_("Product"), _("Unit"), _("Quantity"), _("Amount")],
        ([r["product"].name, r["product"].unit, r["quantity"], r["amount"]] for r in context["product_sales"]),
    )
    return book.to_bytes()
