"""The member's pay step on a phone-sized screen: join a deal, choose the sandbox gateway, pay on
its cashier page, come back to the result page, which shows the order paid (screenshots)."""

from pathlib import Path

import pytest

from tuangou.core.demo import DEMO_PASSWORD, demo_load
from tuangou.deals.models import Deal
from tuangou.orders.models import Order
from tuangou.payments.models import Payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_member_pays_through_the_sandbox_cashier_and_sees_the_order_paid(page, live_server):
    demo_load()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", "13800000001")
    page.fill("#id_pw-password", DEMO_PASSWORD)
    page.click("#password-login button[type=submit]")

    deal = Deal.objects.get(title__contains="人越多越便宜")
    page.goto(live_server.url + f"/deals/{deal.pk}/")
    page.click("#join button[type=submit]")
    page.wait_for_url("**/orders/*/")
    order = Order.objects.filter(user__mobile="13800000001", deal=deal).latest("pk")

    page.click("#order a.button")  # Pay
    page.wait_for_url(f"**/orders/{order.pk}/pay/")
    assert "258.00" in page.inner_text("#pay-amount")  # what is being paid, before choosing how
    page.check("input[name=provider][value=sandbox]")
    page.screenshot(path=str(SHOTS / "pay-choose-provider.png"), full_page=True)
    page.click("main form button[type=submit]")

    page.wait_for_selector("#sandbox-cashier")
    assert "258.00" in page.inner_text("#sandbox-cashier")
    page.screenshot(path=str(SHOTS / "pay-sandbox-cashier.png"), full_page=True)
    page.click("button[name=outcome][value=pay]")

    page.wait_for_url("**/payments/*/")
    page.wait_for_selector("#payment[data-status=succeeded]")  # while pending it refreshes itself
    assert "258.00" in page.inner_text("#payment")
    page.screenshot(path=str(SHOTS / "pay-result-paid.png"), full_page=True)
    page.click("#invoice-requests summary")  # the invoice form opens on demand
    assert page.locator("#id_title").is_visible()
    order.refresh_from_db()
    assert order.status == "paid"
    assert Payment.objects.get(order_id=order.pk, status="succeeded").provider == "sandbox"

    page.click(f"#payment a[href$='/orders/{order.pk}/']")  # back to the order
    page.wait_for_url(f"**/orders/{order.pk}/")
    assert page.locator("#order .status.paid").is_visible()
