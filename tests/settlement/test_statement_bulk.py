"""The statement as an aggregate over a closed range of time (ADR 0014): lines from one GROUP BY,
a query count that does not grow with the vouchers, no voucher on two statements, no undo of a
voucher on a statement (marked ``settled`` or not yet), late verifications on the next
statement, the ledger per order, and the vouchers marked ``settled`` after the drafting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.concurrency.race import while_held
from tests.vouchers.conftest import Shop
from tuangou.core.errors import Conflict
from tuangou.deals.models import Deal
from tuangou.merchants.models import Agreement
from tuangou.settlement import services
from tuangou.settlement.models import Statement
from tuangou.vouchers import services as vouchers
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db
D = Decimal


def _verify_all(shop: Shop) -> None:
    for v in Voucher.objects.filter(state="issued").order_by("pk"):
        vouchers.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)


def _month() -> tuple[dt.date, dt.date]:
    return services.period_containing("monthly", timezone.localdate())


def test_lines_are_groups_and_each_voucher_has_commission_for_it(tipped: Callable[..., Any], shop: Shop) -> None:
    Agreement.objects.filter(merchant=shop.merchant).update(commission_rate=D("7.50"))
    tipped([1, 2], group_price="19.90")
    tipped([1], settlement_price=D("80.00"))
    override, _ = tipped([3], group_price="33.30")
    Deal.objects.filter(pk=override.pk).update(commission_rate=D("12.50"))
    _verify_all(shop)
    start, end = _month()
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    terms = services._terms(shop.merchant, end)
    lines = list(st.lines.select_related("deal").order_by("pk"))
    assert len(lines) == 3 and sum(line.vouchers for line in lines) == 7
    on_it = list(services.statement_vouchers(st).select_related("deal"))
    assert len(on_it) == 7
    for line in lines:
        mine = [v for v in on_it if v.deal_id == line.deal_id]
        assert line.store_id == shop.store.pk and line.price == mine[0].amount
        assert (line.vouchers, line.units, line.amount) == (
            len(mine),
            sum(v.units for v in mine),
            sum((v.amount for v in mine), D(0)),
        )
        assert line.commission == sum(
            (services.commission_for(amount=v.amount, units=v.units, deal=v.deal, terms=terms) for v in mine), D(0)
        )
    # 3 × 19.90 at 7.5 % (1.49 each) + 99.00 − 80.00 + 3 × 33.30 at 12.5 % (4.16 each)
    assert (st.units, st.gross, st.commission) == (
        7,
        D("59.70") + D("99.00") + D("99.90"),
        D("4.47") + D("19.00") + D("12.48"),
    )


def _queries_to_draft(shop: Shop, tipped: Callable[..., Any], quantities: list[int], day: dt.date) -> int:
    deal, _orders = tipped(quantities)
    _verify_all(shop)
    Voucher.objects.filter(deal=deal).update(used_at=timezone.make_aware(dt.datetime.combine(day, dt.time(12))))
    with CaptureQueriesContext(connection) as q:
        st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=day, period_end=day)
    assert st.units == sum(quantities)
    return len(q.captured_queries)


def test_drafting_takes_as_many_queries_for_many_vouchers_as_for_few(tipped: Callable[..., Any], shop: Shop) -> None:
    day = timezone.localdate() - dt.timedelta(days=5)
    _queries_to_draft(shop, tipped, [1], day)  # caches warm
    few = _queries_to_draft(shop, tipped, [1], day + dt.timedelta(days=1))
    many = _queries_to_draft(shop, tipped, [3, 4, 2], day + dt.timedelta(days=2))
    assert few == many


def test_vouchers_are_marked_settled_after_the_drafting_and_cannot_be_undone_before(
    tipped: Callable[..., Any], shop: Shop, django_capture_on_commit_callbacks: Any
) -> None:
    tipped([2])
    _verify_all(shop)
    first, second = Voucher.objects.filter(state="used").order_by("pk")
    start, end = _month()
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    # drafted, not yet marked: still no undo
    assert Voucher.objects.filter(state="used").count() == 2
    with pytest.raises(Conflict) as refused:
        vouchers.voucher_undo(actor=shop.clerk, voucher_id=first.pk, reason="wrong guest")
    assert refused.value.code == "voucher_settled"
    for job in jobs:
        job()
    assert set(Voucher.objects.values_list("state", flat=True)) == {"settled"}
    assert services.statement_settle_vouchers(statement_id=st.pk) == 0  # idempotent
    with pytest.raises(Conflict):
        vouchers.voucher_undo(actor=shop.clerk, voucher_id=second.pk, reason="late")


def test_small_batches_settle_every_voucher(tipped: Callable[..., Any], shop: Shop) -> None:
    tipped([3, 2])
    _verify_all(shop)
    start, end = _month()
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    moved = vouchers.vouchers_settle_used(vouchers=services.statement_vouchers(st), statement_number=st.number, batch=2)
    assert moved == 5 and set(Voucher.objects.values_list("state", flat=True)) == {"settled"}


def test_no_voucher_on_two_statements(tipped: Callable[..., Any], shop: Shop) -> None:
    tipped([2])
    _verify_all(shop)
    start, end = _month()
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    assert st.units == 2
    today = timezone.localdate()
    for other in ((today, today), (start - dt.timedelta(days=3), start)):
        with pytest.raises(Conflict) as refused:
            services.statement_generate(merchant_id=shop.merchant.pk, period_start=other[0], period_end=other[1])
        assert refused.value.code == "statement_overlap"
    assert Statement.objects.count() == 1
    # a sold-basis statement of another time leaves out what the verified one settled
    past = start - dt.timedelta(days=40)
    sold = services.statement_generate(
        merchant_id=shop.merchant.pk, period_start=past, period_end=past + dt.timedelta(days=5), basis="sold"
    )
    assert sold.units == 0


def test_a_verification_after_an_early_draft_goes_on_the_next_statement(tipped: Callable[..., Any], shop: Shop) -> None:
    tipped([1, 1])
    late = Voucher.objects.order_by("pk").last()
    assert late is not None
    vouchers.voucher_verify(
        actor=shop.clerk,
        code=Voucher.objects.order_by("pk").first().code,
        store_id=shop.store.pk,  # type: ignore[union-attr]
    )
    start, end = _month()
    first = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    assert first.units == 1 and first.cut_off <= timezone.now()
    vouchers.voucher_verify(actor=shop.clerk, code=late.code, store_id=shop.store.pk)
    late.refresh_from_db()
    assert late.used_at is not None and late.used_at >= first.cut_off
    # not on the first statement: it can still be undone, and be verified again
    assert vouchers.voucher_undo(actor=shop.clerk, voucher_id=late.pk, reason="wrong guest").state == "issued"
    vouchers.voucher_verify(actor=shop.clerk, code=late.code, store_id=shop.store.pk)
    after = end + dt.timedelta(days=1)
    nxt = services.statement_generate(
        merchant_id=shop.merchant.pk, period_start=after, period_end=services.period_containing("monthly", after)[1]
    )
    assert nxt.since == first.cut_off and nxt.units == 1
    assert [v.pk for v in services.statement_vouchers(nxt)] == [late.pk]


def test_approval_posts_per_order_what_the_statement_says(
    tipped: Callable[..., Any], shop: Shop, operator: Any
) -> None:
    from tuangou.core.models import AuditLog
    from tuangou.ledger import selectors as ledger_selectors
    from tuangou.ledger.checks import run_all
    from tuangou.ledger.models import LedgerTransaction
    from tuangou.ledger.services import ESCROW

    Agreement.objects.filter(merchant=shop.merchant).update(commission_rate=D("7.50"))
    _deal, orders = tipped([1, 3, 2], group_price="19.90")
    _verify_all(shop)
    start, end = _month()
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    services.statement_confirm(actor=shop.admin, statement_id=st.pk)
    services.statement_approve(actor=operator, statement_id=st.pk)
    posted = LedgerTransaction.objects.filter(kind="settlement", memo=st.number)
    assert sorted(posted.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    commission = D(0)
    for txn in posted:
        legs = {leg.account.code: leg.amount for leg in txn.legs.select_related("account")}
        commission -= legs["commission"]
    assert commission == st.commission == D("8.94")  # 6 × 1.49
    # through escrow: each order's money has left it, one audit row per release, no break anywhere
    assert {ledger_selectors.balance(ESCROW, order_id=o.pk) for o in orders} == {D("0.00")}
    assert AuditLog.objects.filter(action="escrow.release").count() == len(orders)
    assert [(inv.name, found) for inv, found in run_all() if found] == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_undo_waits_for_a_drafting_in_progress_and_is_refused(tipped: Callable[..., Any], shop: Shop) -> None:
    tipped([1])
    _verify_all(shop)
    voucher = Voucher.objects.get(state="used")
    start, end = _month()
    got = while_held(
        lambda: services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end),
        lambda: vouchers.voucher_undo(actor=shop.clerk, voucher_id=voucher.pk, reason="wrong guest"),
    )  # the undo waits for the drafting's lock on the merchant
    assert isinstance(got["then"], Conflict) and got["then"].code == "voucher_settled"
    voucher.refresh_from_db()
    assert voucher.state in ("used", "settled")
    assert Statement.objects.get(merchant=shop.merchant).units == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_drafting_waits_for_a_verification_in_flight_and_counts_it(tipped: Callable[..., Any], shop: Shop) -> None:
    """A verification that read its time before the cut-off but commits after it must be on the
    statement (else it would be on none: the next one starts at the cut-off)."""
    tipped([1])
    voucher = Voucher.objects.get(state="issued")
    start, end = _month()
    got = while_held(
        lambda: vouchers.voucher_verify(actor=shop.clerk, code=voucher.code, store_id=shop.store.pk),
        lambda: services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end),
    )  # the drafting waits for the verification in flight
    statement = got["then"]
    voucher.refresh_from_db()
    assert voucher.used_at is not None and statement.since <= voucher.used_at < statement.cut_off
    assert statement.units == 1
    assert [v.pk for v in services.statement_vouchers(statement)] == [voucher.pk]


def test_the_clock_settles_what_a_lost_job_left(tipped: Callable[..., Any], shop: Shop) -> None:
    tipped([2])
    _verify_all(shop)
    start, end = _month()
    services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)  # job not run
    assert Voucher.objects.filter(state="used").count() == 2
    assert services.statements_settle_pending() == 2
    assert services.statements_settle_pending() == 0
    assert set(Voucher.objects.values_list("state", flat=True)) == {"settled"}


def test_the_statement_page_shows_its_lines(tipped: Callable[..., Any], shop: Shop) -> None:
    from django.test import Client

    tipped([3], group_price="19.90")
    _verify_all(shop)
    start, end = _month()
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    client = Client()
    client.force_login(shop.admin)
    page = client.get(f"/portal/statements/{st.pk}/")
    assert page.status_code == 200
    assert shop.store.name.encode() in page.content and b"59.70" in page.content


def test_approval_goes_through_escrow_and_never_takes_money_that_has_left_it(
    tipped: Callable[..., Any], shop: Shop, operator: Any
) -> None:
    from tuangou.ledger.models import LedgerTransaction
    from tuangou.payments import services as payments

    _deal, orders = tipped([1, 2], group_price="19.90")
    _verify_all(shop)
    start, end = _month()
    st = services.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    services.statement_confirm(actor=shop.admin, statement_id=st.pk)
    # one order's money was released by another way meanwhile: approval refuses and changes nothing
    payments.escrow_release(
        order_id=orders[0].pk, merchant_id=shop.merchant.pk, amount=orders[0].amount, commission=Decimal("0")
    )
    with pytest.raises(Conflict) as caught:
        services.statement_approve(actor=operator, statement_id=st.pk)
    assert caught.value.code == "escrow_released"
    st.refresh_from_db()
    assert st.state == "confirmed"
    assert not LedgerTransaction.objects.filter(kind="settlement").exists()
