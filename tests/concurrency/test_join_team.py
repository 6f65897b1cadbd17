"""A team never takes more than N members: 30 real threads race for the 4 seats left in a team of 5."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.concurrency.race import race
from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.deals.models import Team
from tuangou.orders import services as order_services
from tuangou.orders.models import Order


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_30_threads_race_for_4_team_seats(make_user, operator, settings):
    settings.REDIS_URL = ""
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    deal = make_deal(merchant=merchant, operator=operator, mode="team", team_size=5, team_hours=24, tipping_point=1)
    leader_order = order_services.team_open(actor=make_user(Role.MEMBER), deal_id=deal.pk)
    order_services.order_mark_paid(order_id=leader_order.pk)
    users = [make_user(Role.MEMBER) for _ in range(30)]

    def join(user: User) -> Any:
        return lambda: order_services.team_join(actor=user, team_id=leader_order.team_id)

    outcomes = race([("", join(u)) for u in users])
    assert outcomes == Counter({"ok": 4, "team_full": 26}), outcomes
    team = Team.objects.get(pk=leader_order.team_id)
    assert team.seats_taken == 5 and Order.objects.filter(team=team).count() == 5
