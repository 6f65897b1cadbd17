"""Sales desk races with real threads on PostgreSQL: register numbers, write-off, hand-over, stock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.concurrency.race import race_each
from tests.salesdesk.conftest import tiny_png
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.catalog.models import Product
from tuangou.salesdesk import services
from tuangou.salesdesk.models import Collection, Customer, HandOver, Order, WriteOff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _refused(outcomes: Counter[str]) -> int:
    """How many calls were refused with an AppError (not returned, not crashed)."""
    return sum(n for outcome, n in outcomes.items() if outcome != "ok" and not outcome.startswith("crash:"))


@pytest.fixture
def setup(make_user: Callable[..., User]) -> dict[str, Any]:
    reps = [make_user(Role.SALES_REP) for _ in range(8)]
    dept = [make_user(Role.SALES_DEPT) for _ in range(2)]
    product = Product.objects.create(code="W", name="黃酒", unit="箱", list_price=Decimal("100"), stock_on_hand=5)
    customer = services.customer_create(actor=dept[0], name="工會")
    return {"reps": reps, "dept": dept, "product": product, "customer": customer}


def test_register_numbers_are_unique_and_consecutive_under_a_race(setup: dict[str, Any]) -> None:
    customer: Customer = setup["customer"]
    product: Product = setup["product"]

    def take(i: int) -> str:
        order, _ = services.order_take(
            actor=setup["reps"][i], customer_id=customer.pk, lines=[services.LineIn(product.pk, 1)]
        )
        return order.number or ""

    numbers, outcomes = race_each(8, take)
    assert outcomes == Counter(ok=8), outcomes
    assert len(set(numbers)) == 8
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert seqs == list(range(1, 9))


def test_last_boxes_go_to_one_shipment(setup: dict[str, Any]) -> None:
    rep, dept = setup["reps"][0], setup["dept"]
    orders = []
    for _ in range(2):
        order, _ = services.order_take(
            actor=rep, customer_id=setup["customer"].pk, lines=[services.LineIn(setup["product"].pk, 4)]
        )
        services.order_place(order_id=order.pk, actor=rep, channel="written")
        orders.append(order)

    def ship(i: int) -> str:
        return services.order_dispatch(order_id=orders[i].pk, actor=dept[i], invoice_number=f"FP{i}").number

    shipped, outcomes = race_each(2, ship)
    assert len(shipped) == 1 and _refused(outcomes) == 1, outcomes
    setup["product"].refresh_from_db()
    assert setup["product"].stock_on_hand == 1


def test_two_clerks_write_off_the_same_order_once(setup: dict[str, Any]) -> None:
    rep, dept = setup["reps"][0], setup["dept"]
    order, _ = services.order_take(
        actor=rep, customer_id=setup["customer"].pk, lines=[services.LineIn(setup["product"].pk, 2)]
    )
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    services.order_dispatch(order_id=order.pk, actor=dept[0], invoice_number="FP1")
    services.order_sign(order_id=order.pk, actor=rep, receiver_name="李", signature=tiny_png())
    services.order_collect(order_id=order.pk, actor=rep, amount="200")

    def write_off(i: int) -> WriteOff:
        return services.order_write_off(order_id=order.pk, actor=dept[i], amount_received="200")

    done, outcomes = race_each(2, write_off)
    assert len(done) == 1 and _refused(outcomes) == 1, outcomes
    order.refresh_from_db()
    assert order.amount_written_off == Decimal("200.00") and order.amount_handed_over == Decimal("200.00")
    assert HandOver.objects.count() == 1
    assert not Collection.objects.filter(hand_over__isnull=True).exists()
    assert Order.objects.get(pk=order.pk).state == "rep_filing"


def test_two_clerks_receive_the_same_cash_once(setup: dict[str, Any]) -> None:
    rep, dept = setup["reps"][0], setup["dept"]
    order, _ = services.order_take(
        actor=rep, customer_id=setup["customer"].pk, lines=[services.LineIn(setup["product"].pk, 1)]
    )
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    services.order_dispatch(order_id=order.pk, actor=dept[0], invoice_number="FP7")
    services.order_sign(order_id=order.pk, actor=rep, receiver_name="李", signature=tiny_png())
    collection = services.order_collect(order_id=order.pk, actor=rep, amount="100")

    def receive(i: int) -> HandOver:
        return services.collections_hand_over(
            actor=dept[i], rep_id=rep.pk, collection_ids=[collection.pk], amount="100"
        )

    done, outcomes = race_each(2, receive)
    assert len(done) == 1 and _refused(outcomes) == 1, outcomes
    order.refresh_from_db()
    assert order.amount_handed_over == Decimal("100.00") and HandOver.objects.count() == 1


def test_hand_over_racing_a_write_off_does_not_deadlock(setup: dict[str, Any]) -> None:
    rep, dept = setup["reps"][0], setup["dept"]
    orders, collections = [], []
    for i in range(2):
        order, _ = services.order_take(
            actor=rep, customer_id=setup["customer"].pk, lines=[services.LineIn(setup["product"].pk, 1)]
        )
        services.order_place(order_id=order.pk, actor=rep, channel="written")
        services.order_dispatch(order_id=order.pk, actor=dept[0], invoice_number=f"FPD{i}")
        services.order_sign(order_id=order.pk, actor=rep, receiver_name="李", signature=tiny_png())
        collections.append(services.order_collect(order_id=order.pk, actor=rep, amount="100"))
        orders.append(order)

    def work(i: int) -> Any:
        if i == 0:
            return services.collections_hand_over(
                actor=dept[0], rep_id=rep.pk, collection_ids=[c.pk for c in collections], amount="200"
            )
        return services.order_write_off(order_id=orders[1].pk, actor=dept[1], amount_received="100")

    done, outcomes = race_each(2, work)
    # One of them takes the money for order 2; the other is refused cleanly (never a deadlock).
    assert len(done) + _refused(outcomes) == 2, outcomes
    assert len(done) >= 1
    for order in orders:
        order.refresh_from_db()
        assert order.amount_handed_over <= order.amount_collected
    assert not Collection.objects.filter(hand_over__isnull=True, order=orders[1]).exists()
