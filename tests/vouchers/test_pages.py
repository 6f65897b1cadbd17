"""The counter page on a phone, the member's vouchers, the statement pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.vouchers.conftest import Shop, voucher_of
from tuangou.settlement import services as settlement
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_clerk_verifies_at_the_counter_page_once(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    c = _client(shop.clerk)
    page = c.get("/portal/")
    assert page.status_code == 200 and b'name="viewport"' in page.content
    found = c.post("/portal/", {"store": shop.store.pk, "code": v.display_code, "lookup": "1"})
    assert found.status_code == 200 and v.deal.title.encode() in found.content and b'name="confirm"' in found.content
    done = c.post("/portal/", {"store": shop.store.pk, "code": v.display_code, "confirm": "1"})
    assert done.status_code == 302
    assert Voucher.objects.get(pk=v.pk).state == "used"
    again = c.post("/portal/", {"store": shop.store.pk, "code": v.display_code, "confirm": "1"})
    assert again.status_code == 200 and b"errorlist" in again.content
    undo = c.post(f"/portal/vouchers/{v.pk}/undo/", {"reason": "wrong guest"})
    assert undo.status_code == 302 and Voucher.objects.get(pk=v.pk).state == "issued"


def test_counter_refuses_strangers(tipped: Callable[..., Any], shop: Shop, rival: Shop, member: Any) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    assert _client(member).get("/portal/").status_code == 403
    r = _client(rival.clerk).post("/portal/", {"store": shop.store.pk, "code": v.code, "confirm": "1"})
    assert r.status_code == 200  # the store is not among its choices: a form error
    assert Voucher.objects.get(pk=v.pk).state == "issued"


def test_member_sees_vouchers_with_qr(tipped: Callable[..., Any]) -> None:
    _deal, orders = tipped([1])
    page = _client(orders[0].user).get("/me/vouchers/")
    assert page.status_code == 200 and b"<svg" in page.content
    assert voucher_of(orders[0]).display_code.encode() in page.content


def test_statement_pages(tipped: Callable[..., Any], shop: Shop, rival: Shop) -> None:
    deal, _orders = tipped([1])
    from tuangou.vouchers import services

    services.voucher_verify(actor=shop.clerk, code=Voucher.objects.get(deal=deal).code, store_id=shop.store.pk)
    start, end = settlement.period_containing("monthly", timezone.localdate())
    st = settlement.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    assert _client(rival.admin).get(f"/portal/statements/{st.pk}/").status_code == 404
    c = _client(shop.admin)
    assert st.number.encode() in c.get("/portal/statements/").content
    assert c.get(f"/portal/statements/{st.pk}/?format=xlsx").status_code == 200
    assert c.post(f"/portal/statements/{st.pk}/", {"action": "confirm"}).status_code == 302
    st.refresh_from_db()
    assert st.state == "confirmed"
    assert c.get("/portal/reconciliation/").status_code == 200
