"""The ledger: balanced, append-only, idempotent postings; the audit command's report."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tuangou.core.errors import Conflict
from tuangou.ledger import selectors
from tuangou.ledger.models import Account, LedgerTransaction, Leg
from tuangou.ledger.services import ESCROW, clearing, ledger_post

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
