"""Browsing at scale (ADR 0013): the city page, the deal page and the API's public list are kept a
few seconds for anonymous visitors, with each visitor's own CSRF token and idempotency key; never
for signed-in visitors, POSTs or a visitor with a message waiting; the list reads a page from the
index on (city, ends_at, id) instead of sorting a city's deals."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from ninja.responses import NinjaJSONEncoder

from tests.conftest import PASSWORD
from tests.deals.factories import join_and_pay
from tuangou.api.deals import DealOut, deal_out
from tuangou.core import microcache
from tuangou.deals import selectors
from tuangou.deals.models import Deal

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
IDEMPOTENCY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def pages_cache(settings):
    """The microcache on, in memory (the test settings turn it off)."""
    settings.CACHES = {
        **settings.CACHES,
        "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-pages"},
    }
    caches["pages"].clear()
    yield caches["pages"]
    caches["pages"].clear()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def any_pages_cache(request, settings):
    """The microcache on, in memory and on Redis (core.microcache.RedisCache, where a miss is
    one script and one pipeline)."""
    if request.param == "memory":
        yield request.getfixturevalue("pages_cache")
        return
    import os

    settings.CACHES = {
        **settings.CACHES,
        "pages": {
            "BACKEND": "tuangou.core.microcache.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
            "KEY_PREFIX": f"test-pages-{os.getpid()}-{time.time()}",  # its own keys; they expire
        },
    }
    store = caches["pages"]
    yield store
    store.delete_many(["k", "k:rendering", "cold", "cold:rendering", "gone", "gone:rendering"])


def _visitor(**kwargs) -> Client:
    c = Client(**kwargs)
    c.cookies["tuangou_language"] = "en"
    return c


def _member(user) -> Client:
    c = _visitor()
    c.login(mobile=user.mobile, password=PASSWORD)
    return c


def _queries(client: Client, path: str) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return response.content.decode(), len(ctx.captured_queries)


def test_anonymous_city_page_is_rendered_once_and_each_visitor_gets_a_working_csrf_token(deal_factory, pages_cache):
    deal_factory(title="Hotpot for two")
    first, rendered = _queries(_visitor(), "/c/shanghai/")
    second_visitor = _visitor(enforce_csrf_checks=True)
    second, cached = _queries(second_visitor, "/c/shanghai/")
    assert rendered > 0 and cached == 0
    assert "Hotpot for two" in second
    assert "csrf-slot" not in second and "idempotency-slot" not in second
    token = CSRF_INPUT.search(second).group(1)  # type: ignore[union-attr]
    assert token != CSRF_INPUT.search(first).group(1)  # type: ignore[union-attr]
    assert f'"X-CSRFToken": "{token}"' in second
    # The token from the cached page is this visitor's: the language switch accepts it.
    r = second_visitor.post(reverse("set_language"), {"language": "zh-hans", "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    r = second_visitor.post(reverse("set_language"), {"language": "zh-hans", "csrfmiddlewaretoken": "x" * 64})
    assert r.status_code == 403


def test_a_language_and_a_page_number_are_pages_of_their_own(deal_factory, pages_cache):
    deal_factory()
    english, _ = _queries(_visitor(), "/c/shanghai/")
    chinese = _visitor()
    chinese.cookies["tuangou_language"] = "zh-hant"
    page, queries = _queries(chinese, "/c/shanghai/")
    assert queries > 0 and 'lang="zh-Hant"' in page and 'lang="en"' in english
    assert _queries(_visitor(), "/c/shanghai/?page=2")[1] > 0


def test_deal_page_counts_may_be_seconds_stale_for_visitors_but_not_for_members(
    deal_factory, member, make_user, pages_cache
):
    deal = deal_factory(title="Hotpot for two", tipping_point=5)
    before, _ = _queries(_visitor(), f"/deals/{deal.pk}/")
    assert "0 people joined" in before
    join_and_pay(deal, make_user())
    visitor_page, cached = _queries(_visitor(), f"/deals/{deal.pk}/")
    assert cached == 0 and "0 people joined" in visitor_page  # at most PAGE_SECONDS old
    member_page, _ = _queries(_member(member), f"/deals/{deal.pk}/")
    assert "1 person joined" in member_page and str(member) in member_page
    pages_cache.clear()  # PAGE_SECONDS later
    assert "1 person joined" in _queries(_visitor(), f"/deals/{deal.pk}/")[0]


def test_each_visitor_gets_a_fresh_idempotency_key_from_a_cached_deal_page(deal_factory, pages_cache):
    deal = deal_factory()
    keys = {IDEMPOTENCY_INPUT.search(_queries(_visitor(), f"/deals/{deal.pk}/")[0]).group(1) for _ in range(3)}  # type: ignore[union-attr]
    assert len(keys) == 3 and not any("slot" in k for k in keys)


def test_a_members_page_is_never_cached_nor_shown_to_others(deal_factory, member, pages_cache):
    deal = deal_factory()
    for path in ("/c/shanghai/", f"/deals/{deal.pk}/"):
        _queries(_member(member), path)
        _queries(_member(member), path)
        page, queries = _queries(_visitor(), path)
        assert queries > 0 and str(member) not in page


def test_a_visitor_with_a_message_waiting_sees_it_and_nobody_else_does(deal_factory, pages_cache):
    deal_factory()
    c = _visitor()
    storage = CookieStorage(RequestFactory().get("/"))
    c.cookies["messages"] = storage._encode([Message(constants.INFO, "A message for one visitor")])  # type: ignore[attr-defined]
    page, _ = _queries(c, "/c/shanghai/")
    assert "A message for one visitor" in page
    assert "A message for one visitor" not in _queries(_visitor(), "/c/shanghai/")[0]


def test_posts_are_never_served_from_the_cache(deal_factory, member, pages_cache):
    deal = deal_factory(per_member_limit=2)
    _queries(_visitor(), f"/deals/{deal.pk}/")
    r = _member(member).post(f"/deals/{deal.pk}/", {"quantity": 3, "idempotency_key": "k-1"})
    assert r.status_code == 200 and "quantity-errors" in r.content.decode()
    r = _visitor().post(f"/deals/{deal.pk}/", {"quantity": 1})
    assert r.status_code == 302 and "/login" in r["Location"]


def test_public_api_list_is_cached_and_says_what_ninja_would(deal_factory, api, pages_cache):
    deal = deal_factory(tiers=[(5, "90.00")])
    with CaptureQueriesContext(connection) as first:
        r = api.get("/api/v1/deals", {"city": "shanghai"})
    assert r.status_code == 200 and r["Content-Type"] == "application/json; charset=utf-8"
    listed = r.json()
    # The same JSON as ninja's for list[DealOut]: each DealOut validated, dumped and encoded.
    ninja = [DealOut.model_validate(deal_out(d)).model_dump() for d in selectors.deal_list_public(city="shanghai")]
    assert listed == json.loads(json.dumps(ninja, cls=NinjaJSONEncoder))
    assert listed[0]["id"] == deal.pk and listed[0]["tiers"] == [{"threshold": 5, "price": "90.00"}]
    assert listed[0]["current_price"] == "99.00" and listed[0]["original_price"] == "200.00"
    with CaptureQueriesContext(connection) as again:
        assert api.get("/api/v1/deals", {"city": "shanghai"}).content == r.content
    assert len(first.captured_queries) > 0 and len(again.captured_queries) == 0
    assert api.get("/api/v1/deals", {"city": "shanghai", "offset": 1}).json() == []


def test_managed_api_list_is_not_cached(deal_factory, api, merchant_admin, pages_cache):
    deal_factory()
    api.as_user(merchant_admin)
    api.get("/api/v1/deals", {"scope": "manage"})
    with CaptureQueriesContext(connection) as ctx:
        assert len(api.get("/api/v1/deals", {"scope": "manage"}).json()) == 1
    assert len(ctx.captured_queries) > 0
    assert api.get("/api/v1/deals", {"scope": "manage", "limit": 0}).status_code == 400


def test_public_list_by_end_time_on_sale_only_when_asked(deal_factory):
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    later = deal_factory(ends_at=now + dt.timedelta(days=2))
    sooner = deal_factory(ends_at=now + dt.timedelta(days=1))
    closed = deal_factory(ends_at=now + dt.timedelta(hours=1))
    Deal.objects.filter(pk=closed.pk).update(status="closed")
    deal_factory(live=False)  # a draft is never public
    assert [d.pk for d in selectors.deal_list_public(city="shanghai")] == [closed.pk, sooner.pk, later.pk]
    assert [d.pk for d in selectors.deal_list_public(city="shanghai", on_sale=True)] == [sooner.pk, later.pk]
    assert list(selectors.deal_list_public(city="nowhere")) == []
    with CaptureQueriesContext(connection) as ctx:
        cards = list(selectors.deal_list_public(city="shanghai", on_sale=True))
        assert [len(d.tier_list) for d in cards] == [0, 0] and [d.cover for d in cards] == [None, None]
        assert all(d.merchant.name and d.city.slug for d in cards)
    assert len(ctx.captured_queries) == 3  # deals, tiers, media


@pytest.mark.postgres
def test_a_city_page_reads_the_index_in_order_instead_of_sorting_the_city(deal_factory):
    deal_factory()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        on_sale = selectors.deal_list_public(city="shanghai", on_sale=True)[40:60].explain()
        public = selectors.deal_list_public(city="shanghai")[40:60].explain()
    assert "deal_city_on_sale_ends" in on_sale and "Sort" not in on_sale.split("->")[1]
    assert "deal_city_ends" in public


def test_a_stale_page_is_rendered_again_by_one_request_while_the_others_get_the_previous_one(any_pages_cache):
    rendered = []

    def render(text: str) -> bytes:
        rendered.append(text)
        return text.encode()

    assert microcache.cached_bytes("k", lambda: render("first")) == b"first"
    assert microcache.cached_bytes("k", lambda: render("second")) == b"first"  # fresh
    any_pages_cache.set("k", (b"first", time.time() - 1), 60)  # PAGE_SECONDS later
    any_pages_cache.add("k:rendering", 1, 10)  # another request is rendering it again
    assert microcache.cached_bytes("k", lambda: render("second")) == b"first"
    any_pages_cache.delete("k:rendering")
    assert microcache.cached_bytes("k", lambda: render("second")) == b"second"
    assert rendered == ["first", "second"]


def test_a_cold_page_is_rendered_once_for_many_visitors_at_once(any_pages_cache, monkeypatch):
    """A stampede on a key nobody has: one thread renders, the others wait for its bytes."""
    calls = []
    started = threading.Event()

    def render() -> bytes:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return b"page"

    with ThreadPoolExecutor(10) as pool:
        first = pool.submit(microcache.cached_bytes, "cold", render)
        started.wait(5)
        others = [pool.submit(microcache.cached_bytes, "cold", render) for _ in range(9)]
        got = [first.result()] + [f.result() for f in others]
    assert got == [b"page"] * 10 and len(calls) == 1


def test_a_waiter_takes_the_page_stored_between_its_two_reads(pages_cache, monkeypatch):
    """The renderer stores the page and lets go of its lock while a waiter is between its reads
    of the lock and of the page: the waiter takes the stored page and does not render it again
    (read the other way round, the page was missing and then the lock gone: a second render)."""
    monkeypatch.setattr(microcache, "_POLL_SECONDS", 0.0)
    pages_cache.add("busy:rendering", 1, 10)  # another request is rendering it
    reads = []
    plain_get = pages_cache.get

    def get(key, *args, **kwargs):
        value = plain_get(key, *args, **kwargs)
        reads.append(key)
        if len(reads) == 2:  # the waiter's first read: the renderer finishes right after it
            pages_cache.set("busy", (b"stored", time.time() + 5), 30)
            pages_cache.delete("busy:rendering")
        return value

    monkeypatch.setattr(pages_cache, "get", get)
    rendered = []
    assert microcache.cached_bytes("busy", lambda: rendered.append(1) or b"again") == b"stored"
    assert rendered == []


def test_a_page_not_to_be_kept_does_not_make_the_others_wait(any_pages_cache, monkeypatch):
    monkeypatch.setattr(microcache, "WAIT_SECONDS", 30.0)
    assert microcache.cached_bytes("gone", lambda: None) is None
    any_pages_cache.add("gone:rendering", 1, 10)
    threading.Timer(0.1, any_pages_cache.delete, ["gone:rendering"]).start()
    began = time.monotonic()
    assert microcache.cached_bytes("gone", lambda: b"mine") == b"mine"
    assert time.monotonic() - began < 5


def test_a_miss_leaves_no_lock_and_a_failed_render_lets_the_next_request_render(any_pages_cache):
    assert microcache.cached_bytes("k", lambda: b"page") == b"page"
    assert any_pages_cache.get("k:rendering") is None and any_pages_cache.get("k")[0] == b"page"

    def fail() -> bytes:
        raise RuntimeError("render failed")

    with pytest.raises(RuntimeError):
        microcache.cached_bytes("cold", fail)
    assert any_pages_cache.get("cold:rendering") is None
    assert microcache.cached_bytes("cold", lambda: b"second") == b"second"


def test_a_missing_deal_is_a_404_for_visitors_too(pages_cache):
    assert _visitor().get("/deals/999999/").status_code == 404
    assert _visitor().get("/c/nowhere/").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_visitor_joins_from_a_page_another_visitor_had_rendered(
    browser, live_server, deal_factory, member, pages_cache
):
    """In Chromium: the first visitor renders the deal page; the second gets it from the
    microcache, and its form (their own CSRF token) takes them to sign in, then to their order."""
    from tuangou.orders.models import Order

    deal = deal_factory(title="Hotpot for two")
    contexts = [browser.new_context(viewport={"width": 390, "height": 844}) for _ in range(2)]
    try:
        first, second = (c.new_page() for c in contexts)
        for p in (first, second):
            p.set_default_timeout(15000)
            p.goto(live_server.url + "/c/shanghai/")
            p.click(f"[data-deal='{deal.pk}']")
            p.wait_for_url(f"**/deals/{deal.pk}/")  # is_visible() does not wait for the navigation
            p.locator("#price-compare").wait_for(state="visible")
        assert sum(":web:page:" in k for k in pages_cache._cache) == 2  # the city page and the deal page
        assert first.input_value("[name=csrfmiddlewaretoken] >> nth=0") != second.input_value(
            "[name=csrfmiddlewaretoken] >> nth=0"
        )
        second.fill("#id_quantity", "1")
        second.click("#join button[type=submit]")
        second.wait_for_url("**/login/**")
        second.fill("#id_pw-mobile", member.mobile)
        second.fill("#id_pw-password", PASSWORD)
        second.click("#password-login button[type=submit]")
        second.wait_for_url(f"**/deals/{deal.pk}/")
        assert member.mobile in second.content() or str(member) in second.content()
        second.fill("#id_quantity", "1")
        second.click("#join button[type=submit]")
        second.wait_for_url("**/orders/*/")
        assert Order.objects.get(user=member, deal=deal).quantity == 1
    finally:
        for c in contexts:
            c.close()


@pytest.mark.redis
def test_pages_cache_on_redis_keeps_one_client_per_pool(settings, deal_factory):
    """core.microcache.RedisCache: Django's Redis cache that does not build a client per call;
    it stores, adds, reads and deletes as Django's does, and the microcache runs on it."""
    import os

    settings.CACHES = {
        **settings.CACHES,
        "pages": {
            "BACKEND": "tuangou.core.microcache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-pages-{os.getpid()}-{time.time()}",  # its own keys; they expire
        },
    }
    store = caches["pages"]
    assert isinstance(store, microcache.RedisCache)
    try:
        assert store._cache.get_client() is store._cache.get_client(write=True)
        store.set("k", (b"page", 1.0), 30)
        assert store.get("k") == (b"page", 1.0)
        assert store.add("lock", 1, 10) and not store.add("lock", 1, 10)
        store.delete("lock")
        assert store.add("lock", 1, 10)
        deal = deal_factory()
        first = _visitor().get(f"/deals/{deal.pk}/").content
        Deal.objects.filter(pk=deal.pk).update(title="changed")
        assert _visitor().get(f"/deals/{deal.pk}/").content.count(b"changed") == 0  # kept, from Redis
        assert first.count(deal.title.encode()) >= 1
    finally:
        store.delete_many(["k", "lock"])
