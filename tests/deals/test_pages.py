"""Storefront and back-office deal pages: they render in three languages, join works from the
page, strangers are refused, and list pages keep a constant number of queries."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tuangou.deals.models import Deal
from tuangou.orders.models import Order

pytestmark = pytest.mark.django_db


def _client(user=None, lang="zh-hant") -> Client:
    c = Client()
    c.cookies["tuangou_language"] = lang  # the language switch (pages ignore the browser's preference)
    if user is not None:
        c.login(mobile=user.mobile, password=PASSWORD)
    return c


@pytest.mark.parametrize(
    ("lang", "word"), [("zh-hant", 'lang="zh-Hant"'), ("zh-hans", 'lang="zh-Hans"'), ("en", 'lang="en"')]
)
def test_city_and_deal_pages_in_three_languages(deal_factory, lang, word):
    deal = deal_factory(tiers=[(5, "90.00")])
    c = _client(lang=lang)
    page = c.get("/c/shanghai/")
    assert page.status_code == 200 and word in page.content.decode()
    assert deal.title in page.content.decode()
    detail = c.get(f"/deals/{deal.pk}/").content.decode()
    assert "¥200.00" in detail and "¥99.00" in detail and "¥90.00" in detail
    assert 'id="price-compare"' in detail and "data-ends" in detail


def test_join_from_the_deal_page(deal_factory, member):
    deal = deal_factory(per_member_limit=2)
    c = _client(member)
    r = c.post(f"/deals/{deal.pk}/", {"quantity": 3, "idempotency_key": "page-1"})
    assert r.status_code == 200 and "quantity-errors" in r.content.decode()
    assert Order.objects.count() == 0
    r = c.post(f"/deals/{deal.pk}/", {"quantity": 2, "idempotency_key": "page-2"})
    order = Order.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/orders/{order.pk}/"
    # A double click (same key) goes to the same order.
    c.post(f"/deals/{deal.pk}/", {"quantity": 2, "idempotency_key": "page-2"})
    assert Order.objects.count() == 1
    assert c.get(f"/orders/{order.pk}/").status_code == 200
    assert f"/orders/{order.pk}/" in c.get("/me/orders/").content.decode()


def test_demo_pay_only_when_enabled(deal_factory, member, settings):
    deal = deal_factory(tipping_point=1)
    c = _client(member)
    c.post(f"/deals/{deal.pk}/", {"quantity": 1})
    order = Order.objects.get()
    settings.ORDERS_DEMO_PAY = False
    assert c.post(f"/orders/{order.pk}/demo-pay/").status_code == 404
    settings.ORDERS_DEMO_PAY = True
    c.post(f"/orders/{order.pk}/demo-pay/")
    assert Order.objects.get().status == "paid"
    assert Deal.objects.get(pk=deal.pk).status == "tipped"


def test_other_members_cannot_see_my_order(deal_factory, member, make_user):
    deal = deal_factory()
    c = _client(member)
    c.post(f"/deals/{deal.pk}/", {"quantity": 1})
    order = Order.objects.get()
    assert _client(make_user()).get(f"/orders/{order.pk}/").status_code == 404


def test_team_pages(deal_factory, make_user, settings):
    settings.ORDERS_DEMO_PAY = True
    deal = deal_factory(mode="team", team_size=2, team_hours=24, tipping_point=1)
    leader = make_user(name="王小明")
    c = _client(leader)
    r = c.post(f"/deals/{deal.pk}/teams/", {"idempotency_key": "t"})
    order = Order.objects.get()
    c.post(f"/orders/{order.pk}/demo-pay/")
    team_page = c.get(f"/teams/{order.team_id}/").content.decode()
    assert r.status_code == 302 and f"/teams/{order.team_id}/" in team_page  # share link
    friend = _client(make_user())
    friend.post(f"/teams/{order.team_id}/", {"idempotency_key": "f"})
    assert Order.objects.count() == 2


def test_merchant_minisite(deal_factory, merchant):
    deal = deal_factory()
    c = _client()
    for tab in ("", "details/", "promotions/", "deals/"):
        page = c.get(f"/m/{merchant.slug}/{tab}")
        assert page.status_code == 200
    assert deal.title in c.get(f"/m/{merchant.slug}/deals/").content.decode()
    assert c.get(f"/m/{merchant.slug}/nope/").status_code == 404


def test_backoffice_review_and_permissions(deal_factory, operator, merchant_admin, make_user):
    deal = deal_factory(live=False)
    m = _client(merchant_admin)
    assert deal.title in m.get("/backoffice/deals/").content.decode()
    m.post(f"/backoffice/deals/{deal.pk}/submit/")
    assert Deal.objects.get(pk=deal.pk).status == "submitted"
    m.post(f"/backoffice/deals/{deal.pk}/approve/")
    assert Deal.objects.get(pk=deal.pk).status == "submitted"  # merchants do not approve
    stranger = _client(make_user("merchant"))
    assert stranger.get(f"/backoffice/deals/{deal.pk}/").status_code == 404
    assert deal.title not in stranger.get("/backoffice/deals/").content.decode()
    o = _client(operator)
    assert deal.title in o.get("/backoffice/deals/review/").content.decode()
    o.post(f"/backoffice/deals/{deal.pk}/reject/", {"reason": ""})
    assert Deal.objects.get(pk=deal.pk).status == "submitted"
    o.post(f"/backoffice/deals/{deal.pk}/reject/", {"reason": "價格不實"})
    assert Deal.objects.get(pk=deal.pk).status == "returned"
    assert _client(make_user()).get("/backoffice/deals/").status_code == 403


def test_backoffice_edit_respects_state(deal_factory, operator):
    deal = deal_factory()
    o = _client(operator)
    o.post(f"/backoffice/deals/{deal.pk}/", {"form": "edit", "title": "新的標題", "stock": 60})
    deal.refresh_from_db()
    assert deal.title == "新的標題" and deal.stock == 60


def test_list_pages_constant_queries(deal_factory, operator, member, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        deal_factory()
    pages = [(_client(), "/c/shanghai/"), (_client(operator), "/backoffice/deals/"), (_client(member), "/me/orders/")]
    counts = []
    for c, url in pages:
        c.get(url)  # warm the session and caches
        with CaptureQueriesContext(connection) as q:
            assert c.get(url).status_code == 200
        counts.append(len(q.captured_queries))
    for _ in range(6):
        deal_factory()
    for (c, url), before in zip(pages, counts, strict=True):
        with django_assert_max_num_queries(before):
            c.get(url)


def test_visibility_does_not_repeat_rows(deal_factory, merchant, member, make_user):
    """A merchant with several members: its deals and orders are listed once each."""
    from tuangou.core.ownership import get_visible, visible_to
    from tuangou.merchants.models import MerchantMember
    from tuangou.orders import services as order_services

    for _ in range(2):
        MerchantMember.objects.create(merchant=merchant, user=make_user("clerk"), store=merchant.stores.first())
    deal = deal_factory()
    order = order_services.deal_join(actor=member, deal_id=deal.pk, quantity=1)
    assert get_visible(Order.objects.all(), member, pk=order.pk) == order
    admin = merchant.members.filter(store__isnull=True).first().user
    assert visible_to(Order.objects.all(), admin).count() == 1
    assert visible_to(Deal.objects.all(), admin).count() == 1
    assert _client(member).get(f"/orders/{order.pk}/").status_code == 200


def test_merchant_drafts_a_deal_in_the_browser(merchant, merchant_admin, make_user):
    c = _client(merchant_admin)
    form = c.get("/backoffice/deals/new/").content.decode()
    assert merchant.name in form
    body = {
        "merchant_id": merchant.pk,
        "title": "週末早午餐",
        "original_price": "128",
        "group_price": "168",
        "stock": "50",
        "tipping_point": "5",
        "count_basis": "people",
        "per_member_limit": "2",
        "starts_at": "2030-01-01T10:00",
        "ends_at": "2030-01-05T10:00",
        "tiers": "10:59, 20:49",
        "mode": "single",
        "delivery": "voucher",
    }
    page = c.post("/backoffice/deals/new/", body)
    assert page.status_code == 200 and "group_price-errors" in page.content.decode()
    assert Deal.objects.count() == 0
    body["group_price"] = "69"
    r = c.post("/backoffice/deals/new/", body)
    deal = Deal.objects.get()
    assert r.status_code == 302 and deal.status == "draft" and [t.threshold for t in deal.tier_list] == [10, 20]
    # Another merchant's admin cannot pick this merchant.
    other = _client(make_user("merchant"))
    body["title"] = "x"
    assert other.post("/backoffice/deals/new/", body).status_code == 200
    assert Deal.objects.count() == 1


# -- the deal page's reads (ADR 0015) -----------------------------------------------------------


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_deal_public_reads_what_the_orm_reads(deal_factory, merchant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tuangou.deals import selectors
    from tuangou.deals.models import DealMedia
    from tuangou.merchants.models import Store

    deal = deal_factory(tiers=[(20, "80.00"), (5, "90.00")])
    Deal.objects.filter(pk=deal.pk).update(channels=["web", "app"])  # a JSON column read back as a list
    DealMedia.objects.create(deal=deal, kind="image", url="/m/b.jpg", position=2)
    DealMedia.objects.create(deal=deal, kind="video", url="/m/v.mp4", position=0)
    DealMedia.objects.create(deal=deal, kind="image", url="/m/a.jpg", caption="前門", position=1)
    deal.stores.add(Store.objects.create(merchant=merchant, name="A 分店", address="路 2 號"))
    orm = Deal.objects.select_related("merchant", "city", "category").get(pk=deal.pk)

    def seen(d):
        return (
            _fields(d),
            _fields(d.merchant),
            _fields(d.city),
            _fields(d.category),
            [(t.pk, t.threshold, t.price) for t in d.tier_list],
            [(m.pk, m.src, m.caption) for m in d.images],
            d.video.pk,
            [s.pk for s in d.stores.all()],
            d.current_price,
        )

    with CaptureQueriesContext(connection) as ctx:
        read = seen(selectors.deal_public(deal_id=deal.pk))
    assert len(ctx.captured_queries) == 1  # the deal with its merchant, city, category, tiers, media and stores
    assert read == seen(orm)
    assert read[0]["channels"] == ["web", "app"] and len(read[7]) == 2
    # A deal without a category.
    Deal.objects.filter(pk=deal.pk).update(category=None)
    assert selectors.deal_public(deal_id=deal.pk).category is None


def test_deal_public_shows_what_public_shows(deal_factory):
    from tuangou.deals import selectors

    deal = deal_factory()
    for status, _label in Deal._meta.get_field("status").choices:
        Deal.objects.filter(pk=deal.pk).update(status=status)
        shown = selectors.deal_public(deal_id=deal.pk) is not None
        assert shown == Deal.objects.public().filter(pk=deal.pk).exists(), status
    assert selectors.deal_public(deal_id=deal.pk + 1000) is None


def test_the_quantity_input_is_the_join_forms_widget(deal_factory, member):
    """The deal page writes the quantity input in plain HTML: it is what the form would render."""
    import re

    from tuangou.web.views.storefront import JoinForm

    def quantity_input(page: str) -> str:
        return re.search(r'<input type="number"[^>]*>', page).group(0)

    deal = deal_factory(per_member_limit=2)
    page = _client().get(f"/deals/{deal.pk}/").content.decode()
    assert quantity_input(page) == str(JoinForm()["quantity"])
    assert '<label for="id_quantity">數量</label>' in page
    for posted in ("3", ""):
        page = _client(member).post(f"/deals/{deal.pk}/", {"quantity": posted}).content.decode()
        form = JoinForm({"quantity": posted})
        if form.is_valid():
            form.add_error("quantity", "x")
        assert quantity_input(page) == str(form["quantity"]), posted
