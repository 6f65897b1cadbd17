"""Mini-site editing by the merchant's admin; the BD pipeline pages for reps and operators."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.deals.factories import make_merchant
from tuangou.accounts.roles import Role
from tuangou.core.errors import NotFound, ValidationFailed
from tuangou.core.models import City
from tuangou.core.workflow.engine import history
from tuangou.merchants import services
from tuangou.merchants.models import Merchant, MerchantMember, Prospect

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_merchant_admin_edits_the_mini_site(make_user: Callable[..., Any], settings: Any) -> None:
    admin = make_user(Role.MERCHANT)
    merchant = make_merchant(admin=admin)
    store = merchant.stores.get()
    c = _client(admin)
    assert c.get("/portal/site/").status_code == 200
    bad = c.post("/portal/site/", {"description": "老店", "promotions": "", "video_url": "ftp://x/y.mp4"})
    assert bad.status_code == 200 and b"video_url-errors" in bad.content
    assert Merchant.objects.get(pk=merchant.pk).description == ""
    ok = c.post(
        "/portal/site/",
        {
            "description": "二十年老店",
            "promotions": "週三午市買一送一",
            "video_url": "https://video.example.com/shop.mp4",
            "phone": "021-1234",
        },
    )
    assert ok.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.promotions, merchant.video_url, merchant.phone) == (
        "週三午市買一送一",
        "https://video.example.com/shop.mp4",
        "021-1234",
    )
    assert "週三午市買一送一" in Client().get(f"/m/{merchant.slug}/promotions/").content.decode()
    no_address = c.post("/portal/site/", {"store": store.pk, f"s{store.pk}-address": " "})
    assert no_address.status_code == 200 and b"errorlist" in no_address.content
    saved = c.post(
        "/portal/site/",
        {"store": store.pk, f"s{store.pk}-address": "南京西路9號", f"s{store.pk}-opening_hours": "11:00-21:00"},
    )
    assert saved.status_code == 302
    store.refresh_from_db()
    assert (store.address, store.opening_hours) == ("南京西路9號", "11:00-21:00")


def test_nobody_edits_another_merchants_site(make_user: Callable[..., Any]) -> None:
    admin, rival = make_user(Role.MERCHANT), make_user(Role.MERCHANT)
    merchant = make_merchant(admin=admin)
    theirs = make_merchant(admin=rival)
    clerk = make_user(Role.CLERK)
    MerchantMember.objects.create(merchant=merchant, user=clerk, store=merchant.stores.get())
    for stranger in (rival, clerk):
        with pytest.raises(NotFound):
            services.merchant_site_update(actor=stranger, merchant_id=merchant.pk, description="x", promotions="x")
        with pytest.raises(NotFound):
            services.store_update(actor=stranger, store_id=merchant.stores.get().pk, address="x")
    # the rival's page only ever shows the rival's own merchant
    page = _client(rival).get(f"/portal/site/?merchant={merchant.pk}")
    assert page.status_code == 200 and theirs.name in page.content.decode()
    assert _client(rival).post(f"/portal/site/?merchant={merchant.pk}", {"description": "hacked"}).status_code == 302
    assert Merchant.objects.get(pk=merchant.pk).description == ""
    assert _client(clerk).get("/portal/site/").status_code == 403
    with pytest.raises(ValidationFailed) as info:
        services.merchant_site_update(actor=admin, merchant_id=merchant.pk, description="", promotions="x" * 2001)
    assert "promotions" in info.value.errors


def test_bd_rep_works_a_prospect_through_the_pages(
    make_user: Callable[..., Any], operator: Any, django_assert_max_num_queries: Any
) -> None:
    city = City.objects.create(slug="sz", name="蘇州")
    rep, other_rep = make_user(Role.BD_REP), make_user(Role.BD_REP)
    c = _client(rep)
    assert c.post("/backoffice/bd/", {"name": "", "city_id": city.pk}).status_code == 200
    created = c.post("/backoffice/bd/", {"name": "平江路茶樓", "city_id": city.pk, "contact": "顧老闆"})
    p = Prospect.objects.get(name="平江路茶樓")
    assert created.status_code == 302 and p.rep == rep and p.stage == "lead"
    for i in range(5):
        services.prospect_create(actor=rep, name=f"店{i}", city_id=city.pk)
    with django_assert_max_num_queries(12):
        listed = c.get("/backoffice/bd/")
    assert listed.status_code == 200 and "平江路茶樓" in listed.content.decode()
    url = f"/backoffice/bd/{p.pk}/"
    assert c.post(url, {"form": "visit", "v-notes": " "}).status_code == 200
    assert c.post(url, {"form": "visit", "v-notes": "老闆有興趣", "v-next_step": "帶報價"}).status_code == 302
    assert Prospect.objects.get(pk=p.pk).stage == "contacted"
    assert c.post(url, {"form": "move", "m-action": "negotiate"}).status_code == 302
    page = c.get(url)
    assert page.status_code == 200 and b'id="agreement-form"' in page.content and "老闆有興趣" in page.content.decode()
    today = timezone.localdate()
    bad = c.post(
        url,
        {
            "form": "agreement",
            "a-commission_kind": "per_person",
            "a-commission_rate": "0",
            "a-commission_per_person": "abc",
            "a-settlement_cycle": "weekly",
            "a-valid_from": str(today),
            "a-valid_until": str(today + dt.timedelta(days=365)),
        },
    )
    assert bad.status_code == 200 and b"commission_per_person-errors" in bad.content
    filed = c.post(
        url,
        {
            "form": "agreement",
            "a-commission_kind": "per_person",
            "a-commission_rate": "0",
            "a-commission_per_person": "6.00",
            "a-settlement_cycle": "weekly",
            "a-valid_from": str(today),
            "a-valid_until": str(today + dt.timedelta(days=365)),
            "a-file": SimpleUploadedFile("agreement.pdf", b"%PDF-1.4 signed", content_type="application/pdf"),
        },
    )
    assert filed.status_code == 302
    p.refresh_from_db()
    assert p.stage == "signed" and p.merchant is not None and p.agreement_file
    assert [h.action for h in history(p)] == ["contact", "negotiate", "sign"]
    # another rep does not see it; an operator does and may end it once live
    assert _client(other_rep).get(url).status_code == 404
    assert "平江路茶樓" not in _client(other_rep).get("/backoffice/bd/").content.decode()
    assert c.post(url, {"form": "move", "m-action": "go_live"}).status_code == 302
    ops = _client(operator)
    assert "平江路茶樓" in ops.get("/backoffice/bd/?stage=live").content.decode()
    assert ops.post(url, {"form": "move", "m-action": "lapse"}).status_code == 302
    assert Prospect.objects.get(pk=p.pk).stage == "lapsed"
    assert _client(make_user(Role.MERCHANT)).get("/backoffice/bd/").status_code == 403
