"""Demo deals: live deals in both cities — one tipped, one a few buyers short of tipping (it ends
in a few minutes, so the clock visibly tips or fails it), a team buy with an open team, and one
with volume tiers. Re-runnable: a deal is created only if its title is not there yet.

Demo buyers pay through the sandbox gateway when the payments app is installed (so the ledger,
refunds of the failing deal and vouchers of the tipped one all happen for real); without it,
their orders are marked paid directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.utils import timezone

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.accounts.services import user_grant_role
from tuangou.core.models import City
from tuangou.deals import services
from tuangou.deals.models import Category, Deal
from tuangou.merchants.models import Agreement, Merchant, MerchantMember, Store
from tuangou.orders import services as order_services
from tuangou.orders.models import Order

DEMO_BUYER_PASSWORD = "tuangou-demo"  # noqa: S105 - documented demo password, demo data only


def _buyers(n: int) -> list[User]:
    """Demo members 13800000100 … who have joined deals already."""
    people = []
    for i in range(n):
        mobile = f"138000001{i:02d}"
        user = User.objects.filter(mobile=mobile).first()
        if user is None:
            user = User.objects.create_user(mobile, DEMO_BUYER_PASSWORD, name=f"團友{i + 1:02d}")
            user_grant_role(user=user, role=Role.MEMBER)
        people.append(user)
    return people


def _agreement(merchant: Merchant) -> None:
    today = timezone.localdate()
    if Agreement.current_for(merchant) is None:
        Agreement.objects.create(
            merchant=merchant,
            commission_kind=Agreement.CommissionKind.RATE,
            commission_rate=8,
            valid_from=today - dt.timedelta(days=30),
            valid_until=today + dt.timedelta(days=365),
            signed_at=timezone.now(),
        )


def _deal(actor: User, operator: User, merchant: Merchant, **values: Any) -> Deal | None:
    if Deal.objects.filter(merchant=merchant, title=values["title"]).exists():
        return None
    tiers = values.pop("tiers", [])
    deal = services.deal_create(actor=actor, merchant_id=merchant.pk, tiers=tiers, **values)
    services.deal_submit(actor=actor, deal_id=deal.pk)
    return services.deal_approve(actor=operator, deal_id=deal.pk)


def _pay_order(order: Order) -> None:
    if not apps.is_installed("tuangou.payments"):
        order_services.order_mark_paid(order_id=order.pk)
        return
    from tuangou.payments import services as payments
    from tuangou.payments.models import SandboxTrade
    from tuangou.payments.providers import sandbox

    payment, _start = payments.payment_start(buyer=order.user, provider="sandbox", order_id=order.pk)
    trade = sandbox.sandbox_trade_finish(out_trade_no=payment.out_trade_no, outcome="pay")
    sandbox.sandbox_deliver(trade_id=SandboxTrade.objects.get(pk=trade.pk).pk)


def _pay(deal: Deal, people: list[User], quantity: int = 1) -> None:
    for person in people:
        _pay_order(order_services.deal_join(actor=person, deal_id=deal.pk, quantity=quantity))


def load(*, users: dict[str, User], cities: dict[str, City]) -> None:
    operator = users[Role.OPERATOR]
    owner = users[Role.MERCHANT]
    now = timezone.now()
    start = now - dt.timedelta(hours=1)
    food = Category.objects.get(slug="food")
    leisure = Category.objects.get(slug="leisure")
    beauty = Category.objects.get(slug="beauty")
    hotpot = Merchant.objects.get(slug="laojie-hotpot")
    hotpot.promotions = hotpot.promotions or "週一至週四午市，團購券加送酸梅湯一壺。"
    hotpot.save(update_fields=["promotions"])
    spa = Merchant.objects.get(slug="xihu-spa")
    photo = Merchant.objects.get(slug="chen-photo")
    for merchant in (hotpot, spa, photo):
        _agreement(merchant)
        MerchantMember.objects.get_or_create(merchant=merchant, user=owner, store=None)
    if not photo.stores.exists():
        Store.objects.create(
            merchant=photo, name="工作室", address="杭州市西湖區文三路88號", opening_hours="09:00-18:00"
        )
    people = _buyers(12)

    tipped = _deal(
        owner,
        operator,
        hotpot,
        title="雙人火鍋套餐（含鍋底、六葷六素）",
        summary="二十年老店，週末通用",
        original_price="268.00",
        group_price="128.00",
        stock=200,
        tipping_point=5,
        per_member_limit=4,
        starts_at=start,
        ends_at=now + dt.timedelta(days=3),
        category_id=food.pk,
        description="<p>鴛鴦鍋底任選，含六葷六素。</p><p>可疊加使用，無需預約。</p>",
        terms="每桌限用一張；不可與其他優惠同享。",
    )
    if tipped:
        _pay(tipped, people[:7])

    short = _deal(
        owner,
        operator,
        hotpot,
        title="單人午市小火鍋（差幾人成團）",
        summary="再來幾位就成團，十分鐘後截止",
        original_price="68.00",
        group_price="39.00",
        stock=100,
        tipping_point=10,
        per_member_limit=2,
        starts_at=start,
        ends_at=now + dt.timedelta(minutes=10),
        category_id=food.pk,
    )
    if short:
        _pay(short, people[:7])

    tiers = _deal(
        owner,
        operator,
        spa,
        title="湖畔精油按摩九十分鐘（人越多越便宜）",
        summary="量大價優：20人 ¥238，50人 ¥218",
        original_price="498.00",
        group_price="258.00",
        stock=300,
        tipping_point=5,
        per_member_limit=2,
        starts_at=start,
        ends_at=now + dt.timedelta(days=5),
        category_id=beauty.pk,
        tiers=[(20, "238.00"), (50, "218.00")],
    )
    if tiers:
        _pay(tiers, people[:3])

    team = _deal(
        owner,
        operator,
        photo,
        title="全家福寫真拼團（三人成團）",
        summary="三人成團，團長價更低",
        original_price="899.00",
        group_price="399.00",
        stock=60,
        per_member_limit=1,
        starts_at=start,
        ends_at=now + dt.timedelta(days=7),
        category_id=leisure.pk,
        mode="team",
        team_size=3,
        team_hours=24,
        leader_price="369.00",
    )
    if team:
        _pay_order(order_services.team_open(actor=people[8], deal_id=team.pk))
