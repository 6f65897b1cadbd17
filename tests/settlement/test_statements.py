"""Settlement math against hand-computed statements: rate, per person, settlement price, undo,
refunds; the declared process; the ledger; the Excel export."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from tests.vouchers.conftest import Shop
from tuangou.accounts.roles import Role
from tuangou.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tuangou.merchants.models import Agreement
from tuangou.settlement import services
from tuangou.settlement.models import Statement
from tuangou.vouchers import services as vouchers
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db
D = Decimal


def _period() -> tuple[dt.date, dt.date]:
    return services.period_containing("monthly", timezone.localdate())


def _verify(shop: Shop, deal: Any, n: int) -> list[Voucher]:
    done = []
    for v in Voucher.objects.filter(deal=deal, state="issued").order_by("pk")[:n]:
        done.append(vouchers.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk))
    return done


def _statement(shop: Shop, **kwargs: Any) -> Statement:
    start, end = _period()
    return services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end, **kwargs)


def test_rate_commission_on_verified_vouchers_with_an_undo(tipped: Callable[..., Any], shop: Shop) -> None:
    deal, _orders = tipped([1, 2, 1])  # 4 vouchers at 99.00; agreement: 10 %
    used = _verify(shop, deal, 3)
    vouchers.voucher_undo(actor=shop.clerk, voucher_id=used[0].pk, reason="wrong guest")
    st = _statement(shop)
    assert (st.units, st.gross, st.commission, st.refunds, st.payable) == (
        2,
        D("198.00"),
        D("19.80"),
        D("0.00"),
        D("178.20"),
    )
    assert services.statement_vouchers(st).count() == 2
    # vouchers on a statement cannot be undone any more, and are not settled twice
    with pytest.raises(Conflict):
        vouchers.voucher_undo(actor=shop.clerk, voucher_id=used[1].pk, reason="late")
    assert _statement(shop).pk == st.pk


def test_per_person_commission(tipped: Callable[..., Any], shop: Shop) -> None:
    Agreement.objects.filter(merchant=shop.merchant).update(
        commission_kind="per_person", commission_per_person=D("5.00")
    )
    deal, _orders = tipped([3])
    _verify(shop, deal, 3)
    st = _statement(shop)
    assert (st.units, st.gross, st.commission, st.payable) == (3, D("297.00"), D("15.00"), D("282.00"))
    assert st.commission_kind == "per_person"


def test_settlement_price_wins_over_the_rate(tipped: Callable[..., Any], shop: Shop) -> None:
    deal, _orders = tipped([2], settlement_price=D("80.00"))
    _verify(shop, deal, 2)
    st = _statement(shop)
    assert (st.gross, st.commission, st.payable) == (D("198.00"), D("38.00"), D("160.00"))


def test_rate_rounds_half_up_per_order(tipped: Callable[..., Any], shop: Shop) -> None:
    Agreement.objects.filter(merchant=shop.merchant).update(commission_rate=D("7.50"))
    deal, _orders = tipped([1, 1, 1], group_price="19.90")
    _verify(shop, deal, 3)
    st = _statement(shop)
    # 19.90 × 7.5 % = 1.4925 → 1.49 per voucher
    assert (st.gross, st.commission, st.payable) == (D("59.70"), D("4.47"), D("55.23"))


def test_sold_basis_with_a_refund_in_the_next_period(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([2, 2])
    start, end = _period()
    first = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end, basis="sold")
    assert (first.units, first.gross, first.commission, first.payable) == (4, D("396.00"), D("39.60"), D("356.40"))
    refunded = Voucher.objects.filter(order=orders[0]).first()
    assert refunded is not None
    # refunded after the first statement's cut-off: on the next period's statement
    Voucher.objects.filter(pk=refunded.pk).update(state="refunded", closed_at=timezone.now())
    next_day = end + dt.timedelta(days=1)
    second = services.statement_generate(
        merchant_id=shop.merchant.pk, period_start=next_day, period_end=next_day + dt.timedelta(days=5), basis="sold"
    )
    assert second.since == first.cut_off
    assert (second.units, second.gross, second.refund_units, second.refunds, second.commission, second.payable) == (
        0,
        D("0.00"),
        1,
        D("99.00"),
        D("-9.90"),
        D("-89.10"),
    )


def test_process_confirm_approve_pay_moves_money_in_the_ledger(
    tipped: Callable[..., Any], shop: Shop, rival: Shop, operator: Any, make_user: Callable[..., Any]
) -> None:
    from tuangou.ledger import selectors as ledger_selectors
    from tuangou.ledger import services as ledger

    deal, _orders = tipped([2])
    _verify(shop, deal, 2)
    st = _statement(shop)
    finance = make_user(Role.FINANCE)
    for stranger in (shop.clerk, rival.admin, rival.clerk):
        with pytest.raises(NotFound):
            services.statement_confirm(actor=stranger, statement_id=st.pk)
    with pytest.raises(Forbidden):
        services.statement_approve(actor=shop.admin, statement_id=st.pk)
    with pytest.raises(Conflict):
        services.statement_approve(actor=operator, statement_id=st.pk)  # not confirmed yet
    st = services.statement_confirm(actor=shop.admin, statement_id=st.pk)
    assert st.state == "confirmed" and st.confirmed_by == shop.admin
    with pytest.raises(Conflict):
        services.statement_pay(actor=finance, statement_id=st.pk, reference="X")  # approve first
    st = services.statement_approve(actor=operator, statement_id=st.pk)
    assert ledger_selectors.balance(ledger.merchant(shop.merchant.pk)) == D("-178.20")
    assert ledger_selectors.balance(ledger.COMMISSION) == D("-19.80")
    with pytest.raises(ValidationFailed):
        services.statement_pay(actor=finance, statement_id=st.pk, reference=" ")
    with pytest.raises(Forbidden):
        services.statement_pay(actor=operator, statement_id=st.pk, reference="BANK-1")
    st = services.statement_pay(actor=finance, statement_id=st.pk, reference="BANK-1")
    assert st.state == "paid" and st.payout_reference == "BANK-1"
    assert ledger_selectors.balance(ledger.merchant(shop.merchant.pk)) == D("0.00")
    assert ledger_selectors.balance(ledger.PAID_OUT) == D("-178.20")


def test_dispute_then_recompute(tipped: Callable[..., Any], shop: Shop, operator: Any) -> None:
    deal, _orders = tipped([1])
    _verify(shop, deal, 1)
    st = _statement(shop)
    with pytest.raises(ValidationFailed):
        services.statement_dispute(actor=shop.admin, statement_id=st.pk, note="")
    st = services.statement_dispute(actor=shop.admin, statement_id=st.pk, note="we counted 2")
    assert st.state == "disputed"
    st = services.statement_recompute(actor=operator, statement_id=st.pk)
    assert st.state == "draft"


def test_excel_export(tipped: Callable[..., Any], shop: Shop) -> None:
    from openpyxl import load_workbook

    deal, _orders = tipped([2])
    _verify(shop, deal, 2)
    st = _statement(shop)
    with translation.override("en"):
        wb = load_workbook(io.BytesIO(services.statement_workbook(st)))
    summary = {row[0]: row[1] for row in wb.worksheets[0].iter_rows(values_only=True)}
    assert D(str(summary["Payable"])) == D("178.20")
    assert wb.worksheets[1].max_row == 2  # header + 1 line (the deal at the store)
    assert [row[4] for row in wb.worksheets[1].iter_rows(values_only=True)] == ["Vouchers", 2]
    assert wb.worksheets[2].max_row == 3  # header + 2 vouchers


def test_periods() -> None:
    day = dt.date(2026, 2, 18)
    assert services.period_containing("weekly", day) == (dt.date(2026, 2, 16), dt.date(2026, 2, 22))
    assert services.period_containing("semimonthly", day) == (dt.date(2026, 2, 16), dt.date(2026, 2, 28))
    assert services.period_containing("semimonthly", dt.date(2026, 2, 3)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 15))
    assert services.period_containing("monthly", day) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert services.previous_period("monthly", day) == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def test_clock_drafts_last_cycle_once(shop: Shop) -> None:
    today = timezone.localdate()
    assert services.statements_generate_due(today=today) == 1
    assert services.statements_generate_due(today=today) == 0
    st = Statement.objects.get(merchant=shop.merchant)
    assert (st.period_start, st.period_end) == services.previous_period("monthly", today)


def test_statement_and_its_vouchers_move_through_the_engine(
    tipped: Callable[..., Any],
    shop: Shop,
    operator: Any,
    make_user: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tuangou.core.workflow.engine import history

    deal, _orders = tipped([1])
    [v] = _verify(shop, deal, 1)
    with django_capture_on_commit_callbacks(execute=True):  # the vouchers are marked settled after commit
        st = _statement(shop)
    services.statement_confirm(actor=shop.admin, statement_id=st.pk)
    services.statement_approve(actor=operator, statement_id=st.pk)
    finance = make_user(Role.FINANCE)
    services.statement_pay(actor=finance, statement_id=st.pk, reference="BANK-9")
    log = list(history(st, process="settlement_statement"))
    assert [(r.action, r.actor) for r in log] == [
        ("draft", None),
        ("confirm", shop.admin),
        ("approve", operator),
        ("pay", finance),
    ]
    assert log[-1].documents == {"payout_slip": "BANK-9"}
    settle = history(v, process="voucher").last()
    assert settle is not None and (settle.action, settle.note) == ("settle", st.number)


def test_demo_statement_confirmed_approved_paid_and_the_audit_stays_clean() -> None:
    """Issue 6, done when: the demo merchant confirms the statement, the operator approves it,
    finance pays it, and `tuangou audit` finds no break."""
    from django.core.management import call_command

    from tuangou.accounts.models import User

    call_command("demo_load")
    st = Statement.objects.get(merchant__slug="laojie-hotpot")
    assert st.commission > 0 and st.payable == st.gross - st.commission
    services.statement_confirm(actor=User.objects.get(mobile="13800000002"), statement_id=st.pk)
    services.statement_approve(actor=User.objects.get(mobile="13800000000"), statement_id=st.pk)
    st = services.statement_pay(actor=User.objects.get(mobile="13800000007"), statement_id=st.pk, reference="DEMO-1")
    assert st.state == "paid"
    call_command("audit")  # raises CommandError on any break
