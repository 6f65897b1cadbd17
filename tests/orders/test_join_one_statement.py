"""A join on PostgreSQL is one statement on its own, no transaction around it (ADR 0017 addendum):
what it writes, and that a refusal leaves nothing of it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.roles import Role
from tuangou.core.errors import AppError
from tuangou.core.models import AuditLog
from tuangou.deals.models import Deal
from tuangou.orders import services as order_services
from tuangou.orders.models import DealBuyer, IdempotencyKey, Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deal(make_user, operator, settings) -> Deal:  # type: ignore[no-untyped-def]
    settings.REDIS_URL = ""
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    return make_deal(merchant=merchant, operator=operator, stock=3, tipping_point=1, per_member_limit=2)


def _state(deal: Deal) -> tuple[object, ...]:
    deal.refresh_from_db()
    return (
        deal.reserved_units,
        Order.objects.count(),
        IdempotencyKey.objects.count(),
        AuditLog.objects.filter(action="order.place").count(),
        sorted(DealBuyer.objects.values_list("user_id", "reserved_units")),
    )


def test_a_join_is_its_read_and_one_statement(deal, make_user):
    member = make_user(Role.MEMBER)
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as captured:
        order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=2, idempotency_key="one")
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["SELECT", "WITH"]
    stored = Order.objects.get(pk=order.pk)
    assert (stored.user_id, stored.deal_id, stored.quantity, stored.status) == (member.pk, deal.pk, 2, "pending")
    assert stored.amount == order.amount == Decimal("2") * deal.group_price and stored.number == order.number
    assert IdempotencyKey.objects.get(user=member, key="one").order_id == order.pk
    row = AuditLog.objects.get(action="order.place", object_id=str(order.pk))
    assert (row.actor_id, row.object_type) == (member.pk, "orders.order")
    assert row.data == {"deal": deal.pk, "quantity": 2, "amount": str(order.amount)}
    assert DealBuyer.objects.get(deal=deal, user=member).reserved_units == 2
    deal.refresh_from_db()
    assert deal.reserved_units == 2
    again = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=2, idempotency_key="one")
    assert again.pk == order.pk and Order.objects.count() == 1


@pytest.mark.parametrize(
    ("first", "then", "code"),
    [
        (1, 2, "over_limit"),  # the member's limit (2) refuses after the key was claimed
        (0, 2, "not_enough_stock"),  # another member holds 2 of 3: the deal's guard refuses last
    ],
)
def test_a_refused_join_leaves_nothing(deal, make_user, first, then, code):
    member, other = make_user(Role.MEMBER), make_user(Role.MEMBER)
    if first:
        order_services.deal_join(actor=member, deal_id=deal.pk, quantity=first)
    else:
        order_services.deal_join(actor=other, deal_id=deal.pk, quantity=2)
    before = _state(deal)
    with pytest.raises(AppError) as refused:
        order_services.deal_join(actor=member, deal_id=deal.pk, quantity=then, idempotency_key="k")
    assert refused.value.code == code
    assert _state(deal) == before
    assert not IdempotencyKey.objects.filter(key="k").exists()
    ok = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1, idempotency_key="k")
    assert IdempotencyKey.objects.get(key="k").order_id == ok.pk  # the refused request's key was not kept


def test_a_retry_the_gate_calls_sold_out_still_gets_its_order(deal, make_user, monkeypatch):
    """The gate is asked before the statement: a retry of the request that took the last unit,
    whose read came before that request committed, waits for its key and replays its order."""
    from tuangou.accounts.services import api_token_create, api_token_user_with
    from tuangou.orders import gate

    member = make_user(Role.MEMBER)
    alongside = order_services.join_alongside(deal.pk, "last")
    found, rows = api_token_user_with(api_token_create(user=member), alongside)
    assert found is not None
    first = order_services.deal_join(actor=found, deal_id=deal.pk, quantity=2, idempotency_key="last")
    monkeypatch.setattr(gate, "take", lambda deal_id, quantity: gate.SOLD_OUT)
    again = order_services.deal_join(
        actor=found, deal_id=deal.pk, quantity=2, idempotency_key="last", read=(alongside, rows, found.pk)
    )
    assert again.pk == first.pk and Order.objects.count() == 1
    with pytest.raises(AppError) as refused:  # without a key: sold out at once
        order_services.deal_join(actor=make_user(Role.MEMBER), deal_id=deal.pk, quantity=1)
    assert refused.value.code == "sold_out"
