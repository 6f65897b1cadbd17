"""團購業務 sales desk pages: the rep's phone pages, the department's queue, reports, printouts.

Every change goes through `salesdesk.services`; a service error is shown on the field it names.
A rep sees only their own orders (and those they pick up), the department sees all; anyone
else gets 403 on the pages and 404 on an order.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.catalog.models import Product
from tuangou.core.errors import AppError, NotFound
from tuangou.core.ownership import get_visible, has_role, visible_to
from tuangou.core.time import local_date
from tuangou.salesdesk import documents, selectors, services
from tuangou.salesdesk.models import Collection, Contact, Customer, Order, Shipment, WriteOff
from tuangou.web.forms import ServiceForm
from tuangou.web.views.backoffice import role_required

SALES = (Role.SALES_REP, Role.SALES_DEPT)
LINE_ROWS = 5


# -- forms -----------------------------------------------------------------------------------------


class TakeForm(ServiceForm):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    contact = forms.ModelChoiceField(
        label=_("Contact (may sign for the goods)"),
        queryset=Contact.objects.select_related("customer").order_by("customer__name", "name"),
        required=False,
    )
    source = forms.ChoiceField(label=_("Taken"), choices=Order.Source.choices, initial=Order.Source.DIRECT)
    agreed_due_date = forms.DateField(
        label=_("Contract payment date (if fixed)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.filter(is_active=True)  # type: ignore[attr-defined]
        products = Product.objects.filter(is_active=True)
        for i in range(LINE_ROWS):
            self.fields[f"product_{i}"] = forms.ModelChoiceField(label=_("Product"), queryset=products, required=i == 0)
            self.fields[f"quantity_{i}"] = forms.IntegerField(
                label=_("Quantity"),
                required=False,
                min_value=1,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def line_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"product_{i}"], self[f"quantity_{i}"]) for i in range(LINE_ROWS)]

    def lines(self) -> list[services.LineIn]:
        result = []
        self.rows: list[int] = []
        for i in range(LINE_ROWS):
            product = self.cleaned_data.get(f"product_{i}")
            if product is not None:
                result.append(services.LineIn(product.pk, self.cleaned_data.get(f"quantity_{i}") or 0))
                self.rows.append(i)
        return result

    def field_for(self, name: str) -> str:
        """Map a service's `lines.N.quantity` to the row's field on this form."""
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(self.rows):
            return f"{parts[2]}_{self.rows[int(parts[1])]}"
        return name


class CustomerForm(ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=Customer.Kind.choices)
    payment_terms = forms.ChoiceField(label=_("Payment terms"), choices=Customer.Terms.choices)
    settlement_day = forms.IntegerField(label=_("Contract settlement day (1–28)"), required=False)
    net_days = forms.IntegerField(label=_("Days after delivery"), required=False)
    credit_limit = forms.DecimalField(label=_("Credit limit (empty: none)"), required=False, decimal_places=2)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    contact_name = forms.CharField(label=_("Contact"), required=False, max_length=60)
    contact_phone = forms.CharField(label=_("Contact's phone"), required=False, max_length=40)


class PlaceForm(ServiceForm):
    channel = forms.ChoiceField(
        label=_("How is the order placed?"),
        choices=Order.Channel.choices,
        initial=Order.Channel.WRITTEN,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=_("Reason for a phone or SMS order"), required=False, max_length=200)


class DispatchForm(ServiceForm):
    invoice_number = forms.CharField(label=_("Invoice number"), max_length=40)
    tax_rate = forms.DecimalField(label=_("Tax rate"), initial=services.DEFAULT_TAX_RATE, decimal_places=4)
    picker = forms.ModelChoiceField(label=_("Picker and deliverer"), queryset=User.objects.none(), required=False)
    picker_reason = forms.CharField(label=_("Reason another rep delivers"), required=False, max_length=200)

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_lines = list(order.lines.select_related("product").order_by("pk"))
        reps = User.objects.filter(groups__name=Role.SALES_REP, is_active=True).order_by("name")
        self.fields["picker"].queryset = reps  # type: ignore[attr-defined]
        self.fields["picker"].initial = order.owner_id
        for ln in self.order_lines:
            self.fields[f"qty_{ln.pk}"] = forms.IntegerField(
                label=f"{ln.product.name} ({ln.product.unit})",
                min_value=0,
                max_value=ln.qty_open,
                initial=ln.qty_open,
                help_text=_("%(open)s open of %(qty)s") % {"open": ln.qty_open, "qty": ln.quantity},
            )

    def line_fields(self) -> list[Any]:
        return [self[f"qty_{ln.pk}"] for ln in self.order_lines]

    def field_for(self, name: str) -> str:
        """Map a service's `lines.N.quantity` to this form's field."""
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(self.order_lines):
            return f"qty_{self.order_lines[int(parts[1])].pk}"
        return {"picker": "picker", "lines": "__all__"}.get(name, name)


class SignForm(ServiceForm):
    receiver_name = forms.CharField(label=_("Receiver (who signs)"), max_length=60)
    receiver_phone = forms.CharField(label=_("Receiver's phone"), required=False, max_length=40)
    signature = forms.CharField(label=_("Signature"), required=False, widget=forms.HiddenInput)
    cash_received = forms.DecimalField(label=_("Cash received on signing"), required=False, decimal_places=2)


class CollectForm(ServiceForm):
    amount = forms.DecimalField(label=_("Amount collected"), decimal_places=2)
    method = forms.ChoiceField(label=_("Paid by"), choices=Collection.Method.choices)
    reference = forms.CharField(label=_("Reference (transfer or cheque number)"), required=False, max_length=80)
    accept_overpayment = forms.BooleanField(label=_("The customer paid more: accept the overpayment"), required=False)
    settle_short_reason = forms.CharField(
        label=_("Accept less as full payment — reason"), required=False, max_length=200
    )


class WriteOffForm(ServiceForm):
    amount_received = forms.DecimalField(label=_("Cash received from the rep"), decimal_places=2)
    overpaid_handling = forms.ChoiceField(label=_("Overpayment"), choices=WriteOff.Overpayment.choices, required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class ConfirmForm(ServiceForm):
    pass


class HandOverForm(ServiceForm):
    amount = forms.DecimalField(label=_("Counted"), decimal_places=2)


# -- helpers ---------------------------------------------------------------------------------------


def _show_error(form: ServiceForm, exc: AppError, mapper: Callable[[str], str] | None = None) -> None:
    """Show a service's error on the form's field for it (fields the form lacks: at the top)."""
    if mapper is not None and exc.errors:
        exc.errors = {mapper(k): v for k, v in exc.errors.items()}
    form.add_app_error(exc)


def _order(request: HttpRequest, order_id: int) -> Order:
    try:
        return get_visible(Order.objects.select_related("customer", "owner", "picker"), request.user, pk=order_id)
    except NotFound:
        raise Http404 from None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


# -- pages -----------------------------------------------------------------------------------------


@role_required(*SALES)
def home(request: HttpRequest) -> HttpResponse:
    """The rep's "my orders, next action" and the department's queue by step."""
    user = request.user
    context: dict[str, Any] = {}
    if has_role(user, Role.SALES_REP):
        context["mine"] = selectors.my_orders(user)
    if has_role(user, Role.SALES_DEPT):
        context["queue"] = selectors.department_queue(user)
    context["cash"] = [
        r for r in selectors.cash_not_handed_over(user) if has_role(user, Role.SALES_DEPT) or r.rep == user
    ]
    return render(request, "web/salesdesk/home.html", context)


@role_required(Role.SALES_REP)
def order_new(request: HttpRequest) -> HttpResponse:
    """接訂單 + 登記建檔: take the order and register it at once."""
    form = TakeForm(request.POST or None, initial={"customer": request.GET.get("customer")})
    if request.method == "POST" and form.is_valid():
        try:
            order, warnings = services.order_take(
                actor=request.user,
                customer_id=form.cleaned_data["customer"].pk,
                lines=form.lines(),
                source=form.cleaned_data["source"],
                contact_id=form.cleaned_data["contact"].pk if form.cleaned_data["contact"] else None,
                agreed_due_date=form.cleaned_data["agreed_due_date"],
                notes=form.cleaned_data["notes"],
            )
        except AppError as exc:
            _show_error(form, exc, form.field_for)
        else:
            for w in warnings:
                messages.warning(request, w)
            messages.success(request, _g("Order %(number)s registered.") % {"number": order.number})
            return redirect("web:salesdesk_order", order_id=order.pk)
    return render(request, "web/salesdesk/order_new.html", {"form": form})


@role_required(*SALES)
def order_page(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    steps = selectors.order_steps(order)
    shipments = list(order.shipments.select_related("invoice", "picker").order_by("pk"))
    collections = list(order.collections.select_related("hand_over", "collected_by").order_by("pk"))
    # Each document attached to a transition links to its printout where there is one.
    links: dict[tuple[str, str], str] = {}
    for s in shipments:
        note = reverse("web:salesdesk_delivery_note", args=[s.pk])
        links[("delivery_note", s.number)] = links[("receipt_signed", s.number)] = note
    for c in collections:
        links[("payment_voucher", c.number)] = reverse("web:salesdesk_receipt", args=[c.pk])
    links[("written_order", order.number or "")] = reverse("web:salesdesk_order_form", args=[order.pk])
    links[("register", order.number or "")] = reverse("web:salesdesk_register") + f"?number={order.number}"
    for step in steps:
        for doc in step.documents:
            doc["url"] = links.get((doc["code"], doc["ref"]), "")
            doc["title"] = str(selectors.SALES_ORDER.document_by_code[doc["code"]].title)
    return render(
        request,
        "web/salesdesk/order.html",
        {
            "order": order,
            "lines": order.lines.select_related("product").order_by("pk"),
            "shipments": shipments,
            "collections": collections,
            "steps": steps,
            "diagram": selectors.order_diagram(order, steps),
            "next_action": selectors.next_action(order, request.user),
        },
    )


STEP_FORMS: dict[str, tuple[type[ServiceForm], Any]] = {
    "register": (ConfirmForm, _("Register in the sales register")),
    "place": (PlaceForm, _("Place the order with the department")),
    "dispatch": (DispatchForm, _("Invoice and ship")),
    "sign": (SignForm, _("Customer receives and signs")),
    "collect": (CollectForm, _("Collect payment")),
    "write_off": (WriteOffForm, _("Receive the money and write off")),
    "file": (ConfirmForm, _("File in the register (銷售業務備案)")),
    "record_performance": (ConfirmForm, _("Record product sales and performance (團購部備案)")),
}


def _perform(step: str, order: Order, user: Any, data: dict[str, Any]) -> None:
    pk = order.pk
    if step == "register":
        services.order_register(order_id=pk, actor=user)
    elif step == "place":
        services.order_place(order_id=pk, actor=user, channel=data["channel"], reason=data["reason"])
    elif step == "dispatch":
        quantities = {int(k[4:]): v for k, v in data.items() if k.startswith("qty_")}
        services.order_dispatch(
            order_id=pk,
            actor=user,
            invoice_number=data["invoice_number"],
            tax_rate=data["tax_rate"],
            quantities=quantities,
            picker_id=data["picker"].pk if data.get("picker") else None,
            picker_reason=data["picker_reason"],
        )
    elif step == "sign":
        raw = data.get("signature") or ""
        try:
            png = base64.b64decode(raw.split(",", 1)[-1], validate=True) if raw else b""
        except (binascii.Error, ValueError):
            png = b""
        services.order_sign(
            order_id=pk,
            actor=user,
            receiver_name=data["receiver_name"],
            receiver_phone=data["receiver_phone"],
            signature=png,
            cash_received=data.get("cash_received"),
        )
    elif step == "collect":
        services.order_collect(
            order_id=pk,
            actor=user,
            amount=data["amount"],
            method=data["method"],
            reference=data["reference"],
            accept_overpayment=data["accept_overpayment"],
            settle_short_reason=data["settle_short_reason"],
        )
    elif step == "write_off":
        services.order_write_off(
            order_id=pk,
            actor=user,
            amount_received=data["amount_received"],
            overpaid_handling=data["overpaid_handling"],
            note=data["note"],
        )
    elif step == "file":
        services.order_file(order_id=pk, actor=user)
    elif step == "record_performance":
        services.order_record_performance(order_id=pk, actor=user)


@role_required(*SALES)
def order_step(request: HttpRequest, order_id: int, step: str) -> HttpResponse:
    if step not in STEP_FORMS:
        raise Http404
    order = _order(request, order_id)
    form_class, title = STEP_FORMS[step]
    kwargs: dict[str, Any] = {"order": order} if form_class is DispatchForm else {}
    initial: dict[str, Any] = {}
    if step == "collect":
        initial = {"amount": max(order.amount_total - order.amount_collected, Decimal("0.00"))}
    elif step == "write_off":
        initial = {"amount_received": order.cash_with_rep}
    elif step == "sign":
        initial = {"receiver_name": order.contact.name if order.contact else ""}
        completes = not order.lines.filter(qty_shipped__lt=F("quantity")).exists()
        if completes and not order.customer.is_credit:
            initial["cash_received"] = order.amount_total - order.amount_collected
    form = form_class(request.POST if request.method == "POST" else None, initial=initial, **kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            _perform(step, order, request.user, form.cleaned_data)
        except AppError as exc:
            mapper = form.field_for if isinstance(form, DispatchForm) else None
            _show_error(form, exc, mapper)
        else:
            messages.success(request, _g("Done: %(step)s.") % {"step": title})
            return redirect("web:salesdesk_order", order_id=order.pk)
    return render(
        request,
        "web/salesdesk/step.html",
        {
            "order": order,
            "form": form,
            "step": step,
            "title": title,
            "allowed": selectors.next_action(order, request.user) == step,
            "open_shipment": order.shipments.filter(signed_at__isnull=True).first(),
            "outstanding": order.amount_total - order.amount_collected,
        },
    )


@role_required(*SALES)
def register_ledger(request: HttpRequest) -> HttpResponse:
    """團購渠道銷售登記表 with filters; ?format=xlsx exports what is shown."""
    g = request.GET
    qs = selectors.register_ledger(
        request.user,
        state=g.get("state", ""),
        customer=g.get("customer", "").strip(),
        owner_id=int(g["owner"]) if g.get("owner", "").isdigit() else None,
        date_from=_date(g.get("from")),
        date_to=_date(g.get("to")),
        number=g.get("number", "").strip(),
    )
    if g.get("format") == "xlsx":
        return _xlsx_response(documents.register_xlsx(qs), "register.xlsx")
    reps = (
        User.objects.filter(groups__name=Role.SALES_REP).order_by("name")
        if has_role(request.user, Role.SALES_DEPT)
        else []
    )
    return render(
        request,
        "web/salesdesk/register.html",
        {"orders": qs[:500], "states": Order._meta.get_field("state").choices, "reps": reps, "q": g},
    )


def _xlsx_response(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@role_required(*SALES)
def reports(request: HttpRequest) -> HttpResponse:
    g = request.GET
    today = local_date()
    date_to = _date(g.get("to")) or today
    date_from = _date(g.get("from")) or date_to.replace(day=1)
    context = {
        "aging": selectors.receivables_aging(request.user),
        "overdue": [(o, selectors.days_overdue(o, today)) for o in selectors.overdue_orders(user=request.user)],
        "cash": selectors.cash_not_handed_over(request.user),
        "performance": selectors.rep_performance(date_from=date_from, date_to=date_to, user=request.user),
        "product_sales": selectors.product_sales(date_from=date_from, date_to=date_to, user=request.user),
        "step_times": selectors.step_times(),
        "date_from": date_from,
        "date_to": date_to,
        "is_dept": has_role(request.user, Role.SALES_DEPT),
    }
    if g.get("format") == "xlsx":
        return _xlsx_response(documents.reports_xlsx(context), "salesdesk-reports.xlsx")
    return render(request, "web/salesdesk/reports.html", context)


@role_required(Role.SALES_DEPT)
def hand_over(request: HttpRequest, rep_id: int) -> HttpResponse:
    """交款: the department counts a rep's cash and receives it."""
    rows = [r for r in selectors.cash_not_handed_over(request.user) if r.rep.pk == rep_id]
    if not rows:
        raise Http404
    row = rows[0]
    form = HandOverForm(request.POST or None, initial={"amount": row.amount})
    if request.method == "POST" and form.is_valid():
        try:
            record = services.collections_hand_over(
                actor=request.user,
                rep_id=rep_id,
                collection_ids=[c.pk for c in row.collections],
                amount=form.cleaned_data["amount"],
            )
        except AppError as exc:
            form.add_app_error(exc)
        else:
            messages.success(request, _g("Hand-over %(number)s received.") % {"number": record.number})
            return redirect(reverse("web:salesdesk_reports") + "#cash")
    return render(request, "web/salesdesk/hand_over.html", {"row": row, "form": form})


@role_required(*SALES)
def customers(request: HttpRequest) -> HttpResponse:
    open_orders = Q(orders__written_off_at__isnull=True)
    qs = visible_to(
        Customer.objects.filter(is_active=True)
        .prefetch_related("contacts")
        .annotate(exposure=Sum(F("orders__amount_total") - F("orders__amount_collected"), filter=open_orders)),
        request.user,
    )
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(contacts__name__icontains=q)).distinct()
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            customer = services.customer_create(
                actor=request.user,
                name=d["name"],
                kind=d["kind"],
                payment_terms=d["payment_terms"],
                settlement_day=d["settlement_day"],
                net_days=d["net_days"],
                credit_limit=d["credit_limit"],
                phone=d["phone"],
                address=d["address"],
                contacts=[(d["contact_name"], d["contact_phone"])] if d["contact_name"] else [],
            )
        except AppError as exc:
            form.add_app_error(exc)
        else:
            messages.success(request, _g("Customer %(name)s added.") % {"name": customer.name})
            return redirect("web:salesdesk_customers")
    return render(request, "web/salesdesk/customers.html", {"customers": qs, "form": form, "q": q})


@role_required(*SALES)
def products(request: HttpRequest) -> HttpResponse:
    """The catalogue as the desk sees it: unit, list price and stock on hand."""
    qs = visible_to(Product.objects.filter(is_active=True), request.user)
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q))
    return render(request, "web/salesdesk/products.html", {"products": qs, "q": q})


# -- printouts -------------------------------------------------------------------------------------


def _pdf(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@role_required(*SALES)
def order_form_pdf(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    return _pdf(documents.order_form_pdf(order), f"order-{order.number or order.pk}.pdf")


def _shipment(request: HttpRequest, shipment_id: int) -> Shipment:
    shipment = Shipment.objects.select_related("order").filter(pk=shipment_id).first()
    if shipment is None:
        raise Http404
    _order(request, shipment.order_id)
    return shipment


@role_required(*SALES)
def delivery_note_pdf(request: HttpRequest, shipment_id: int) -> HttpResponse:
    shipment = _shipment(request, shipment_id)
    return _pdf(documents.delivery_note_pdf(shipment), f"delivery-{shipment.number}.pdf")


@role_required(*SALES)
def signature_png(request: HttpRequest, shipment_id: int) -> HttpResponse:
    shipment = _shipment(request, shipment_id)
    if not shipment.signature:
        raise Http404
    return HttpResponse(bytes(shipment.signature), content_type="image/png")


@role_required(*SALES)
def receipt_pdf(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = Collection.objects.select_related("order").filter(pk=collection_id).first()
    if collection is None:
        raise Http404
    _order(request, collection.order_id)
    return _pdf(documents.receipt_pdf(collection), f"receipt-{collection.number}.pdf")


@role_required(*SALES)
def diagram_svg(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    return HttpResponse(selectors.order_diagram(order), content_type="image/svg+xml")


urlpatterns = [
    path("salesdesk/", home, name="salesdesk"),
    path("salesdesk/orders/new/", order_new, name="salesdesk_order_new"),
    path("salesdesk/orders/<int:order_id>/", order_page, name="salesdesk_order"),
    path("salesdesk/orders/<int:order_id>/diagram.svg", diagram_svg, name="salesdesk_diagram"),
    path("salesdesk/orders/<int:order_id>/order-form.pdf", order_form_pdf, name="salesdesk_order_form"),
    path("salesdesk/orders/<int:order_id>/<slug:step>/", order_step, name="salesdesk_step"),
    path("salesdesk/deliveries/<int:shipment_id>/note.pdf", delivery_note_pdf, name="salesdesk_delivery_note"),
    path("salesdesk/deliveries/<int:shipment_id>/signature.png", signature_png, name="salesdesk_signature"),
    path("salesdesk/receipts/<int:collection_id>.pdf", receipt_pdf, name="salesdesk_receipt"),
    path("salesdesk/register/", register_ledger, name="salesdesk_register"),
    path("salesdesk/reports/", reports, name="salesdesk_reports"),
    path("salesdesk/hand-over/<int:rep_id>/", hand_over, name="salesdesk_hand_over"),
    path("salesdesk/customers/", customers, name="salesdesk_customers"),
    path("salesdesk/products/", products, name="salesdesk_products"),
]
