"""Team buys (拼團): the clock starts when the leader pays; a team fills, fails or completes virtually."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tuangou.core import events
from tuangou.core.errors import Conflict
from tuangou.deals import services
from tuangou.deals.models import Deal, Team
from tuangou.orders import services as order_services

pytestmark = pytest.mark.django_db


def _team_deal(deal_factory, **over):
    values = {"mode": "team", "team_size": 3, "team_hours": 24, "leader_price": "79.00", "tipping_point": 1}
    values.update(over)
    return deal_factory(**values)


def _open_and_pay(deal, leader):
    order = order_services.team_open(actor=leader, deal_id=deal.pk)
    order_services.order_mark_paid(order_id=order.pk)
    return Team.objects.get(pk=order.team_id), order


def test_team_fills_and_tips_the_deal(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = _team_deal(deal_factory)
    leader = make_user()
    order = order_services.team_open(actor=leader, deal_id=deal.pk)
    team = Team.objects.get(pk=order.team_id)
    assert order.unit_price == Decimal("79.00") and team.status == "open" and team.expires_at is None
    # Nobody joins before the leader pays.
    with pytest.raises(Conflict):
        order_services.team_join(actor=make_user(), team_id=team.pk)
    order_services.order_mark_paid(order_id=order.pk)
    team.refresh_from_db()
    assert team.status == "forming" and team.expires_at == team.clock_started_at + dt.timedelta(hours=24)
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            o = order_services.team_join(actor=make_user(), team_id=team.pk)
            assert o.unit_price == Decimal("99.00")
            order_services.order_mark_paid(order_id=o.pk)
    team.refresh_from_db()
    assert team.status == "filled" and team.members_paid == 3
    assert ("team.filled", {"team_id": team.pk, "deal_id": deal.pk}) in seen
    assert ("deal.tipped", {"deal_id": deal.pk}) in seen
    assert Deal.objects.get(pk=deal.pk).status == "tipped"


def test_team_never_takes_more_than_its_size(deal_factory, make_user):
    deal = _team_deal(deal_factory, team_size=2)
    team, _ = _open_and_pay(deal, make_user())
    order_services.team_join(actor=make_user(), team_id=team.pk)  # pending: holds the last seat
    with pytest.raises(Conflict) as exc:
        order_services.team_join(actor=make_user(), team_id=team.pk)
    assert exc.value.code == "team_full"


def test_team_fails_when_time_runs_out(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = _team_deal(deal_factory)
    team, _ = _open_and_pay(deal, make_user())
    assert services.teams_expire_due(now=team.expires_at - dt.timedelta(seconds=1)) == 0
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        services.deals_tick(now=team.expires_at)
    team.refresh_from_db()
    assert team.status == "failed"
    assert seen == [("team.failed", {"team_id": team.pk, "deal_id": deal.pk})]
    assert services.teams_expire_due(now=team.expires_at) == 0  # idempotent


def test_virtual_completion(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = _team_deal(deal_factory, virtual_completion=True)
    team, _ = _open_and_pay(deal, make_user())
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        services.teams_expire_due(now=team.expires_at)
    team.refresh_from_db()
    assert team.status == "filled" and team.virtual
    assert ("team.filled", {"team_id": team.pk, "deal_id": deal.pk, "virtual": True}) in seen
    assert Deal.objects.get(pk=deal.pk).status == "tipped"


def test_leader_order_expiring_cancels_the_team(deal_factory, make_user):
    deal = _team_deal(deal_factory)
    order = order_services.team_open(actor=make_user(), deal_id=deal.pk)
    order_services.orders_expire_due(now=order.expires_at)
    team = Team.objects.get(pk=order.team_id)
    assert team.status == "cancelled" and team.seats_taken == 0
    assert Deal.objects.get(pk=deal.pk).reserved_units == 0


def test_team_deal_refuses_plain_join_and_plain_deal_refuses_teams(deal_factory, make_user):
    team_deal = _team_deal(deal_factory)
    with pytest.raises(Conflict):
        order_services.deal_join(actor=make_user(), deal_id=team_deal.pk, quantity=1)
    plain = deal_factory()
    with pytest.raises(Conflict):
        order_services.team_open(actor=make_user(), deal_id=plain.pk)


def test_deal_end_fails_forming_teams(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = _team_deal(deal_factory, team_hours=720)
    team, _ = _open_and_pay(deal, make_user())
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        services.deals_tick(now=deal.ends_at)
    assert [n for n, _ in seen] == ["team.failed", "deal.failed", "deal.closed"]
    assert Team.objects.get(pk=team.pk).status == "failed"


def test_team_api(api, deal_factory, make_user):
    deal = _team_deal(deal_factory)
    leader = make_user(name="王小明")
    r = api.as_user(leader).post(f"/api/v1/deals/{deal.pk}/teams", headers={"Idempotency-Key": "t1"})
    assert r.status_code == 201, r.json()
    team_id = r.json()["team_id"]
    assert api.post(f"/api/v1/deals/{deal.pk}/teams", headers={"Idempotency-Key": "t1"}).json()["team_id"] == team_id
    order_services.order_mark_paid(order_id=r.json()["id"])
    r = api.as_user(make_user()).post(f"/api/v1/teams/{team_id}/orders")
    assert r.status_code == 201
    team = api.get(f"/api/v1/teams/{team_id}").json()
    assert team["status"] == "forming" and team["seats_taken"] == 2
    assert team["members"][0]["name"] == "王*明" or team["members"][1]["name"] == "王*明"
