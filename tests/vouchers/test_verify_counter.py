"""Verification at the counter in few statements: what the one store query and the one voucher
query decide (membership, lockout, accepted stores), and how many queries a verification takes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.vouchers.conftest import Shop, voucher_of
from tuangou.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from tuangou.core.models import AuditLog
from tuangou.core.workflow.engine import history
from tuangou.core.workflow.models import ProcessPosition
from tuangou.vouchers import codes, services
from tuangou.vouchers.models import Redemption, WrongCode

pytestmark = pytest.mark.django_db


def _writes(ctx: CaptureQueriesContext) -> list[str]:
    """``INSERT "table"`` / ``UPDATE "table"`` of each write captured (several in one statement
    where its ``WITH`` parts write)."""
    return [
        f"{verb.split()[0]} {table}"
        for q in ctx.captured_queries
        for verb, table in re.findall(r'\b(INSERT INTO|UPDATE) ("[^"]+")', q["sql"])
    ]


def test_one_below_the_lockout_still_verifies(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([2])
    first, second = orders[0].vouchers.order_by("seq")
    for _ in range(services.LOCKOUT_AFTER - 1):
        with pytest.raises(ValidationFailed):
            services.voucher_verify(actor=shop.clerk, code=codes.generate(), store_id=shop.store.pk)
    assert services.voucher_verify(actor=shop.clerk, code=first.code, store_id=shop.store.pk).state == "used"
    # the wrong password is the LOCKOUT_AFTER-th wrong attempt: from now on the store is locked
    services.Voucher.objects.filter(pk=second.pk).update(password="123456")
    with pytest.raises(ValidationFailed):
        services.voucher_verify(actor=shop.clerk, code=second.code, store_id=shop.store.pk, password="1")
    with pytest.raises(RateLimited) as locked:
        services.voucher_lookup(actor=shop.clerk, code=second.code, store_id=shop.store.pk)
    assert locked.value.code == "store_locked_out"


def test_only_wrong_codes_within_the_window_lock_the_store(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    old = timezone.now() - services.LOCKOUT_WINDOW - dt.timedelta(seconds=5)
    WrongCode.objects.bulk_create([WrongCode(store=shop.store, code_tail="0000") for _ in range(20)])
    WrongCode.objects.update(at=old)
    WrongCode.objects.bulk_create(
        [WrongCode(store=shop.store, code_tail="0000") for _ in range(services.LOCKOUT_AFTER - 1)]
    )
    # another store's wrong codes do not count here
    WrongCode.objects.bulk_create([WrongCode(store=shop.other_store, code_tail="0000") for _ in range(20)])
    assert services.voucher_verify(actor=shop.clerk, code=voucher_of(orders[0]).code, store_id=shop.store.pk)


def test_a_store_the_actor_does_not_work_at_is_not_found_even_when_locked(
    tipped: Callable[..., Any], shop: Shop, rival: Shop
) -> None:
    _deal, orders = tipped([1])
    WrongCode.objects.bulk_create([WrongCode(store=shop.store, code_tail="0000") for _ in range(20)])
    with pytest.raises(NotFound):
        services.voucher_lookup(actor=rival.admin, code=voucher_of(orders[0]).code, store_id=shop.store.pk)
    with pytest.raises(NotFound):
        services.voucher_lookup(actor=shop.clerk, code=voucher_of(orders[0]).code, store_id=10**9)


def test_a_strangers_attempts_do_not_count_against_the_stores_limit(
    tipped: Callable[..., Any], shop: Shop, rival: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the store and the voucher are read in one statement; the store is judged first
    monkeypatch.setattr(services, "STORE_ATTEMPTS", (3, 60))
    _deal, orders = tipped([1])
    code = voucher_of(orders[0]).code
    for _ in range(5):
        with pytest.raises(NotFound):
            services.voucher_verify(actor=rival.clerk, code=code, store_id=shop.store.pk)
        with pytest.raises(NotFound):
            services.voucher_lookup(actor=rival.admin, code=codes.generate(), store_id=shop.store.pk)
    assert not WrongCode.objects.exists() and voucher_of(orders[0]).state == "issued"
    for _ in range(3):
        assert (
            services.voucher_lookup(actor=shop.clerk, code=code, store_id=shop.store.pk).pk
            == orders[0].vouchers.get().pk
        )
    with pytest.raises(RateLimited) as limited:
        services.voucher_lookup(actor=shop.clerk, code=code, store_id=shop.store.pk)
    assert limited.value.code != "store_locked_out"


def test_a_locked_store_is_refused_before_the_attempt_counts(
    tipped: Callable[..., Any], shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "STORE_ATTEMPTS", (3, 60))
    _deal, orders = tipped([1])
    code = voucher_of(orders[0]).code
    WrongCode.objects.bulk_create(
        [WrongCode(store=shop.store, code_tail="0000") for _ in range(services.LOCKOUT_AFTER)]
    )
    for _ in range(5):
        with pytest.raises(RateLimited) as locked:
            services.voucher_verify(actor=shop.clerk, code=code, store_id=shop.store.pk)
        assert locked.value.code == "store_locked_out"
    WrongCode.objects.all().delete()
    assert services.voucher_verify(actor=shop.clerk, code=code, store_id=shop.store.pk).state == "used"


def test_the_stores_a_deal_names_accept_it_and_no_other(tipped: Callable[..., Any], shop: Shop) -> None:
    deal, orders = tipped([1, 1, 1])
    a, b, c = (voucher_of(o) for o in orders)
    # a deal naming no store: every store of the merchant
    assert services.voucher_verify(actor=shop.other_clerk, code=a.code, store_id=shop.other_store.pk).state == "used"
    deal.stores.set([shop.other_store])
    with pytest.raises(Conflict) as info:
        services.voucher_verify(actor=shop.clerk, code=b.code, store_id=shop.store.pk)
    assert info.value.code == "voucher_wrong_store"
    assert services.voucher_verify(actor=shop.admin, code=b.code, store_id=shop.other_store.pk).state == "used"
    deal.stores.set([shop.store, shop.other_store])
    assert services.voucher_verify(actor=shop.clerk, code=c.code, store_id=shop.store.pk).state == "used"


def test_verify_writes_the_use_the_log_the_record_the_audit_and_the_sms(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    with CaptureQueriesContext(connection) as ctx:
        used = services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk, ip="10.0.0.1")
    assert used.state == "used" and used.used_store == shop.store and used.used_by == shop.clerk
    assert used.deal.title == v.deal.title and used.used_at is not None
    v.refresh_from_db()
    assert (v.state, v.used_at, v.used_store_id, v.used_by_id) == ("used", used.used_at, shop.store.pk, shop.clerk.pk)
    log = list(history(v))[-1]
    assert (log.action, log.from_state, log.to_state, log.actor_id) == ("verify", "issued", "used", shop.clerk.pk)
    assert log.entered_at is not None and log.waited is not None  # time spent issued, for the step statistics
    assert ProcessPosition.objects.get(process="voucher", object_id=v.pk).state == "used"
    redemption = Redemption.objects.get(voucher=v)  # every column, as create() wrote them
    assert (redemption.merchant_id, redemption.store_id, redemption.clerk_id) == (
        v.merchant_id,
        shop.store.pk,
        shop.clerk.pk,
    )
    assert (redemption.amount, redemption.units, redemption.verified_at) == (v.amount, v.units, used.used_at)
    assert (redemption.undone_at, redemption.undone_by_id, redemption.undo_reason) == (None, None, "")
    row = AuditLog.objects.get(action="voucher.verify", object_id=str(v.pk))
    assert (row.object_type, row.actor_id, row.ip) == ("vouchers.voucher", shop.clerk.pk, "10.0.0.1")
    assert row.data == {"store": shop.store.pk, "redemption": redemption.pk}
    assert row.at is not None and abs((row.at - used.used_at).total_seconds()) < 5
    assert sorted(_writes(ctx)) == sorted(
        [
            'UPDATE "vouchers_voucher"',  # the engine: issued → used, guarded, with used at, where, by whom
            'INSERT "core_transitionlog"',
            'INSERT "core_processposition"',
            'INSERT "vouchers_redemption"',
            'INSERT "core_auditlog"',
            'INSERT "messaging_outboxmessage"',
        ]
    )
    moves = [q["sql"] for q in ctx.captured_queries if 'UPDATE "vouchers_voucher"' in q["sql"]]
    assert len(moves) == 1 and "used_at" in moves[0]  # the state and the use in one UPDATE
    if connection.vendor == "postgresql":  # with the log row and the position: one statement
        assert "core_transitionlog" in moves[0] and "core_processposition" in moves[0]


def test_a_verification_through_the_api_takes_few_queries(
    api: Any, tipped: Callable[..., Any], shop: Shop, django_assert_max_num_queries: Any
) -> None:
    _deal, orders = tipped([2])
    first, second = orders[0].vouchers.order_by("seq")
    api.as_user(shop.clerk)
    assert api.post("/api/v1/vouchers/verify", {"code": first.code, "store": shop.store.pk}).status_code == 200
    # token, store and voucher (membership, lockout; order, deal, stores); in the transaction (a
    # savepoint pair in the test's): the statement range lock (PostgreSQL), the engine's one-row
    # move (the guarded update with the use, its log and position: one statement on
    # PostgreSQL, three on SQLite), the record, the audit, the SMS (the site's name, the outbox)
    with django_assert_max_num_queries(10 if connection.vendor == "postgresql" else 11):
        done = api.post("/api/v1/vouchers/verify", {"code": second.display_code, "store": shop.store.pk})
    body = done.json()
    assert done.status_code == 200 and body["state"] == "used" and body["used_store"] == shop.store.name
    assert body["deal_title"] == second.deal.title and body["used_at"]
    with django_assert_max_num_queries(2):  # refused before any write: token, store and voucher
        again = api.post("/api/v1/vouchers/verify", {"code": second.code, "store": shop.other_store.pk})
    assert again.status_code == 404  # the clerk does not work at the other store
    api.as_user(shop.admin)
    again = api.post("/api/v1/vouchers/verify", {"code": second.code, "store": shop.other_store.pk})
    assert again.status_code == 409 and again.json()["code"] == "voucher_used"
    assert shop.store.name in again.json()["message"]
