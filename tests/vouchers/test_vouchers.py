"""Issuing, verifying at the counter, undo, lockout, resend, refunds and expiry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from tests.vouchers.conftest import Shop, voucher_of
from tuangou.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from tuangou.messaging.models import OutboxMessage
from tuangou.vouchers import codes, services
from tuangou.vouchers.models import Redemption, Voucher, WrongCode

pytestmark = pytest.mark.django_db


def _wrong_code() -> str:
    return codes.generate()


def test_tipping_issues_one_voucher_per_paid_unit_and_sends_them(tipped: Callable[..., Any]) -> None:
    deal, orders = tipped([1, 3])
    assert deal.status == "tipped"
    assert Voucher.objects.filter(deal=deal).count() == 4
    assert list(Voucher.objects.filter(order=orders[1]).values_list("seq", flat=True).order_by("seq")) == [1, 2, 3]
    v = voucher_of(orders[0])
    assert v.state == "issued" and codes.is_well_formed(v.code) and v.amount == orders[0].unit_price
    assert v.valid_from <= timezone.localdate() <= v.valid_until
    sms = OutboxMessage.objects.filter(template="voucher_issued", to=orders[0].user.mobile)
    assert sms.count() == 1 and v.display_code in sms.get().body
    assert Voucher.objects.filter(deal=deal, sms_sent=1).count() == 4


def test_issuing_again_adds_nothing(tipped: Callable[..., Any]) -> None:
    deal, _orders = tipped([2])
    assert services.vouchers_issue(deal_id=deal.pk) == 0
    assert Voucher.objects.filter(deal=deal).count() == 2
    assert OutboxMessage.objects.filter(template="voucher_issued").count() == 2


def test_before_tipping_no_voucher(tipped: Callable[..., Any]) -> None:
    deal, _orders = tipped([1], tipping_point=5)
    assert deal.status == "live"
    assert not Voucher.objects.exists()


def test_fixed_validity_window_from_the_deal(tipped: Callable[..., Any]) -> None:
    today = timezone.localdate()
    _deal, orders = tipped(
        [1], voucher_validity="fixed", voucher_valid_from=today, voucher_valid_until=today + dt.timedelta(days=7)
    )
    v = voucher_of(orders[0])
    assert (v.valid_from, v.valid_until) == (today, today + dt.timedelta(days=7))


def test_clerk_verifies_once(tipped: Callable[..., Any], shop: Shop, django_capture_on_commit_callbacks: Any) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    seen = services.voucher_lookup(actor=shop.clerk, code=v.display_code, store_id=shop.store.pk)
    assert seen.pk == v.pk
    with django_capture_on_commit_callbacks(execute=True):
        used = services.voucher_verify(actor=shop.clerk, code=v.display_code, store_id=shop.store.pk)
    assert used.state == "used" and used.used_store == shop.store and used.used_by == shop.clerk
    assert Redemption.objects.filter(voucher=v, undone_at__isnull=True).count() == 1
    assert OutboxMessage.objects.filter(template="voucher_verified", to=orders[0].user.mobile).exists()
    with pytest.raises(Conflict) as again:
        services.voucher_verify(actor=shop.other_clerk, code=v.code, store_id=shop.other_store.pk)
    assert again.value.code == "voucher_used"
    assert shop.store.name in str(again.value.message)


def test_typo_is_caught_before_lookup_and_does_not_count(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    code = voucher_of(orders[0]).code
    typo = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
    with pytest.raises(ValidationFailed) as info:
        services.voucher_verify(actor=shop.clerk, code=typo, store_id=shop.store.pk)
    assert info.value.code == "code_typo" and "code" in info.value.errors
    assert not WrongCode.objects.exists()


def test_strangers_cannot_use_a_store(tipped: Callable[..., Any], shop: Shop, rival: Shop, member: Any) -> None:
    _deal, orders = tipped([1])
    code = voucher_of(orders[0]).code
    for actor in (rival.clerk, rival.admin, member, shop.other_clerk):
        with pytest.raises(NotFound):
            services.voucher_verify(actor=actor, code=code, store_id=shop.store.pk)
    # The rival's own counter does not find our merchant's code: it is a wrong code there.
    with pytest.raises(ValidationFailed):
        services.voucher_verify(actor=rival.clerk, code=code, store_id=rival.store.pk)
    assert voucher_of(orders[0]).state == "issued"


def test_merchant_admin_verifies_at_any_of_its_stores(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = services.voucher_verify(actor=shop.admin, code=voucher_of(orders[0]).code, store_id=shop.other_store.pk)
    assert v.used_store == shop.other_store


def test_store_not_accepting_the_deal(tipped: Callable[..., Any], shop: Shop) -> None:
    deal, orders = tipped([1])
    deal.stores.set([shop.store])
    with pytest.raises(Conflict) as info:
        services.voucher_verify(actor=shop.other_clerk, code=voucher_of(orders[0]).code, store_id=shop.other_store.pk)
    assert info.value.code == "voucher_wrong_store"


def test_outside_validity_window(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    Voucher.objects.filter(pk=v.pk).update(
        valid_from=timezone.localdate() + dt.timedelta(days=1), valid_until=timezone.localdate() + dt.timedelta(days=2)
    )
    with pytest.raises(Conflict) as info:
        services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)
    assert info.value.code == "voucher_not_yet_valid"


def test_password_when_the_voucher_has_one(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    Voucher.objects.filter(pk=v.pk).update(password="123456")
    with pytest.raises(ValidationFailed) as info:
        services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk, password="000000")
    assert "password" in info.value.errors
    assert WrongCode.objects.count() == 1
    assert (
        services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk, password="123456").state
        == "used"
    )


def test_undo_within_the_window_with_a_reason(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    v = services.voucher_verify(actor=shop.clerk, code=voucher_of(orders[0]).code, store_id=shop.store.pk)
    with pytest.raises(ValidationFailed) as no_reason:
        services.voucher_undo(actor=shop.clerk, voucher_id=v.pk, reason="  ")
    assert "reason" in no_reason.value.errors
    with pytest.raises(NotFound):
        services.voucher_undo(actor=shop.other_clerk, voucher_id=v.pk, reason="mistake")
    back = services.voucher_undo(actor=shop.clerk, voucher_id=v.pk, reason="wrong customer")
    assert back.state == "issued" and back.used_at is None
    r = Redemption.objects.get(voucher=v)
    assert r.undone_by == shop.clerk and r.undo_reason == "wrong customer"
    # usable again
    assert services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk).state == "used"


def test_undo_after_the_window_is_refused(tipped: Callable[..., Any], shop: Shop, settings: Any) -> None:
    _deal, orders = tipped([1])
    v = services.voucher_verify(actor=shop.clerk, code=voucher_of(orders[0]).code, store_id=shop.store.pk)
    Voucher.objects.filter(pk=v.pk).update(used_at=timezone.now() - dt.timedelta(minutes=61))
    with pytest.raises(Conflict) as info:
        services.voucher_undo(actor=shop.clerk, voucher_id=v.pk, reason="late")
    assert info.value.code == "undo_window_passed"
    settings.VOUCHER_UNDO_SECONDS = 2 * 3600
    assert services.voucher_undo(actor=shop.clerk, voucher_id=v.pk, reason="configurable").state == "issued"


def test_lockout_after_repeated_wrong_codes(tipped: Callable[..., Any], shop: Shop) -> None:
    _deal, orders = tipped([1])
    good = voucher_of(orders[0]).code
    for _ in range(services.LOCKOUT_AFTER):
        with pytest.raises(ValidationFailed) as info:
            services.voucher_verify(actor=shop.clerk, code=_wrong_code(), store_id=shop.store.pk)
        assert info.value.code == "unknown_code"
    with pytest.raises(RateLimited) as locked:
        services.voucher_verify(actor=shop.clerk, code=good, store_id=shop.store.pk)
    assert locked.value.code == "store_locked_out"
    # another store of the same merchant is not locked
    assert services.voucher_verify(actor=shop.other_clerk, code=good, store_id=shop.other_store.pk).state == "used"
    # after the window the store works again
    WrongCode.objects.update(at=timezone.now() - services.LOCKOUT_WINDOW - dt.timedelta(seconds=1))
    with pytest.raises(Conflict):
        services.voucher_verify(actor=shop.clerk, code=good, store_id=shop.store.pk)


def test_store_attempt_rate_limit(tipped: Callable[..., Any], shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "STORE_ATTEMPTS", (3, 60))
    _deal, orders = tipped([1])
    code = voucher_of(orders[0]).code
    for _ in range(3):
        services.voucher_lookup(actor=shop.clerk, code=code, store_id=shop.store.pk)
    with pytest.raises(RateLimited):
        services.voucher_lookup(actor=shop.clerk, code=code, store_id=shop.store.pk)


def test_resend_at_most_five_times(tipped: Callable[..., Any], django_capture_on_commit_callbacks: Any) -> None:
    from django.core.cache import cache

    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    member = orders[0].user
    for i in range(services.MAX_RESENDS):
        cache.clear()  # the one-a-minute limit is not what this test is about
        assert services.voucher_resend(actor=member, voucher_id=v.pk).resends == i + 1
    cache.clear()
    with pytest.raises(RateLimited) as info:
        services.voucher_resend(actor=member, voucher_id=v.pk)
    assert info.value.code == "resend_limit"
    assert OutboxMessage.objects.filter(template="voucher_issued", to=member.mobile).count() == 1 + 5


def test_resend_only_by_the_holder(tipped: Callable[..., Any], member: Any) -> None:
    _deal, orders = tipped([1])
    with pytest.raises(NotFound):
        services.voucher_resend(actor=member, voucher_id=voucher_of(orders[0]).pk)


def test_expiry_refunds_per_deal_policy(tipped: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    refunds: list[tuple[int, str]] = []
    monkeypatch.setattr(services, "_refund", lambda v, reason, actor=None: refunds.append((v.pk, reason)))
    _d1, refund_orders = tipped([1], refund_on_expiry=True)
    _d2, lapse_orders = tipped([1], refund_on_expiry=False)
    a, b = voucher_of(refund_orders[0]), voucher_of(lapse_orders[0])
    Voucher.objects.filter(pk__in=[a.pk, b.pk]).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1), valid_from=timezone.localdate() - dt.timedelta(days=5)
    )
    assert services.vouchers_expire_due() == {"refunded": 1, "lapsed": 1}
    assert services.vouchers_expire_due() == {"refunded": 0, "lapsed": 0}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, b.state) == ("refunded", "lapsed")
    assert refunds == [(a.pk, "expired")]


def test_member_refund_before_use(tipped: Callable[..., Any], shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    refunds: list[int] = []
    monkeypatch.setattr(services, "_refund", lambda v, reason, actor=None: refunds.append(v.pk))
    _deal, orders = tipped([2])
    v = voucher_of(orders[0])
    services.voucher_refund(actor=orders[0].user, voucher_id=v.pk)
    assert Voucher.objects.get(pk=v.pk).state == "refunded" and refunds == [v.pk]
    with pytest.raises(Conflict):
        services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)


def test_the_voucher_life_is_in_the_engine_log(tipped: Callable[..., Any], shop: Shop) -> None:
    from tuangou.core.workflow.engine import history

    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    services.voucher_verify(actor=shop.clerk, code=v.code, store_id=shop.store.pk)
    services.voucher_undo(actor=shop.clerk, voucher_id=v.pk, reason="wrong customer")
    services.voucher_verify(actor=shop.admin, code=v.code, store_id=shop.store.pk)
    log = list(history(v, process="voucher"))
    assert [(r.from_state, r.to_state, r.action) for r in log] == [
        ("new", "issued", "issue"),
        ("issued", "used", "verify"),
        ("used", "issued", "undo"),
        ("issued", "used", "verify"),
    ]
    assert [r.actor for r in log] == [None, shop.clerk, shop.clerk, shop.admin]
    assert log[2].note == "wrong customer" and "undo_reason" in log[2].documents


def test_state_changes_only_through_the_engine(tipped: Callable[..., Any]) -> None:
    _deal, orders = tipped([1])
    v = voucher_of(orders[0])
    with pytest.raises(Conflict):
        v.state = "used"


def test_a_refunded_order_closes_its_unused_vouchers(tipped: Callable[..., Any], shop: Shop) -> None:
    from tuangou.orders import services as orders
    from tuangou.vouchers import selectors

    _deal, paid = tipped([2])
    first, _second = Voucher.objects.filter(order=paid[0]).order_by("seq")
    assert selectors.order_refund_allowed(paid[0].pk)
    orders.order_mark_refunded(order_id=paid[0].pk, note="member asked")  # as the payments domain does
    # Before the order.refunded event arrives, the counter already refuses them.
    with pytest.raises(Conflict) as info:
        services.voucher_verify(actor=shop.clerk, code=first.code, store_id=shop.store.pk)
    assert info.value.code == "voucher_refunded"
    assert services.vouchers_close_for_refunded_order(order_id=paid[0].pk) == 2
    assert services.vouchers_close_for_refunded_order(order_id=paid[0].pk) == 0
    assert set(Voucher.objects.filter(order=paid[0]).values_list("state", flat=True)) == {"refunded"}
    assert not Redemption.objects.exists()


def test_refund_not_allowed_once_a_voucher_is_used(tipped: Callable[..., Any], shop: Shop) -> None:
    from tuangou.vouchers import selectors

    _deal, paid = tipped([2])
    services.voucher_verify(actor=shop.clerk, code=voucher_of(paid[0]).code, store_id=shop.store.pk)
    assert not selectors.order_refund_allowed(paid[0].pk)
