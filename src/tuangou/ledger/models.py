"""The double-entry ledger (總帳): accounts, transactions and their legs.

Every movement of money is one `LedgerTransaction` whose `Leg`s sum to zero. Rows are only ever
added; a mistake is corrected by a new transaction, never by an edit. Balances are derived from
the legs (`selectors.balance`), never stored.

Sign convention: a leg's amount is positive for a debit and negative for a credit. Money the
platform holds for someone else (escrow, member balances, merchant payables, refunds in flight)
therefore has a negative balance; money a gateway owes the platform (clearing) is positive.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import Conflict
from tuangou.core.money import MoneyField


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise Conflict(_("The ledger is append-only."), code="ledger_append_only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise Conflict(_("The ledger is append-only."), code="ledger_append_only")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise Conflict(_("The ledger is append-only."), code="ledger_append_only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise Conflict(_("The ledger is append-only."), code="ledger_append_only")


class Account(models.Model):
    """帳戶: one place money can be. Codes are structured: `escrow`, `clearing:alipay`,
    `member:42` (站內餘額), `merchant:7` (應付商家), `commission`, `refunds_in_flight`."""

    class Kind(models.TextChoices):
        CLEARING = "clearing", _("Gateway clearing")
        ESCROW = "escrow", _("Escrow of buyers' money")
        MEMBER_BALANCE = "member", _("Member balance")
        MERCHANT_PAYABLE = "merchant", _("Merchant payable")
        COMMISSION = "commission", _("Platform commission")
        REFUNDS_IN_FLIGHT = "refunds_in_flight", _("Refunds in flight")
        PAID_OUT = "paid_out", _("Paid out to merchants")

    code = models.CharField(_("code"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class LedgerTransaction(AppendOnly):
    """分錄: one movement of money. `key` makes posting idempotent: the same key posts once."""

    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=40, db_index=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True, db_index=True)
    payment_id = models.BigIntegerField(_("payment"), null=True, blank=True, db_index=True)
    refund_id = models.BigIntegerField(_("refund"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Leg(AppendOnly):
    """分錄行: a debit (positive) or credit (negative) of one account in one transaction.

    `order_id` is repeated on the leg so a single order's money can be followed through escrow.
    """

    transaction = models.ForeignKey(
        LedgerTransaction, verbose_name=_("transaction"), related_name="legs", on_delete=models.PROTECT
    )
    account = models.ForeignKey(Account, verbose_name=_("account"), related_name="legs", on_delete=models.PROTECT)
    amount = MoneyField(_("amount"))
    order_id = models.BigIntegerField(_("order"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("ledger leg")
        verbose_name_plural = _("ledger legs")
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_leg_nonzero")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"
