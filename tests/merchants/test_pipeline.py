"""S4: a BD rep visits, negotiates and files the agreement; the merchant can then sell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from tuangou.accounts.roles import Role
from tuangou.core.models import City
from tuangou.merchants.models import Agreement

pytestmark = pytest.mark.django_db


def test_pipeline_through_the_api(api: Any, make_user: Callable[..., Any], operator: Any) -> None:
    city = City.objects.create(slug="hz", name="杭州")
    rep = make_user(Role.BD_REP)
    other_rep = make_user(Role.BD_REP)
    api.as_user(rep)
    assert api.post("/api/v1/bd/prospects", {"name": "", "city_id": city.pk}).json()["errors"]["name"]
    p = api.post("/api/v1/bd/prospects", {"name": "老王火鍋", "city_id": city.pk}).json()
    assert p["stage"] == "lead"
    assert api.post(f"/api/v1/bd/prospects/{p['id']}/visits", {"notes": "met the owner"}).json()["stage"] == "contacted"
    early = api.post(
        f"/api/v1/bd/prospects/{p['id']}/agreement",
        {
            "commission_kind": "per_person",
            "commission_per_person": "5.00",
            "valid_from": str(timezone.localdate()),
            "valid_until": str(timezone.localdate()),
        },
    )
    assert early.status_code == 409
    assert api.post(f"/api/v1/bd/prospects/{p['id']}/move", {"action": "negotiate"}).json()["stage"] == "negotiating"
    today = timezone.localdate()
    bad = api.post(
        f"/api/v1/bd/prospects/{p['id']}/agreement",
        {"commission_kind": "per_person", "valid_from": str(today), "valid_until": str(today - dt.timedelta(days=1))},
    )
    assert bad.status_code == 400 and "valid_until" in bad.json()["errors"]
    api.as_user(other_rep)
    assert api.post(f"/api/v1/bd/prospects/{p['id']}/move", {"action": "drop", "note": "x"}).status_code == 404
    assert api.get("/api/v1/bd/prospects").json() == []
    api.as_user(rep)
    signed = api.post(
        f"/api/v1/bd/prospects/{p['id']}/agreement",
        {
            "commission_kind": "per_person",
            "commission_per_person": "5.00",
            "settlement_cycle": "weekly",
            "valid_from": str(today),
            "valid_until": str(today + dt.timedelta(days=365)),
        },
    ).json()
    assert signed["stage"] == "signed" and signed["merchant_id"]
    agreement = Agreement.objects.get(pk=signed["agreement_id"])
    assert Agreement.current_for(agreement.merchant) == agreement
    assert agreement.commission_per_person == 5 and agreement.settlement_cycle == "weekly"
    assert api.post(f"/api/v1/bd/prospects/{p['id']}/move", {"action": "lapse"}).status_code in (403, 409)
    assert api.post(f"/api/v1/bd/prospects/{p['id']}/move", {"action": "go_live"}).json()["stage"] == "live"
    api.as_user(operator)
    assert api.post(f"/api/v1/bd/prospects/{p['id']}/move", {"action": "lapse"}).json()["stage"] == "lapsed"


def test_pipeline_moves_are_in_the_engine_log(make_user: Callable[..., Any], operator: Any) -> None:
    from tuangou.core.errors import Conflict, NotFound
    from tuangou.core.workflow.engine import history
    from tuangou.merchants import services

    city = City.objects.create(slug="nj", name="南京")
    rep = make_user(Role.BD_REP)
    p = services.prospect_create(actor=rep, name="秦淮小吃", city_id=city.pk)
    services.visit_record(actor=rep, prospect_id=p.pk, notes="owner interested")
    services.prospect_move(actor=rep, prospect_id=p.pk, action="negotiate")
    with pytest.raises(Conflict):
        services.prospect_move(actor=rep, prospect_id=p.pk, action="lapse")  # not declared from here
    with pytest.raises(NotFound):  # another rep's prospect
        services.prospect_move(actor=make_user(Role.BD_REP), prospect_id=p.pk, action="drop", note="x")
    services.prospect_move(actor=operator, prospect_id=p.pk, action="drop", note="went with a rival")
    log = list(history(p, process="bd_pipeline"))
    assert [(r.action, r.actor) for r in log] == [("contact", rep), ("negotiate", rep), ("drop", operator)]
    assert log[-1].note == "went with a rival"
