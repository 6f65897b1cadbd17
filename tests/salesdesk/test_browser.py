"""The receiver signs on the rep's phone: a real browser draws on the canvas and submits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tuangou.accounts.models import User
from tuangou.salesdesk import services
from tuangou.salesdesk.models import Customer, Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signature_drawn_on_the_phone_is_stored(
    page,
    live_server,
    take: Callable[..., Order],
    rep: User,
    dept: User,
    cash_customer: Customer,
) -> None:
    order = take(cash_customer)
    services.order_place(order_id=order.pk, actor=rep, channel="written")
    services.order_dispatch(order_id=order.pk, actor=dept, invoice_number="FP-B1")

    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_pw-mobile", rep.mobile)
    page.fill("#id_pw-password", PASSWORD)
    page.click("#password-login button[type=submit]")
    page.goto(f"{live_server.url}/salesdesk/orders/{order.pk}/sign/")
    page.fill("#id_receiver_name", "張先生")
    box = page.locator("#signature-pad").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 20, box["y"] + 40)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 20 + i * 25, box["y"] + 40 + (20 if i % 2 else -10))
    page.mouse.up()
    page.click("#step-form button[type=submit]")
    page.wait_for_url(f"**/salesdesk/orders/{order.pk}/")
    order.refresh_from_db()
    assert order.state == "writing_off"  # a cash customer pays on signing; the page proposes the total
    assert order.amount_collected == order.amount_total
    shipment = order.shipments.get()
    assert shipment.receiver_name == "張先生"
    assert bytes(shipment.signature).startswith(b"\x89PNG") and len(bytes(shipment.signature)) > 500
    assert page.locator("#deliveries img").count() == 1


def _login(pg: Any, url: str, user: User) -> None:
    pg.context.clear_cookies()
    pg.goto(url + "/accounts/login/")
    pg.fill("#id_pw-mobile", user.mobile)
    pg.fill("#id_pw-password", PASSWORD)
    pg.click("#password-login button[type=submit]")


def _at(pg: Any, state: str) -> None:
    """The order page's diagram marks `state` as where the order is now."""
    assert pg.locator(f'#diagram g.node.current[data-node="{state}"]').count() == 1


def test_rep_and_department_take_an_order_through_all_eight_steps(
    page,
    live_server,
    rep: User,
    dept: User,
    wine,
    cash_customer: Customer,
) -> None:
    url = live_server.url
    _login(page, url, rep)
    page.goto(url + "/salesdesk/orders/new/")
    page.select_option("#id_customer", str(cash_customer.pk))
    page.select_option("#id_product_0", str(wine.pk))
    page.fill("#id_quantity_0", "4")
    page.click("#take-form button[type=submit]")
    order = Order.objects.get()
    page.wait_for_url(f"**/salesdesk/orders/{order.pk}/")
    _at(page, "placing")
    page.click("#next-step")
    page.check("input[name=channel][value=written]")
    page.click("#step-form button[type=submit]")
    _at(page, "dispatching")

    _login(page, url, dept)
    page.goto(url + "/salesdesk/")
    page.click(f"#queue >> text={order.number}")
    page.click("#next-step")
    page.fill("#id_invoice_number", "FP-E2E-1")
    page.click("#step-form button[type=submit]")
    _at(page, "signing")

    _login(page, url, rep)
    page.goto(f"{url}/salesdesk/orders/{order.pk}/")
    page.click("#next-step")
    page.fill("#id_receiver_name", "張先生")
    box = page.locator("#signature-pad").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 60)
    page.mouse.down()
    for i in range(1, 10):
        page.mouse.move(box["x"] + 30 + i * 30, box["y"] + 60 + (25 if i % 2 else -15))
    page.mouse.up()
    assert page.input_value("#id_cash_received") == "1200.00"  # cash on signing
    page.click("#step-form button[type=submit]")
    _at(page, "writing_off")

    _login(page, url, dept)
    page.goto(url + "/salesdesk/reports/")
    assert page.locator("#aging").is_visible() and page.locator("#cash").get_by_text(str(rep)).is_visible()
    page.goto(f"{url}/salesdesk/orders/{order.pk}/")
    page.click("#next-step")
    assert page.input_value("#id_amount_received") == "1200.00"
    page.click("#step-form button[type=submit]")
    _at(page, "rep_filing")

    _login(page, url, rep)
    page.goto(f"{url}/salesdesk/orders/{order.pk}/")
    page.click("#next-step")
    page.click("#step-form button[type=submit]")
    _at(page, "dept_filing")

    _login(page, url, dept)
    page.goto(f"{url}/salesdesk/orders/{order.pk}/")
    page.click("#next-step")
    page.click("#step-form button[type=submit]")
    _at(page, "closed")
    page.goto(url + "/salesdesk/reports/")
    assert page.locator("#performance").get_by_text("¥1,200.00").is_visible()
    assert page.locator("#product-sales").get_by_text(wine.name).is_visible()
