"""Demo BD pipeline: the demo BD rep (13800000004) has a prospect at each stage — a fresh lead, one
visited, one negotiating and one whose agreement is filed (which made it a merchant). Moved
through the real services; re-runnable (a prospect is looked up by rep and name first).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.core.models import City
from tuangou.core.time import local_date
from tuangou.merchants import services
from tuangou.merchants.models import Agreement, Prospect

# (name, city, contact, phone, address, how far it has come)
PROSPECTS = [
    ("巷口豆花", "shanghai", "林阿姨", "13900000011", "上海市黃浦區雲南南路18號", "lead"),
    ("外灘西餐廳", "shanghai", "Mr. Ho", "13900000012", "上海市黃浦區中山東一路3號", "contacted"),
    ("南翔小籠館", "shanghai", "黃經理", "13900000013", "上海市嘉定區南翔鎮老街1號", "negotiating"),
    ("湖濱茶館", "hangzhou", "沈老闆", "13900000014", "杭州市上城區湖濱路8號", "signed"),
]
ORDER = ["lead", "contacted", "negotiating", "signed"]


def load(*, users: dict[str, User], cities: dict[str, City], **_: Any) -> None:
    rep = users[Role.BD_REP]
    for name, city, contact, phone, address, stage in PROSPECTS:
        if Prospect.objects.filter(rep=rep, name=name).exists():
            continue
        p = services.prospect_create(
            actor=rep, name=name, city_id=cities[city].pk, contact=contact, phone=phone, address=address
        )
        reached = ORDER.index(stage)
        if reached >= 1:
            services.visit_record(
                actor=rep,
                prospect_id=p.pk,
                notes=f"拜訪{contact}，介紹團購合作方式與結算週期。",
                next_step="帶報價與合作協議再訪",
            )
        if reached >= 2:
            services.prospect_move(actor=rep, prospect_id=p.pk, action="negotiate")
            services.visit_record(actor=rep, prospect_id=p.pk, notes="洽談提成：按人數每位五元，或按銷售額百分之八。")
        if reached >= 3:
            today = local_date()
            services.agreement_file(
                actor=rep,
                prospect_id=p.pk,
                commission_kind=Agreement.CommissionKind.PER_PERSON,
                commission_per_person="5.00",
                settlement_cycle=Agreement.Cycle.SEMIMONTHLY,
                valid_from=today,
                valid_until=today + dt.timedelta(days=365),
            )
