"""The ledger: balanced, append-only, idempotent postings; the audit command's report."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tuangou.core.errors import Conflict
from tuangou.ledger import selectors
from tuangou.ledger.checks import run_all
from tuangou.ledger.models import Account, LedgerTransaction, Leg
from tuangou.ledger.services import ESCROW, Posting, clearing, ledger_post, ledger_post_many, merchant

pytestmark = pytest.mark.django_db


def test_post_balances_and_is_idempotent_by_key() -> None:
    legs = [(clearing("sandbox"), Decimal("19.90")), (ESCROW, Decimal("-19.90"))]
    first = ledger_post(key="capture:1", kind="capture", legs=legs, order_id=7)
    again = ledger_post(key="capture:1", kind="capture", legs=legs, order_id=7)
    assert first.pk == again.pk and Leg.objects.count() == 2
    assert selectors.balance(ESCROW, order_id=7) == Decimal("-19.90")
    assert selectors.balance(clearing("sandbox")) == Decimal("19.90")


def test_unbalanced_and_float_postings_are_refused() -> None:
    with pytest.raises(Conflict):
        ledger_post(key="bad", kind="x", legs=[(ESCROW, Decimal("1.00")), ("commission", Decimal("-0.99"))])
    with pytest.raises(TypeError):
        ledger_post(key="float", kind="x", legs=[(ESCROW, 1.0), ("commission", -1.0)])  # type: ignore[list-item]
    assert LedgerTransaction.objects.count() == 0


def test_append_only() -> None:
    txn = ledger_post(key="k", kind="x", legs=[(ESCROW, Decimal("-5")), (clearing("alipay"), Decimal("5"))])
    with pytest.raises(Conflict):
        txn.save()
    with pytest.raises(Conflict):
        Leg.objects.all().update(amount=Decimal("1"))
    with pytest.raises(Conflict):
        LedgerTransaction.objects.all().delete()


def test_audit_passes_then_reports_a_break(capsys) -> None:
    ledger_post(key="k", kind="x", legs=[(ESCROW, Decimal("-5")), (clearing("alipay"), Decimal("5"))])
    call_command("audit")
    assert "audit: no breaks" in capsys.readouterr().out
    # a leg written behind the service's back unbalances a transaction
    broken = LedgerTransaction.objects.create(key="raw", kind="x")
    Leg.objects.create(transaction=broken, account=Account.objects.get(code=ESCROW), amount=Decimal("-3.00"))
    with pytest.raises(CommandError):
        call_command("audit")
    out = capsys.readouterr().out
    assert "BREAK ledger.balanced" in out and "raw" in out


def _capture(key: str, order_id: int, amount: str) -> Posting:
    return Posting(
        key=key,
        kind="capture",
        order_id=order_id,
        legs=[(clearing("sandbox"), Decimal(amount)), (ESCROW, -Decimal(amount))],
        memo="m" * 300,
    )


def test_post_many_writes_each_balanced_transaction_once() -> None:
    legs = [(clearing("sandbox"), Decimal("5")), (ESCROW, Decimal("-5"))]
    ledger_post(key="capture:1", kind="capture", legs=legs, order_id=1)
    made = ledger_post_many([_capture("capture:1", 1, "5.00"), _capture("capture:2", 2, "19.90")])
    assert list(made) == ["capture:2"]  # the first was posted already: left as it is
    again = ledger_post_many([_capture("capture:2", 2, "19.90"), _capture("capture:3", 3, "0.10")])
    assert list(again) == ["capture:3"]
    assert LedgerTransaction.objects.count() == 3 and Leg.objects.count() == 6
    txn = LedgerTransaction.objects.get(pk=made["capture:2"])
    assert (txn.kind, txn.order_id, len(txn.memo)) == ("capture", 2, 200)
    assert {(leg.account.code, leg.amount, leg.order_id) for leg in txn.legs.select_related("account")} == {
        (clearing("sandbox"), Decimal("19.90"), 2),
        (ESCROW, Decimal("-19.90"), 2),
    }
    assert selectors.balances_by_order(ESCROW, [1, 2, 3, 4]) == {
        1: Decimal("-5.00"),
        2: Decimal("-19.90"),
        3: Decimal("-0.10"),
    }
    # the ledger's own invariants (the payments' ones ask for payments, which these have not)
    assert [(inv.name, found) for inv, found in run_all() if inv.name.startswith("ledger.") and found] == []


def test_post_many_writes_nothing_if_one_posting_does_not_balance() -> None:
    bad = Posting(key="bad", kind="x", legs=[(ESCROW, Decimal("1.00")), (merchant(1), Decimal("-0.99"))])
    with pytest.raises(Conflict):
        ledger_post_many([_capture("capture:1", 1, "5.00"), bad])
    with pytest.raises(ValueError):
        ledger_post_many([_capture("capture:1", 1, "5.00"), _capture("capture:1", 1, "5.00")])
    with pytest.raises(ValueError):
        ledger_post_many([Posting(key="one", kind="x", legs=[(ESCROW, Decimal("1.00"))])])
    assert LedgerTransaction.objects.count() == 0 and Account.objects.count() == 0
