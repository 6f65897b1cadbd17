"""A member on a phone-sized screen: browses a city, opens a deal (prices side by side, progress,
countdown), joins for two, pays through the sandbox cashier, then joins the open team."""

from pathlib import Path

import pytest

from tuangou.core.demo import DEMO_PASSWORD, demo_load
from tuangou.deals.models import Deal, Team
from tuangou.orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_member_browses_joins_and_joins_a_team(page, live_server):
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", "13800000001")
    page.fill("#id_pw-password", DEMO_PASSWORD)
    page.click("#password-login button[type=submit]")

    page.goto(live_server.url + "/c/hangzhou/")
    tiered = Deal.objects.get(title__contains="人越多越便宜")
    page.screenshot(path=str(SHOTS / "deals-city.png"), full_page=True)
    page.click(f"[data-deal='{tiered.pk}']")
    assert page.locator("#price-compare").is_visible()
    assert page.locator("#tiers").is_visible()
    countdown = page.locator("#progress .countdown")
    first = countdown.inner_text()
    page.wait_for_timeout(1100)
    assert countdown.inner_text() != first  # the clock ticks in the page
    page.screenshot(path=str(SHOTS / "deals-detail.png"), full_page=True)

    page.fill("#id_quantity", "2")
    page.click("#join button[type=submit]")
    page.wait_for_url("**/orders/*/")
    order = Order.objects.filter(user__mobile="13800000001", deal=tiered).latest("pk")
    assert order.quantity == 2 and order.status == "pending"
    page.screenshot(path=str(SHOTS / "deals-order.png"), full_page=True)

    # The pay step (payments issue): choose the sandbox, pay at its cashier, back to the order.
    page.click("#order a.button")
    page.check("input[name=provider][value=sandbox]")
    page.click("main form button[type=submit]")
    page.click("button[name=outcome][value=pay]")
    for _ in range(50):
        order.refresh_from_db()
        if order.status == "paid":
            break
        page.wait_for_timeout(200)
    assert order.status == "paid"
    tiered.refresh_from_db()
    assert tiered.buyers == 4 and tiered.sold_units == 5

    # A team: the demo leader's team is open; join it from its page.
    team = Team.objects.get(status="forming")
    page.goto(live_server.url + f"/teams/{team.pk}/")
    assert page.locator("#share").input_value().endswith(f"/teams/{team.pk}/")
    page.click("#team button[type=submit]")
    page.wait_for_url("**/orders/*/")
    assert Order.objects.filter(user__mobile="13800000001", team=team).exists()
    page.screenshot(path=str(SHOTS / "deals-team-order.png"), full_page=True)
