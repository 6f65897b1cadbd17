"""Data for the benchmarks and the checks after them, run inside Django on the bench database
through `Stack.call("name", **kwargs)` (each returns plain JSON values).

Objects with rules (a merchant with an agreement, a live deal) are made through the real
services, as the tests do; the big sizes (paid orders, vouchers, deals) are then copied in SQL
with ``INSERT … SELECT generate_series`` so that a million rows take seconds, not hours.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tuangou.accounts.models import ApiToken, User
from tuangou.accounts.roles import Role
from tuangou.accounts.services import _token_hash, roles_sync, user_grant_role
from tuangou.core.models import City
from tuangou.deals import services as deal_services
from tuangou.deals.models import Category, Deal
from tuangou.merchants.models import Agreement, Merchant, MerchantMember, Store

_serial = itertools.count(int(time.time()) % 100000)


def _sql(query: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def _timed(fn: Callable[[], Any], runs: int = 3) -> float:
    """Median seconds of `runs` calls after one warm-up call."""
    fn()
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        took.append(time.perf_counter() - t0)
    return statistics.median(took)


# --------------------------------------------------------------------------------------------
# People, merchants and deals


def _people(n: int, role: Role, *, tokens: bool = True) -> tuple[list[User], list[str]]:
    """`n` users with `role` and (optionally) an API token each, in bulk: no password hashing."""
    roles_sync()
    prefix = 100 + next(_serial) % 900
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(mobile=f"1{prefix:03d}{i:07d}", password=unusable, name=f"bench{i}") for i in range(n)]
    )
    group = Group.objects.get(name=role.value)
    through = User.groups.through
    through.objects.bulk_create([through(user_id=u.pk, group_id=group.pk) for u in users])
    keys: list[str] = []
    if tokens:
        keys = [secrets.token_urlsafe(32) for _ in users]
        ApiToken.objects.bulk_create(
            [ApiToken(user=u, key_hash=_token_hash(k), name="bench") for u, k in zip(users, keys, strict=True)]
        )
    return users, keys


def _one(role: Role) -> User:
    roles_sync()
    user = User.objects.create_user(f"19{next(_serial):09d}", None)
    user_grant_role(user=user, role=role)
    return user


def _city(slug: str) -> City:
    return City.objects.get_or_create(slug=slug, defaults={"name": slug})[0]


def _merchant(*, city: City, stores: int = 1) -> tuple[Merchant, User, list[Store]]:
    i = next(_serial)
    admin = _one(Role.MERCHANT)
    merchant = Merchant.objects.create(name=f"商家{i}", slug=f"bench-{i}", city=city)
    made = [Store.objects.create(merchant=merchant, name=f"店{k + 1}", address=f"路{k + 1}號") for k in range(stores)]
    MerchantMember.objects.create(merchant=merchant, user=admin)
    today = timezone.localdate()
    Agreement.objects.create(
        merchant=merchant,
        commission_rate=10,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today + dt.timedelta(days=365),
        signed_at=timezone.now(),
    )
    return merchant, admin, made


def _live_deal(*, merchant: Merchant, admin: User, **fields: Any) -> Deal:
    now = timezone.now()
    category = Category.objects.get_or_create(slug="food", defaults={"name": "美食"})[0]
    values: dict[str, Any] = {
        "title": "雙人火鍋套餐",
        "summary": "鍋底任選，含飲料",
        "original_price": "200.00",
        "group_price": "99.00",
        "stock": 1000,
        "tipping_point": 10,
        "per_member_limit": 5,
        "starts_at": now - dt.timedelta(minutes=1),
        "ends_at": now + dt.timedelta(days=3),
        **fields,
    }
    deal = deal_services.deal_create(actor=admin, merchant_id=merchant.pk, category_id=category.pk, **values)
    deal_services.deal_submit(actor=admin, deal_id=deal.pk)
    deal_services.deal_approve(actor=_one(Role.OPERATOR), deal_id=deal.pk)
    deal.refresh_from_db()
    if deal.status != "live":
        raise RuntimeError(f"deal {deal.pk} is {deal.status}, not live")
    return deal


# --------------------------------------------------------------------------------------------
# join


def join_setup(*, stock: int, per_member: int, buyers: int) -> dict[str, Any]:
    merchant, admin, _stores = _merchant(city=_city("bench-join"))
    deal = _live_deal(merchant=merchant, admin=admin, stock=stock, per_member_limit=per_member, tipping_point=stock)
    _users, tokens = _people(buyers, Role.MEMBER)
    return {"deal_id": deal.pk, "tokens": tokens}


def join_check(*, deal_id: int, ok_ids: list[int]) -> dict[str, Any]:
    """After the rush: no oversell, every order answered 201 exists once, no order nobody was told of."""
    from tuangou.orders.models import DealBuyer, IdempotencyKey, Order

    deal = Deal.objects.get(pk=deal_id)
    orders = Order.objects.filter(deal_id=deal_id)
    db_ids = set(orders.values_list("pk", flat=True))
    told = set(ok_ids)
    units = sum(orders.values_list("quantity", flat=True))
    over_limit = DealBuyer.objects.filter(deal_id=deal_id).extra(
        where=["reserved_units + paid_units > %s"], params=[deal.per_member_limit]
    )
    per_member = _sql(
        "SELECT count(*) FROM (SELECT user_id FROM orders_order WHERE deal_id = %s "
        "GROUP BY user_id HAVING sum(quantity) > %s) t",
        [deal_id, deal.per_member_limit],
    )[0][0]
    return {
        "stock": deal.stock,
        "reserved_units": deal.reserved_units,
        "sold_units": deal.sold_units,
        "orders": len(db_ids),
        "units": units,
        "oversold": max(0, units - deal.stock) + max(0, deal.reserved_units + deal.sold_units - deal.stock),
        "reserved_mismatch": deal.reserved_units + deal.sold_units - units,
        "lost": len(told - db_ids),  # answered 201 but not in the database
        "unanswered": len(db_ids - told),  # in the database but no 201 carried it
        "keys": IdempotencyKey.objects.filter(order__deal_id=deal_id).count(),
        "members_over_limit": per_member + over_limit.count(),
    }


# --------------------------------------------------------------------------------------------
# browse


def browse_setup(*, deals: int) -> dict[str, Any]:
    """`deals` live deals in one city: one made by the services, the rest copied from it in SQL."""
    city = _city(f"bench-{next(_serial)}")
    merchant, admin, _stores = _merchant(city=city, stores=3)
    first = _live_deal(merchant=merchant, admin=admin, tiers=[(50, "89.00"), (200, "79.00")])
    columns = [f.column for f in Deal._meta.concrete_fields if f.column != "id"]
    copied = ", ".join(f'"{c}"' for c in columns)
    chosen = ", ".join(
        {
            "title": "title || ' ' || g",
            "ends_at": "ends_at + g * interval '1 minute'",
        }.get(c, f'"{c}"')
        for c in columns
    )
    _sql(
        f"INSERT INTO deals_deal ({copied}) SELECT {chosen} FROM deals_deal, generate_series(1, %s) g "  # noqa: S608 - the model's own column names
        "WHERE id = %s",
        [deals - 1, first.pk],
    )
    _sql(
        "INSERT INTO deals_deal_stores (deal_id, store_id) SELECT d.id, s.store_id FROM deals_deal d, "
        "deals_deal_stores s WHERE d.city_id = %s AND d.id <> %s AND s.deal_id = %s",
        [city.pk, first.pk, first.pk],
    )
    _sql(
        "INSERT INTO deals_dealtier (deal_id, threshold, price) SELECT d.id, t.threshold, t.price "
        "FROM deals_deal d, deals_dealtier t WHERE d.city_id = %s AND d.id <> %s AND t.deal_id = %s",
        [city.pk, first.pk, first.pk],
    )
    _sql("ANALYZE")
    ids = list(Deal.objects.filter(city=city).order_by("pk").values_list("pk", flat=True))
    client = Client(HTTP_HOST="127.0.0.1")
    queries: dict[str, int] = {}
    middle = len(ids) // 2
    # (warm-up path, path): the warm-up fills the template and content-type caches with a page
    # of its own, so that the first request of `path` is a render (a miss of the anonymous
    # microcache, ADR 0013) and the second one is served from it ("… cached").
    pages = {
        "city page": (f"/c/{city.slug}/?page=2", f"/c/{city.slug}/"),
        "city page 5": (f"/c/{city.slug}/?page=4", f"/c/{city.slug}/?page=5"),
        "deal page": (f"/deals/{ids[middle - 1]}/", f"/deals/{ids[middle]}/"),
        "API list": (f"/api/v1/deals?city={city.slug}&limit=20", f"/api/v1/deals?city={city.slug}&limit=50"),
        "API deal": (f"/api/v1/deals/{ids[middle - 1]}", f"/api/v1/deals/{ids[middle]}"),
    }
    for name, (warm, path) in pages.items():
        client.get(warm)
        for label in (name, f"{name} cached"):
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")
            queries[label] = len(ctx.captured_queries)
    return {"city": city.slug, "deal_ids": ids, "queries": queries, "deals": len(ids)}


# --------------------------------------------------------------------------------------------
# verify


def verify_setup(*, stores: int, per_store: int) -> dict[str, Any]:
    """A merchant with `stores` stores, a clerk with a token at each, `per_store` vouchers for each
    store's counters and one more voucher for the contest."""
    from tuangou.orders.models import Order
    from tuangou.vouchers import codes
    from tuangou.vouchers.models import Voucher

    merchant, admin, made = _merchant(city=_city("bench-verify"), stores=stores)
    deal = _live_deal(merchant=merchant, admin=admin, stock=10**6, tipping_point=1)
    clerks, tokens = _people(stores, Role.CLERK)
    MerchantMember.objects.bulk_create(
        [MerchantMember(merchant=merchant, user=c, store=s) for c, s in zip(clerks, made, strict=True)]
    )
    buyers, _keys = _people(1, Role.MEMBER, tokens=False)
    now = timezone.now()
    total = stores * per_store + 1
    order = Order.objects.create(
        number=f"B{next(_serial):019d}",
        user=buyers[0],
        deal=deal,
        quantity=total,
        unit_price=deal.group_price,
        amount=deal.group_price * total,
        expires_at=now,
    )
    # paid without a payment: the counter only needs its vouchers (a new row starts pending)
    Order.objects.filter(pk=order.pk).update(status="paid", paid_at=now)
    today = timezone.localdate()
    vouchers = Voucher.objects.bulk_create(
        [
            Voucher(
                code=codes.generate(),
                order=order,
                seq=k + 1,
                deal=deal,
                merchant=merchant,
                user=buyers[0],
                amount=deal.group_price,
                valid_from=today - dt.timedelta(days=1),
                valid_until=today + dt.timedelta(days=90),
                sms_sent=1,
            )
            for k in range(total)
        ],
        batch_size=2000,
    )
    # as if issued at the tipping (a new voucher starts at "new"; issuing is the vouchers' business)
    Voucher.objects.filter(order=order).update(state="issued")
    codes_by_store = [[v.code for v in vouchers[s * per_store : (s + 1) * per_store]] for s in range(stores)]
    return {
        "store_ids": [s.pk for s in made],
        "tokens": tokens,
        "codes": codes_by_store,
        "contested": vouchers[-1].code,
        "contested_id": vouchers[-1].pk,
    }


def verify_check(*, voucher_id: int) -> dict[str, Any]:
    from tuangou.vouchers.models import Redemption, Voucher

    v = Voucher.objects.get(pk=voucher_id)
    return {"state": v.state, "redemptions": Redemption.objects.filter(voucher_id=voucher_id).count()}


def verify_count(*, store_ids: list[int]) -> dict[str, Any]:
    from tuangou.vouchers.models import Redemption

    return {"redemptions": Redemption.objects.filter(store_id__in=store_ids).count()}


# --------------------------------------------------------------------------------------------
# close


def _bulk_members(n: int) -> tuple[int, int]:
    """`n` members in SQL (the ids are consecutive); returns the first and last id."""
    prefix = 100 + next(_serial) % 900
    rows = _sql(
        "INSERT INTO accounts_user (password, mobile, email, name, is_active, is_staff, is_superuser, "
        "date_joined, language) "
        "SELECT '!', '1' || lpad(%s::text, 3, '0') || lpad(g::text, 7, '0'), '', '', true, false, false, "
        "now(), '' FROM generate_series(1, %s) g RETURNING id",
        [prefix, n],
    )
    ids = [r[0] for r in rows]
    return min(ids), max(ids)


def close_setup(*, paid_orders: int) -> dict[str, Any]:
    """A live deal whose tipping point is `paid_orders` people, with all but one of them paid."""

    merchant, admin, _stores = _merchant(city=_city("bench-close"))
    n = paid_orders - 1
    deal = _live_deal(
        merchant=merchant, admin=admin, stock=paid_orders + 100, tipping_point=paid_orders, per_member_limit=1
    )
    lo, _hi = _bulk_members(n)
    paid_at = timezone.now() - dt.timedelta(minutes=5)
    _sql(
        "INSERT INTO orders_order (number, user_id, deal_id, team_id, is_leader, quantity, unit_price, "
        "amount, status, created_at, expires_at, paid_at, closed_at) "
        "SELECT 'C' || lpad(%s::text, 5, '0') || lpad(g::text, 14, '0'), %s + g - 1, %s, NULL, false, 1, %s, %s, "
        "'paid', %s, %s, %s, NULL FROM generate_series(1, %s) g",
        [next(_serial), lo, deal.pk, deal.group_price, deal.group_price, paid_at, paid_at, paid_at, n],
    )
    _sql(
        "INSERT INTO orders_dealbuyer (deal_id, user_id, reserved_units, paid_units) "
        "SELECT %s, %s + g - 1, 0, 1 FROM generate_series(1, %s) g",
        [deal.pk, lo, n],
    )
    Deal.objects.filter(pk=deal.pk).update(sold_units=n, buyers=n)
    _sql("ANALYZE")
    # the baseline: a plain bulk insert of as many comparable rows (a voucher per order) into a
    # copy of the voucher table with the same indexes, in the same database
    _sql("DROP TABLE IF EXISTS bench_voucher_copy")
    _sql("CREATE TABLE bench_voucher_copy (LIKE vouchers_voucher INCLUDING ALL)")
    insert = (
        "INSERT INTO bench_voucher_copy (code, password, order_id, seq, deal_id, merchant_id, user_id, units, "
        "amount, state, valid_from, valid_until, issued_at, sms_sent, resends) "
        "SELECT substr(md5(random()::text), 1, 20), '', id, 1, deal_id, %s, user_id, 1, amount, 'issued', "
        "current_date, current_date + 90, now(), 0, 0 FROM orders_order WHERE deal_id = %s"
    )
    t0 = time.perf_counter()
    with transaction.atomic():
        _sql(insert, [merchant.pk, deal.pk])
    bulk_s = time.perf_counter() - t0
    _sql("DROP TABLE bench_voucher_copy")
    last, _keys = _people(1, Role.MEMBER, tokens=False)
    return {"deal_id": deal.pk, "last_user_id": last[0].pk, "bulk_insert_s": bulk_s, "orders": paid_orders}


def close_run(*, deal_id: int, last_user_id: int, timeout: float) -> dict[str, Any]:
    """The last buyer pays, the deal tips; wait until every voucher exists and every SMS is queued."""
    from tuangou.messaging.models import OutboxMessage
    from tuangou.orders import services as order_services
    from tuangou.vouchers.models import Voucher

    user = User.objects.get(pk=last_user_id)
    order = order_services.deal_join(actor=user, deal_id=deal_id, quantity=1)
    expected = Deal.objects.get(pk=deal_id).sold_units + 1
    sms_before = OutboxMessage.objects.filter(template="voucher_issued").count()
    t0 = time.perf_counter()
    order_services.order_mark_paid(order_id=order.pk)  # commits; the tipping's jobs are queued
    tipped = time.perf_counter() - t0
    vouchers_at = messages_at = None
    vouchers = messages = 0
    while time.perf_counter() - t0 < timeout:
        now = time.perf_counter() - t0
        if vouchers_at is None:
            vouchers = Voucher.objects.filter(deal_id=deal_id).count()
            if vouchers >= expected:
                vouchers_at = now
        if vouchers_at is not None:
            messages = OutboxMessage.objects.filter(template="voucher_issued").count() - sms_before
            if messages >= expected:
                messages_at = now
                break
        time.sleep(0.25)
    deal = Deal.objects.get(pk=deal_id)
    return {
        "expected": expected,
        "status": deal.status,
        "tipped_s": tipped,
        "vouchers": vouchers,
        "vouchers_s": vouchers_at,
        "messages": messages,
        "messages_s": messages_at,
        "timed_out": messages_at is None,
    }


# --------------------------------------------------------------------------------------------
# settlement


def settlement_setup(*, vouchers: int, per_order: int = 10) -> dict[str, Any]:
    """A merchant with `vouchers` vouchers used at its counter during last month."""
    from tuangou.settlement.services import previous_period

    merchant, admin, made = _merchant(city=_city("bench-settle"))
    deal = _live_deal(merchant=merchant, admin=admin, stock=10**7, tipping_point=1)
    agreement = merchant.agreements.get()
    start, end = previous_period(agreement.settlement_cycle, timezone.localdate())
    buyer, _keys = _people(1, Role.MEMBER, tokens=False)
    orders = -(-vouchers // per_order)
    paid_at = timezone.make_aware(dt.datetime.combine(start, dt.time(9)))
    rows = _sql(
        "INSERT INTO orders_order (number, user_id, deal_id, team_id, is_leader, quantity, unit_price, "
        "amount, status, created_at, expires_at, paid_at, closed_at) "
        "SELECT 'S' || lpad(%s::text, 5, '0') || lpad(g::text, 14, '0'), %s, %s, NULL, false, %s, %s, %s, "
        "'paid', %s, %s, %s, NULL FROM generate_series(1, %s) g RETURNING id",
        [
            next(_serial),
            buyer[0].pk,
            deal.pk,
            per_order,
            deal.group_price,
            deal.group_price * per_order,
            paid_at,
            paid_at,
            paid_at,
            orders,
        ],
    )
    first_order = min(r[0] for r in rows)
    span = (end - start).days + 1
    # voucher k belongs to order k // per_order, was used on day k % span of the period
    _sql(
        "INSERT INTO vouchers_voucher (code, password, order_id, seq, deal_id, merchant_id, user_id, units, amount, "
        "state, valid_from, valid_until, issued_at, used_at, used_store_id, used_by_id, closed_at, sms_sent, "
        "resends) "
        "SELECT lpad(%s::text, 5, '0') || lpad(k::text, 15, '0'), '', %s + k / %s, k %% %s + 1, %s, %s, %s, 1, %s, "
        "'used', %s, %s + 90, %s, %s + (k %% %s) * interval '1 day' + (k %% 36000) * interval '1 second', "
        "%s, %s, NULL, 1, 0 FROM generate_series(0, %s - 1) k",
        [
            next(_serial),
            first_order,
            per_order,
            per_order,
            deal.pk,
            merchant.pk,
            buyer[0].pk,
            deal.group_price,
            start,
            start,
            paid_at,
            paid_at + dt.timedelta(hours=1) - dt.timedelta(hours=9),
            span,
            made[0].pk,
            admin.pk,
            vouchers,
        ],
    )
    _sql("VACUUM ANALYZE vouchers_voucher")
    return {"merchant_id": merchant.pk, "start": start.isoformat(), "end": end.isoformat(), "vouchers": vouchers}


PLAIN_STATEMENT = (
    "SELECT count(*), sum(units), sum(amount), sum(round(amount * 10 / 100, 2)) FROM vouchers_voucher "
    "WHERE merchant_id = %s AND state = 'used' AND used_at >= %s AND used_at < %s"
)


def _period(start: str, end: str) -> tuple[dt.date, dt.date, list[Any]]:
    from tuangou.settlement.services import _bounds

    period_start, period_end = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return period_start, period_end, list(_bounds(period_start, period_end))


def settlement_plain(*, merchant_id: int, start: str, end: str) -> dict[str, Any]:
    """The baseline: the plain SQL aggregate over the statement's rows (median of 3 warm runs)."""
    _s, _e, bounds = _period(start, end)
    return {"plain_s": _timed(lambda: _sql(PLAIN_STATEMENT, [merchant_id, *bounds]))}


def settlement_run(*, merchant_id: int, start: str, end: str) -> dict[str, Any]:
    """The statement itself, and the plain aggregate's totals to compare it with."""
    from tuangou.core import jobs
    from tuangou.settlement.services import statement_generate

    period_start, period_end, bounds = _period(start, end)
    got = _sql(PLAIN_STATEMENT, [merchant_id, *bounds])[0]
    # The drafting queues one job on commit (the vouchers marked settled, ADR 0014). A web or
    # worker process has its connection to the job queue open; this fresh process opens it
    # here, with a job that finds no statement and does nothing, and the cost is reported.
    t0 = time.perf_counter()
    jobs.enqueue("settlement.settle_vouchers", statement_id=0)
    first_job_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    statement = statement_generate(merchant_id=merchant_id, period_start=period_start, period_end=period_end)
    took = time.perf_counter() - t0
    return {
        "statement_s": took,
        "first_job_queued_s": first_job_s,
        "vouchers": got[0],
        "statement_units": statement.units,
        "gross": str(statement.gross),
        "plain_gross": str(got[2]),
        "commission": str(statement.commission),
        "plain_commission": str(got[3]),
        "payable": str(statement.payable),
    }
