"""Demo data: loaded once, safe to load again (every row is looked up before it is created).

Accounts 13800000000 … 13800000009, one per role, all with the password DEMO_PASSWORD.
Later domains add their demo data by extending `demo_load`.
"""

from __future__ import annotations

from importlib import import_module

from django.db import transaction

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.accounts.services import roles_sync, user_grant_role
from tuangou.core.models import City, SiteSettings
from tuangou.deals.models import Category
from tuangou.merchants.models import Merchant, MerchantMember, Store

DEMO_PASSWORD = "tuangou-demo"  # noqa: S105 - documented demo password, demo data only

# (mobile, role, name)
DEMO_ACCOUNTS: list[tuple[str, str, str]] = [
    ("13800000000", Role.OPERATOR, "網站運營 王敏"),
    ("13800000001", Role.MEMBER, "會員 李小華"),
    ("13800000002", Role.MERCHANT, "商家 陳老闆"),
    ("13800000003", Role.CLERK, "店員 張店員"),
    ("13800000004", Role.BD_REP, "業務員 劉業務"),
    ("13800000005", Role.SALES_REP, "團購業務 趙團購"),
    ("13800000006", Role.SALES_DEPT, "團購部 孫文員"),
    ("13800000007", Role.FINANCE, "財務 周會計"),
    ("13800000008", Role.PURCHASING, "采購 吳采購"),
    ("13800000009", Role.SPECIALIST, "團購專員 鄭專員"),
]

# Each domain adds its demo data with a module that has `load(*, users, cities)`; listed here in
# the order they depend on each other.
DEMO_MODULES: list[str] = [
    "tuangou.deals.demo",
    "tuangou.vouchers.demo",
    "tuangou.payments.demo",
    "tuangou.settlement.demo",
    "tuangou.merchants.demo",
    "tuangou.salesdesk.demo",
]

CITIES = [("shanghai", "上海", 1), ("hangzhou", "杭州", 2)]
CATEGORIES = [("food", "美食", 1), ("leisure", "休閒娛樂", 2), ("beauty", "麗人", 3), ("home", "家居建材", 4)]


@transaction.atomic
def demo_load() -> list[tuple[str, str, str]]:
    roles_sync()
    site = SiteSettings.current()
    if not site.icp_number:
        site.name = "團購網"
        site.tagline = "量大價優：人越多，價越低"
        site.icp_number = "滬ICP備00000000號-1"
        site.public_security_number = "滬公網安備 31000000000000號"
        site.service_phone = "400-000-0000"
        site.save()
    cities = {
        slug: City.objects.get_or_create(slug=slug, defaults={"name": n, "position": p})[0] for slug, n, p in CITIES
    }
    for slug, name, pos in CATEGORIES:
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "position": pos})
    users = {}
    for mobile, role, name in DEMO_ACCOUNTS:
        user = User.objects.filter(mobile=mobile).first()
        if user is None:
            user = User.objects.create_user(mobile, DEMO_PASSWORD, name=name, is_staff=role == Role.OPERATOR)
        user_grant_role(user=user, role=role)
        users[role] = user
    hotpot, _ = Merchant.objects.get_or_create(
        slug="laojie-hotpot",
        defaults={
            "name": "老街火鍋",
            "city": cities["shanghai"],
            "phone": "021-60000001",
            "description": "正宗川味火鍋，二十年老店。",
        },
    )
    store, _ = Store.objects.get_or_create(
        merchant=hotpot,
        name="人民廣場店",
        defaults={"address": "上海市黃浦區南京東路100號", "opening_hours": "10:00-22:00"},
    )
    Store.objects.get_or_create(
        merchant=hotpot,
        name="徐家匯店",
        defaults={"address": "上海市徐匯區漕溪北路200號", "opening_hours": "10:00-22:00"},
    )
    spa, _ = Merchant.objects.get_or_create(
        slug="xihu-spa",
        defaults={
            "name": "西湖水療會所",
            "city": cities["hangzhou"],
            "kind": Merchant.Kind.COMPANY,
            "description": "湖畔水療與按摩。",
        },
    )
    Store.objects.get_or_create(merchant=spa, name="湖濱店", defaults={"address": "杭州市上城區湖濱路1號"})
    Merchant.objects.get_or_create(
        slug="chen-photo",
        defaults={"name": "陳師傅攝影工作室", "city": cities["hangzhou"], "kind": Merchant.Kind.PERSON},
    )
    MerchantMember.objects.get_or_create(merchant=hotpot, user=users[Role.MERCHANT], store=None)
    MerchantMember.objects.get_or_create(merchant=hotpot, user=users[Role.CLERK], store=store)
    for module in DEMO_MODULES:
        import_module(module).load(users=users, cities=cities)
    return DEMO_ACCOUNTS
