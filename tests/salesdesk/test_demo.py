from __future__ import annotations

from collections.abc import Callable

import pytest

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.salesdesk import demo, selectors
from tuangou.salesdesk.models import Order
from tuangou.salesdesk.process import SALES_ORDER

pytestmark = pytest.mark.django_db


def test_demo_has_orders_in_every_step_and_one_overdue_customer(make_user: Callable[..., User]) -> None:
    users = {Role.SALES_REP: make_user(Role.SALES_REP), Role.SALES_DEPT: make_user(Role.SALES_DEPT)}
    demo.load(users=users, cities={})
    states = set(Order.objects.values_list("state", flat=True))
    resting = {s for s in SALES_ORDER.states if s != SALES_ORDER.initial_state}
    assert resting - {"taking", "registering"} <= states
    overdue = list(selectors.overdue_orders())
    assert len({o.customer_id for o in overdue}) == 1
    count = Order.objects.count()
    demo.load(users=users, cities={})
    assert Order.objects.count() == count
