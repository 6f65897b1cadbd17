"""Operators' team-buy report: per deal, teams filled by real members, completed virtually (with the
seats made up), failed and forming, with totals; page, Excel and API."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.conftest import ApiClient
from tests.deals.factories import Role
from tuangou.deals import selectors, services
from tuangou.deals.models import Team
from tuangou.orders import services as order_services

pytestmark = pytest.mark.django_db


def _open_and_pay(deal, leader):
    order = order_services.team_open(actor=leader, deal_id=deal.pk)
    order_services.order_mark_paid(order_id=order.pk)
    return Team.objects.get(pk=order.team_id)


@pytest.fixture
def teams(deal_factory, make_user, django_capture_on_commit_callbacks):
    team = {"mode": "team", "team_hours": 24, "tipping_point": 1}
    virtual_deal = deal_factory(title="虛擬成團", team_size=3, virtual_completion=True, **team)
    plain_deal = deal_factory(title="普通拼團", team_size=2, **team)
    with django_capture_on_commit_callbacks(execute=True):
        made_up = _open_and_pay(virtual_deal, make_user())  # one real member of three
        failing = _open_and_pay(plain_deal, make_user())
        services.teams_expire_due(now=max(made_up.expires_at, failing.expires_at))
        filled = _open_and_pay(virtual_deal, make_user())
        for _ in range(2):
            o = order_services.team_join(actor=make_user(), team_id=filled.pk)
            order_services.order_mark_paid(order_id=o.pk)
        _open_and_pay(virtual_deal, make_user())  # still forming
        order_services.team_open(actor=make_user(), deal_id=plain_deal.pk)  # leader has not paid: open
    assert Team.objects.get(pk=made_up.pk).virtual
    assert Team.objects.get(pk=failing.pk).status == "failed"
    assert Team.objects.get(pk=filled.pk).status == "filled"
    return virtual_deal, plain_deal


def test_report_counts_per_deal(teams):
    virtual_deal, plain_deal = teams
    rows, totals = selectors.team_report()
    by_deal = {r["deal_id"]: r for r in rows}
    v, p = by_deal[virtual_deal.pk], by_deal[plain_deal.pk]
    assert (v["teams"], v["filled"], v["virtual"], v["virtual_seats"], v["failed"], v["forming"]) == (3, 1, 1, 2, 0, 1)
    assert v["fill_rate"] == 50  # one real fill of two finished teams: virtual completion does not flatter it
    assert (p["teams"], p["filled"], p["virtual"], p["failed"], p["forming"], p["fill_rate"]) == (2, 0, 0, 1, 1, 0)
    assert totals == {
        "teams": 5,
        "filled": 1,
        "virtual": 1,
        "virtual_seats": 2,
        "failed": 1,
        "forming": 2,
        "cancelled": 0,
    }
    rows, _totals = selectors.team_report(deal_id=plain_deal.pk)
    assert [r["deal_id"] for r in rows] == [plain_deal.pk]
    assert selectors.team_report(city="nowhere") == ([], dict.fromkeys(selectors.TEAM_REPORT_COLUMNS, 0))


def test_page_and_excel_for_operators_only(client, teams, operator, merchant_admin, make_user):
    virtual_deal, _plain = teams
    client.force_login(merchant_admin)
    assert client.get("/backoffice/reports/team-buys/").status_code == 403
    client.force_login(operator)
    page = client.get("/backoffice/reports/team-buys/").content.decode()
    assert "虛擬成團" in page and "普通拼團" in page and 'id="totals"' in page
    assert f'<tr data-deal="{virtual_deal.pk}">' in page and '<td class="virtual">1</td>' in page
    r = client.get("/backoffice/reports/team-buys/?format=xlsx")
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert len(rows) == 4  # header, two deals, total
    assert rows[-1][4:11] == (5, 1, 1, 2, 1, 2, 0)
    assert "/backoffice/reports/team-buys/" in client.get("/backoffice/").content.decode()


def test_api(teams, operator, make_user):
    virtual_deal, _plain = teams
    api = ApiClient()
    assert api.get("/api/v1/reports/teams").status_code == 401
    assert api.as_user(make_user(Role.MERCHANT)).get("/api/v1/reports/teams").status_code == 403
    body = ApiClient().as_user(operator).get(f"/api/v1/reports/teams?deal_id={virtual_deal.pk}").json()
    assert body["totals"]["virtual"] == 1 and body["totals"]["virtual_seats"] == 2
    (row,) = body["rows"]
    assert row["deal_title"] == "虛擬成團" and row["filled"] == 1 and row["virtual"] == 1 and row["fill_rate"] == 50
