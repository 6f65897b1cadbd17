"""團購業務銷售 (S1): customers, orders and the records each step of the flow leaves.

An order's *progress* is the declared S1 process (`process.SALES_ORDER`, field ``state``),
moved only by the engine's transition call from `services`. Beside it, as in Odoo's sale
order, three separate axes say how far the goods, the invoices and the money have got:

- fulfilment: what was shipped and what the customer signed for (partial deliveries);
- invoicing: what was invoiced;
- payment: what the rep collected, handed over to the department and the department wrote
  off, with under- and over-payment recorded explicitly.

The amounts on `Order` are counters kept by the services (with `F()`); the rows below them
(shipments, invoices, collections, hand-overs, write-offs) are the records behind them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.catalog.models import PriceList, Product
from tuangou.core.money import ZERO, MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.salesdesk.process import SALES_ORDER


def _sales_staff_q(user: Any) -> models.Q:
    from tuangou.accounts.roles import Role
    from tuangou.core.ownership import has_role

    return models.Q() if has_role(user, Role.SALES_REP, Role.SALES_DEPT) else models.Q(pk__in=[])


class Customer(models.Model):
    """團購客戶: a company (單位) or a person buying in bulk, with payment terms and a credit limit."""

    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        PERSON = "person", _("Person")

    class Terms(models.TextChoices):
        CASH = "cash", _("Cash on delivery")
        CONTRACT_DATE = "contract_date", _("Periodic settlement on the contract date")
        NET_DAYS = "net_days", _("Periodic settlement N days after delivery")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.COMPANY)
    name = models.CharField(_("name"), max_length=120)
    tax_number = models.CharField(_("tax number"), max_length=40, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    payment_terms = models.CharField(_("payment terms"), max_length=16, choices=Terms.choices, default=Terms.CASH)
    settlement_day = models.PositiveSmallIntegerField(
        _("contract settlement day"),
        null=True,
        blank=True,
        help_text=_("Day of the month (1–28) payment is due"),
    )
    net_days = models.PositiveSmallIntegerField(_("days after delivery"), null=True, blank=True)
    credit_limit = MoneyField(_("credit limit"), null=True, blank=True, help_text=_("Empty: no credit limit"))
    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), null=True, blank=True, on_delete=models.SET_NULL
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(payment_terms="contract_date")
                | models.Q(settlement_day__gte=1, settlement_day__lte=28),
                name="salesdesk_customer_contract_day",
            ),
            models.CheckConstraint(
                condition=~models.Q(payment_terms="net_days") | models.Q(net_days__gte=1),
                name="salesdesk_customer_net_days",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_credit(self) -> bool:
        return self.payment_terms != self.Terms.CASH

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        return _sales_staff_q(user)


class Contact(models.Model):
    """聯繫人: a person at the customer; may be named to sign for the goods (客戶指定人員)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=60)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    title = models.CharField(pgettext_lazy("job", "position"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["customer", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer})"


class LedgerCounter(models.Model):
    """The last number given out in a numbered book: the 團購渠道銷售登記表 of a year, hand-overs …"""

    key = models.CharField(_("book"), max_length=30, primary_key=True)
    last = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("register counter")
        verbose_name_plural = _("register counters")

    def __str__(self) -> str:
        return f"{self.key}: {self.last}"


class Order(models.Model):
    """團購訂單 and its line in the 團購渠道銷售登記表 (the registration ledger).

    The rep who places it is its owner (本單團購業務) and is responsible for the money
    (收款責任人). `number` is the ledger number, given once when the order is registered.
    """

    class Source(models.TextChoices):
        CUSTOMER_SERVICE = "customer_service", _("From customer service")
        DIRECT = "direct", _("Taken directly")

    class Channel(models.TextChoices):
        WRITTEN = "written", _("Written order")
        PHONE = "phone", _("Phone (exception)")
        SMS = "sms", _("SMS (exception)")

    class Fulfilment(models.TextChoices):
        NONE = "none", _("Not delivered")
        PARTIAL = "partial", _("Partly delivered")
        DELIVERED = "delivered", _("Delivered")

    class Invoicing(models.TextChoices):
        NONE = "none", _("Not invoiced")
        PARTIAL = "partial", _("Partly invoiced")
        INVOICED = "invoiced", _("Invoiced")

    class Payment(models.TextChoices):
        UNPAID = "unpaid", _("Unpaid")
        PARTIAL = "partial", _("Partly paid")
        PAID = "paid", _("Paid")
        SHORT = "short", _("Settled short (under-payment accepted)")
        OVERPAID = "overpaid", _("Overpaid")
        WRITTEN_OFF = "written_off", _("Written off")

    number = models.CharField(_("register number"), max_length=20, unique=True, null=True, blank=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sales rep (owner, responsible for collection)"),
        on_delete=models.PROTECT,
        related_name="salesdesk_orders",
    )
    source = models.CharField(_("taken"), max_length=20, choices=Source.choices, default=Source.DIRECT)
    state = StateField(_("step"), process=SALES_ORDER)
    channel = models.CharField(_("order channel"), max_length=10, choices=Channel.choices, blank=True)
    channel_reason = models.CharField(_("reason for a phone or SMS order"), max_length=200, blank=True)
    picker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("picker and deliverer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="salesdesk_pickups",
    )
    picker_reason = models.CharField(_("reason another rep delivers"), max_length=200, blank=True)
    agreed_due_date = models.DateField(_("contract payment date"), null=True, blank=True)
    due_date = models.DateField(_("payment due"), null=True, blank=True, db_index=True)
    credit_warning = models.BooleanField(_("over the credit limit"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True, editable=False)

    amount_total = MoneyField(_("order total"), default=ZERO)
    amount_delivered = MoneyField(_("delivered value"), default=ZERO)
    amount_invoiced = MoneyField(_("invoiced"), default=ZERO)
    amount_collected = MoneyField(_("collected"), default=ZERO)
    amount_handed_over = MoneyField(_("handed over"), default=ZERO)
    amount_written_off = MoneyField(_("written off"), default=ZERO)
    amount_short = MoneyField(_("under-payment accepted"), default=ZERO)
    short_reason = models.CharField(_("reason for the under-payment"), max_length=200, blank=True)
    fulfilment_status = models.CharField(
        _("delivery"), max_length=10, choices=Fulfilment.choices, default=Fulfilment.NONE
    )
    invoice_status = models.CharField(_("invoicing"), max_length=10, choices=Invoicing.choices, default=Invoicing.NONE)
    payment_status = models.CharField(_("payment"), max_length=12, choices=Payment.choices, default=Payment.UNPAID)

    taken_at = models.DateTimeField(pgettext_lazy("time", "taken"), auto_now_add=True)
    registered_at = models.DateTimeField(_("registered"), null=True, blank=True)
    placed_at = models.DateTimeField(_("placed"), null=True, blank=True)
    delivered_at = models.DateTimeField(pgettext_lazy("time", "delivered"), null=True, blank=True)
    written_off_at = models.DateTimeField(_("written off at"), null=True, blank=True)
    rep_filed_at = models.DateTimeField(_("filed by the rep"), null=True, blank=True)
    dept_filed_at = models.DateTimeField(_("filed by the department"), null=True, blank=True)

    class Meta:
        verbose_name = _("group-buy sales order")
        verbose_name_plural = _("group-buy sales orders")
        ordering = ["-taken_at", "-id"]
        constraints = [
            # A write-off never exceeds what was collected, nor what was handed over.
            models.CheckConstraint(
                condition=models.Q(amount_written_off__lte=models.F("amount_handed_over")),
                name="salesdesk_writeoff_le_handed_over",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_handed_over__lte=models.F("amount_collected")),
                name="salesdesk_handed_over_le_collected",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_delivered__lte=models.F("amount_total")),
                name="salesdesk_delivered_le_total",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_invoiced__lte=models.F("amount_total")),
                name="salesdesk_invoiced_le_total",
            ),
        ]
        indexes = [models.Index(fields=["owner", "state"])]
        constraints += [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="salesdesk_order_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        """A rep sees the orders they own or pick up; the department sees all; nobody else any."""
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.SALES_DEPT):
            return models.Q()
        if has_role(user, Role.SALES_REP):
            return models.Q(owner=user) | models.Q(picker=user)
        return models.Q(pk__in=[])

    @property
    def receivable(self) -> Decimal:
        """What the customer owes for goods signed for and not yet paid."""
        return max(self.amount_delivered - self.amount_collected, ZERO)

    @property
    def cash_with_rep(self) -> Decimal:
        return self.amount_collected - self.amount_handed_over

    @property
    def overpaid(self) -> Decimal:
        return max(self.amount_collected - self.amount_total, ZERO)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"))
    amount = MoneyField(_("amount"))
    qty_shipped = models.PositiveIntegerField(_("shipped"), default=0)
    qty_delivered = models.PositiveIntegerField(_("delivered"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="salesdesk_line_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(qty_shipped__lte=models.F("quantity")),
                name="salesdesk_line_shipped_le_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(qty_delivered__lte=models.F("qty_shipped")),
                name="salesdesk_line_delivered_le_shipped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"

    @property
    def qty_open(self) -> int:
        return self.quantity - self.qty_shipped


class Invoice(models.Model):
    """發票: issued by the department for goods shipped (number, amount with tax, tax)."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(_("invoice number"), max_length=40, unique=True)
    amount = MoneyField(_("amount including tax"))
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4)
    tax_amount = MoneyField(_("tax"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("issued by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["issued_at", "id"]

    def __str__(self) -> str:
        return self.number


class Shipment(models.Model):
    """送貨單 and, once signed, 簽收單: one delivery of (part of) an order.

    `picker` (提貨人) picks the goods up and delivers them; `receiver_name` (收貨人) signed.
    """

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="shipments")
    number = models.CharField(_("delivery note number"), max_length=30, unique=True)
    invoice = models.ForeignKey(
        Invoice,
        verbose_name=_("invoice"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shipments",
    )
    picker = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("picker"), on_delete=models.PROTECT, related_name="+"
    )
    picker_reason = models.CharField(_("reason another rep delivers"), max_length=200, blank=True)
    amount = MoneyField(_("value"))
    shipped_at = models.DateTimeField(pgettext_lazy("time", "shipped"), auto_now_add=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("shipped by"), on_delete=models.PROTECT, related_name="+"
    )
    receiver_name = models.CharField(_("receiver"), max_length=60, blank=True)
    receiver_phone = models.CharField(_("receiver's phone"), max_length=40, blank=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    signature = models.BinaryField(_("signature (PNG)"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("delivery recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("delivery note")
        verbose_name_plural = _("delivery notes")
        ordering = ["shipped_at", "id"]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(
        Shipment, verbose_name=_("delivery note"), on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(OrderLine, verbose_name=_("order line"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("delivery note line")
        verbose_name_plural = _("delivery note lines")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="salesdesk_shipline_qty_positive")
        ]

    def __str__(self) -> str:
        return f"{self.order_line.product} × {self.quantity}"


class HandOver(models.Model):
    """交款: a rep hands collected money to the department, which counts and receives it."""

    number = models.CharField(_("hand-over number"), max_length=30, unique=True)
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), on_delete=models.PROTECT, related_name="+"
    )
    amount = MoneyField(_("amount"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("received by"), on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("hand-over")
        verbose_name_plural = _("hand-overs")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return self.number


class Collection(models.Model):
    """收款憑證: money the rep collected from the customer, and how; a receipt is printed for it."""

    class Method(models.TextChoices):
        CASH = "cash", _("Cash")
        TRANSFER = "transfer", _("Bank transfer")
        CHEQUE = "cheque", _("Cheque")
        OTHER = "other", _("Other")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="collections")
    number = models.CharField(_("receipt number"), max_length=30, unique=True)
    amount = MoneyField(_("amount"))
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, default=Method.CASH)
    reference = models.CharField(_("reference"), max_length=80, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("collected by"), on_delete=models.PROTECT, related_name="+"
    )
    collected_at = models.DateTimeField(pgettext_lazy("time", "collected"), auto_now_add=True)
    hand_over = models.ForeignKey(
        HandOver,
        verbose_name=_("hand-over"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="collections",
    )

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["collected_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="salesdesk_collection_positive")]

    def __str__(self) -> str:
        return self.number


class WriteOff(models.Model):
    """銷帳記錄: the department matches the money received against the order and closes the debt.

    `amount` is what is applied to the order (never more than was collected and handed over);
    `short` an accepted under-payment; `overpaid` money above the total and what happens to it.
    """

    class Overpayment(models.TextChoices):
        NONE = "", _("None")
        REFUND = "refund", _("Refund to the customer")
        CREDIT = "credit", _("Keep as the customer's credit")

    order = models.OneToOneField(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="write_off")
    amount = MoneyField(_("written off"))
    short = MoneyField(_("under-payment accepted"), default=ZERO)
    overpaid = MoneyField(_("overpaid"), default=ZERO)
    overpaid_handling = models.CharField(
        _("overpayment handling"), max_length=10, choices=Overpayment.choices, blank=True
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    written_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("written off by"), on_delete=models.PROTECT, related_name="+"
    )
    written_off_at = models.DateTimeField(pgettext_lazy("time", "written off"), auto_now_add=True)

    class Meta:
        verbose_name = _("write-off")
        verbose_name_plural = _("write-offs")

    def __str__(self) -> str:
        return f"{self.order} {self.amount}"


class PerformanceRecord(models.Model):
    """業績登記: the rep's sales performance, recorded by the department after write-off only."""

    order = models.OneToOneField(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="performance")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), on_delete=models.PROTECT, related_name="+"
    )
    amount = MoneyField(_("sales"))
    period = models.DateField(_("date"), db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("performance record")
        verbose_name_plural = _("performance records")
        ordering = ["-period", "-id"]

    def __str__(self) -> str:
        return f"{self.rep} {self.period} {self.amount}"


class ProductSale(models.Model):
    """產品銷售登記: products sold, recorded with the performance after write-off."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="product_sales")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = MoneyField(_("amount"))
    period = models.DateField(_("date"), db_index=True)

    class Meta:
        verbose_name = _("product sale")
        verbose_name_plural = _("product sales")
        ordering = ["-period", "-id"]

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"


class OverdueReminder(models.Model):
    """One reminder to the owner per overdue order per day (the job is idempotent by this row)."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="reminders")
    day = models.DateField(_("day"))
    sent_at = models.DateTimeField(pgettext_lazy("time", "sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("overdue reminder")
        verbose_name_plural = _("overdue reminders")
        constraints = [models.UniqueConstraint(fields=["order", "day"], name="salesdesk_one_reminder_a_day")]

    def __str__(self) -> str:
        return f"{self.order} {self.day}"
