"""The counter, the member and the merchant through /api/v1, and the ownership matrix:
every merchant endpoint called by another merchant's clerk and admin on the first merchant's
objects is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from tests.vouchers.conftest import Shop, voucher_of
from tuangou.settlement import services as settlement
from tuangou.settlement.models import Dispute, Tally
from tuangou.vouchers import services
from tuangou.vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def test_counter_flow(api: Any, tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    api.as_user(shop.clerk)
    seen = api.post("/api/v1/vouchers/lookup", {"code": v.display_code, "store": shop.store.pk})
    assert seen.status_code == 200 and seen.json()["state"] == "issued"
    done = api.post("/api/v1/vouchers/verify", {"code": v.display_code, "store": shop.store.pk})
    assert done.status_code == 200 and done.json()["state"] == "used"
    again = api.post("/api/v1/vouchers/verify", {"code": v.code, "store": shop.store.pk})
    assert again.status_code == 409 and again.json()["code"] == "voucher_used"
    typo = api.post(
        "/api/v1/vouchers/verify", {"code": v.code[:-1] + str((int(v.code[-1]) + 1) % 10), "store": shop.store.pk}
    )
    assert typo.status_code == 400 and "code" in typo.json()["errors"]
    no_reason = api.post(f"/api/v1/vouchers/{v.pk}/undo", {"reason": ""})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    undone = api.post(f"/api/v1/vouchers/{v.pk}/undo", {"reason": "typed the wrong one"})
    assert undone.status_code == 200 and undone.json()["state"] == "issued"


def test_member_vouchers_and_resend(api: Any, tipped: Callable[..., Any]) -> None:
    _deal, orders = tipped([2])
    api.as_user(orders[0].user)
    mine = api.get("/api/v1/me/vouchers")
    assert mine.status_code == 200
    body = mine.json()
    assert len(body) == 2 and body[0]["qr_svg"].startswith("<svg") and body[0]["resends_left"] == 5
    sent = api.post(f"/api/v1/me/vouchers/{body[0]['id']}/resend")
    assert sent.status_code == 200 and sent.json()["resends_left"] == 4


def test_lockout_is_429(api: Any, tipped: Callable[..., Any], shop: Shop) -> None:
    from tuangou.vouchers import codes

    tipped([1])
    api.as_user(shop.clerk)
    for _ in range(services.LOCKOUT_AFTER):
        assert (
            api.post("/api/v1/vouchers/verify", {"code": codes.generate(), "store": shop.store.pk}).status_code == 400
        )
    locked = api.post("/api/v1/vouchers/verify", {"code": codes.generate(), "store": shop.store.pk})
    assert locked.status_code == 429 and locked.json()["code"] == "store_locked_out" and locked["Retry-After"]


def test_merchant_settlement_confirm(api: Any, tipped: Callable[..., Any], shop: Shop) -> None:
    deal, _orders = tipped([1])
    v = Voucher.objects.get(deal=deal)
    services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)
    start, end = settlement.period_containing("monthly", timezone.localdate())
    st = settlement.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    api.as_user(shop.admin)
    listed = api.get("/api/v1/merchant/settlements").json()
    assert [s["id"] for s in listed] == [st.pk] and listed[0]["payable"] == "89.10"
    assert api.get(f"/api/v1/merchant/settlements/{st.pk}/xlsx").status_code == 200
    assert api.post(f"/api/v1/merchant/settlements/{st.pk}/confirm").json()["state"] == "confirmed"


def test_ownership_matrix(api: Any, tipped: Callable[..., Any], shop: Shop, rival: Shop) -> None:
    deal, _orders = tipped([2])
    v_used, v_free = list(Voucher.objects.filter(deal=deal).order_by("pk"))
    services.voucher_verify(actor=shop.clerk, code=v_used.code, store_id=shop.store.pk)
    today = timezone.localdate()
    settlement.tally_record(actor=shop.admin, merchant_id=shop.merchant.pk, day=today, units=5, amount="1.00")
    dispute = settlement.dispute_open(actor=shop.admin, merchant_id=shop.merchant.pk, day=today, comment="?")
    start, end = settlement.period_containing("monthly", today)
    st = settlement.statement_generate(merchant_id=shop.merchant.pk, period_start=start, period_end=end)
    Voucher.objects.filter(pk=v_used.pk).update(state="used")  # keep it undoable for the matrix
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("post", "/api/v1/vouchers/lookup", {"code": v_free.code, "store": shop.store.pk}),
        ("post", "/api/v1/vouchers/verify", {"code": v_free.code, "store": shop.store.pk}),
        ("post", f"/api/v1/vouchers/{v_used.pk}/undo", {"reason": "x"}),
        ("get", f"/api/v1/merchant/vouchers/{v_used.pk}", None),
        ("get", f"/api/v1/merchant/settlements/{st.pk}", None),
        ("get", f"/api/v1/merchant/settlements/{st.pk}/xlsx", None),
        ("post", f"/api/v1/merchant/settlements/{st.pk}/confirm", None),
        ("post", f"/api/v1/merchant/settlements/{st.pk}/dispute", {"note": "x"}),
        ("get", f"/api/v1/merchant/reconciliation?merchant_id={shop.merchant.pk}", None),
        (
            "post",
            "/api/v1/merchant/tallies",
            {"merchant_id": shop.merchant.pk, "day": str(today), "units": 1, "amount": "9.00"},
        ),
        ("post", "/api/v1/merchant/disputes", {"merchant_id": shop.merchant.pk, "day": str(today), "comment": "x"}),
        ("post", f"/api/v1/merchant/disputes/{dispute.pk}/comments", {"text": "x"}),
        ("post", f"/api/v1/merchant/disputes/{dispute.pk}/resolve", {"resolution": "x"}),
    ]
    for stranger in (rival.clerk, rival.admin):
        api.as_user(stranger)
        for method, url, body in calls:
            response = getattr(api, method)(url, body) if body is not None else getattr(api, method)(url)
            assert response.status_code in (403, 404), (stranger, url, response.status_code)
        listed = api.get("/api/v1/merchant/vouchers").json()
        assert all(item["deal_id"] != deal.pk for item in listed)
        assert api.get("/api/v1/merchant/settlements").json() == []
        assert api.get("/api/v1/merchant/disputes").json() == []
    v_free.refresh_from_db()
    st.refresh_from_db()
    assert v_free.state == "issued" and Voucher.objects.get(pk=v_used.pk).state == "used"
    assert st.state == "draft"  # neither confirmed nor disputed by the strangers
    assert Tally.objects.get(merchant=shop.merchant).units == 5
    assert Dispute.objects.get(pk=dispute.pk).comments.count() == 1
    # the first merchant's other-store clerk cannot act at the first store either
    api.as_user(shop.other_clerk)
    assert api.post("/api/v1/vouchers/verify", {"code": v_free.code, "store": shop.store.pk}).status_code == 404
    assert api.get(f"/api/v1/merchant/settlements/{st.pk}").status_code == 404
