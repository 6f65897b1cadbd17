"""Payments into escrow (支付), their notifications (支付通知), refunds (退款) and invoice requests (發票).

Money itself is never stored here as a balance: every movement is a ledger transaction. These rows
are the gateway side of the story (what we asked for, what the gateway said), so that `tuangou
audit` can compare them with the ledger.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.core.money import MoneyField
from tuangou.core.workflow.engine import StateField
from tuangou.payments.process import PAYMENT, REFUND


class Payment(models.Model):
    """支付單: one attempt to pay one order (or top up a balance) through one gateway.

    `out_trade_no` is our number at the gateway (商戶訂單號); it never changes.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the gateway")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")
        CLOSED = "closed", _("Closed")

    class Purpose(models.TextChoices):
        ORDER = "order", _("Order")
        TOPUP = "topup", _("Balance top-up")

    out_trade_no = models.CharField(_("merchant trade number"), max_length=64, unique=True)
    purpose = models.CharField(_("purpose"), max_length=8, choices=Purpose.choices, default=Purpose.ORDER)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True, db_index=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("buyer"), related_name="payments", on_delete=models.PROTECT
    )
    subject = models.CharField(_("subject"), max_length=128)
    amount = MoneyField(_("amount"))
    provider = models.CharField(_("provider"), max_length=20, db_index=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    status = StateField(_("status"), process=PAYMENT)
    gateway_trade_no = models.CharField(_("gateway trade number"), max_length=64, blank=True)
    start_data = models.JSONField(_("start data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return self.out_trade_no

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.FINANCE, Role.OPERATOR):
            return Q()
        return Q(buyer=user)


class Notification(models.Model):
    """支付通知: every inbound gateway notification, stored before anything else happens.

    A verified notification is applied at most once: (provider, key) is unique among verified
    rows, where key is the gateway's own identifier (Alipay notify_id, WeChat Pay notification
    id, sandbox notify_id). Rejected ones are kept for the record under a key of their own so a
    forged request cannot block the real one.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        DUPLICATE = "duplicate", _("Duplicate (already applied)")
        REJECTED = "rejected", _("Rejected")
        IGNORED = "ignored", _("Ignored (not a success)")
        REFUNDED = "refunded", _("Late payment, refunded")

    provider = models.CharField(_("provider"), max_length=20)
    key = models.CharField(_("gateway notification id"), max_length=128)
    verified = models.BooleanField(_("verified"), default=False)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        null=True,
        blank=True,
        related_name="notifications",
        on_delete=models.PROTECT,
    )
    body = models.TextField(_("body"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("payment notification")
        verbose_name_plural = _("payment notifications")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "key"], condition=Q(verified=True), name="notification_unique_verified"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.key}"


class Refund(models.Model):
    """退款: money going back to a buyer, exactly once.

    `key` names why (e.g. ``deal_failed:order:12``): asking twice for the same reason returns the
    same refund. `out_request_no` is our refund number at the gateway (退款請求號), chosen once and
    reused on every retry, so the gateway itself refuses to pay it twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Requested")
        SENDING = "sending", _("Sent to the gateway")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Stuck: needs a retry")
        RETRYING = "retrying", _("Queued again by finance")

    class Reason(models.TextChoices):
        DEAL_FAILED = "deal_failed", _("Deal or team failed")
        TIER_DIFFERENCE = "tier_difference", _("Tier price difference")
        MEMBER_REQUEST = "member_request", _("Requested by the member")
        EXPIRED = "expired", _("Voucher expired")
        LATE_PAYMENT = "late_payment", _("Paid after the order closed")
        DOUBLE_PAYMENT = "double_payment", _("Order paid twice")
        MANUAL = "manual", _("By finance")

    class Destination(models.TextChoices):
        ORIGINAL = "original", _("Original payment method")
        BALANCE = "balance", _("Site balance")

    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    out_request_no = models.CharField(_("refund request number"), max_length=64, unique=True)
    payment = models.ForeignKey(Payment, verbose_name=_("payment"), related_name="refunds", on_delete=models.PROTECT)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True, db_index=True)
    amount = MoneyField(_("amount"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    destination = models.CharField(
        _("destination"), max_length=10, choices=Destination.choices, default=Destination.ORIGINAL
    )
    status = StateField(_("status"), process=REFUND)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    lease_until = models.DateTimeField(_("in progress until"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    gateway_refund_no = models.CharField(_("gateway refund number"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.PROTECT,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return self.out_request_no

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.FINANCE, Role.OPERATOR):
            return Q()
        return Q(payment__buyer=user)


class InvoiceRequest(models.Model):
    """發票申請: a buyer asks for a formal invoice for a paid order; finance works through them:
    requested → issued (invoice number, amount, title, tax number) → sent; or rejected with a note."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ISSUED = "issued", _("Issued")
        SENT = "sent", _("Sent")
        REJECTED = "rejected", _("Rejected")

    order_id = models.BigIntegerField(_("order"), db_index=True)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("buyer"), on_delete=models.PROTECT)
    title = models.CharField(_("invoice title"), max_length=120)
    tax_number = models.CharField(_("tax number"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"))
    amount = MoneyField(_("amount"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    note = models.CharField(_("note"), max_length=200, blank=True)
    number = models.CharField(_("invoice number"), max_length=40, blank=True)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.PROTECT,
    )
    sent_at = models.DateTimeField(pgettext_lazy("time", "sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice request")
        verbose_name_plural = _("invoice requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="invoice_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title} #{self.order_id}"

    @classmethod
    def owned_by(cls, user: Any) -> Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.FINANCE, Role.OPERATOR):
            return Q()
        return Q(buyer=user)


class SandboxTrade(models.Model):
    """沙箱交易: the sandbox gateway's own record of a trade (its side, not ours)."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for the buyer")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        CLOSED = "closed", _("Closed")

    out_trade_no = models.CharField(_("merchant trade number"), max_length=64, unique=True)
    trade_no = models.CharField(_("sandbox trade number"), max_length=64, unique=True)
    notify_id = models.CharField(_("notification id"), max_length=64, blank=True)
    subject = models.CharField(_("subject"), max_length=128)
    amount = MoneyField(_("amount"))
    return_url = models.CharField(_("return URL"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.WAITING)
    notify_attempts = models.PositiveIntegerField(_("notification attempts"), default=0)
    next_notify_at = models.DateTimeField(_("next notification"), null=True, blank=True, db_index=True)
    acked_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox trade")
        verbose_name_plural = _("sandbox trades")

    def __str__(self) -> str:
        return self.trade_no


class SandboxRefund(models.Model):
    """沙箱退款: the sandbox's record of a refund; one per refund request number."""

    trade = models.ForeignKey(SandboxTrade, verbose_name=_("trade"), related_name="refunds", on_delete=models.PROTECT)
    out_request_no = models.CharField(_("refund request number"), max_length=64, unique=True)
    refund_no = models.CharField(_("sandbox refund number"), max_length=64, unique=True)
    amount = MoneyField(_("amount"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox refund")
        verbose_name_plural = _("sandbox refunds")

    def __str__(self) -> str:
        return self.refund_no
