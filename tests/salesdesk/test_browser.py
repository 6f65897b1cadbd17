"""The receiver signs on the rep's phone: a real browser draws on the canvas and submits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import browser, page  # noqa: F401 - fixtures
from tuangou.accounts.models import User
from tuangou.salesdesk import services
from tuangou.salesdesk.models import Customer, Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signature_drawn_on_the_phone_is_stored(
    page,  # noqa: F811
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
    assert order.state == "collecting"
    shipment = order.shipments.get()
    assert shipment.receiver_name == "張先生"
    assert bytes(shipment.signature).startswith(b"\x89PNG") and len(bytes(shipment.signature)) > 500
    assert page.locator("#deliveries img").count() == 1
