"""The API under /api/v1/processes and the back-office pages."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from tuangou.core.workflow.engine import transition
from tuangou.salesdesk.process import SALES_ORDER

from .ticket import TICKET, WorkflowTestTicket

SVG = "{http://www.w3.org/2000/svg}"


def _mounted(name: str) -> None:
    try:
        reverse(name, args=["sales_order"]) if name != "web:processes" else reverse(name)
    except NoReverseMatch:
        pytest.fail(f"{name} is not mounted (see .requests-workflow.md)")


@pytest.mark.django_db
def test_api_catalogue_declaration_diagrams_and_stats(api: Any, make_user: Callable[..., Any]) -> None:
    assert api.get("/api/v1/processes").status_code == 401
    member = make_user("member")
    assert api.as_user(member).get("/api/v1/processes").status_code == 403
    client = type(api)().as_user(make_user("sales_dept"))
    listing = client.get("/api/v1/processes")
    assert listing.status_code == 200, listing.content
    names = [p["name"] for p in listing.json()]
    assert "sales_order" in names and names == sorted(names)
    detail = client.get("/api/v1/processes/sales_order").json()
    assert detail["start"] == "new" and detail["ends"] == ["closed"]
    assert {n["name"] for n in detail["nodes"]} == set(SALES_ORDER.nodes)
    assert len(detail["transitions"]) == len(SALES_ORDER.transitions)
    assert client.get("/api/v1/processes/nope").status_code == 404

    svg = client.get("/api/v1/processes/sales_order/diagram.svg")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    bpmn = client.get("/api/v1/processes/sales_order/diagram.bpmn?download=1")
    assert bpmn["Content-Type"].startswith("application/xml")
    assert 'filename="sales_order.bpmn"' in bpmn["Content-Disposition"]
    mmd = client.get("/api/v1/processes/sales_order/diagram.mmd")
    assert mmd.content.decode().startswith("flowchart LR")

    stats = client.get("/api/v1/processes/sales_order/stats")
    assert stats.status_code == 200
    rows = stats.json()
    assert {r["step"] for r in rows} == set(SALES_ORDER.states) - {"new"}
    assert all(r["entered"] == 0 for r in rows)


@pytest.mark.django_db
def test_api_one_objects_path(api: Any, make_user: Callable[..., Any]) -> None:
    owner, operator = make_user("member"), make_user("operator")
    ticket = WorkflowTestTicket.objects.create(title="T-1", owner=owner)
    transition(ticket, "open", actor=owner)
    transition(ticket, "discuss", actor=operator, note="why", documents={"report": "R-9"})
    client = api.as_user(operator)
    got = client.get(f"/api/v1/processes/{TICKET.name}/instances/{ticket.pk}")
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["current"] == "meet" and body["current_title"] == "Discuss in a meeting"
    assert [(s["from_state"], s["to_state"]) for s in body["steps"]] == [("new", "review"), ("review", "meet")]
    assert body["steps"][1]["documents"] == {"report": "R-9"} and body["steps"][1]["note"] == "why"
    assert body["steps"][1]["waited_seconds"] is not None
    svg = client.get(f"/api/v1/processes/{TICKET.name}/instances/{ticket.pk}/diagram.svg").content.decode()
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    current = [g.get("data-node") for g in root.iter(f"{SVG}g") if "current" in (g.get("class") or "")]
    assert current == ["meet"]
    assert client.get(f"/api/v1/processes/{TICKET.name}/instances/999999").status_code == 404
    assert json.loads(client.get(f"/api/v1/processes/{TICKET.name}/instances/999999").content)["code"] == "not_found"


@pytest.mark.django_db
def test_back_office_pages(client: Client, make_user: Callable[..., Any]) -> None:
    _mounted("web:processes")
    url = reverse("web:processes")
    assert client.get(url).status_code == 302  # sign in first
    client.force_login(make_user("member"))
    assert client.get(url).status_code == 403
    client.force_login(make_user("operator"))
    page = client.get(url)
    assert page.status_code == 200
    assert reverse("web:process_detail", args=["sales_order"]).encode() in page.content
    detail = client.get(reverse("web:process_detail", args=["sales_order"]))
    assert detail.status_code == 200
    assert b'id="step-times"' in detail.content and b"<svg" in detail.content
    download = client.get(reverse("web:process_download", args=["sales_order", "bpmn"]))
    assert download["Content-Disposition"] == 'attachment; filename="sales_order.bpmn"'
    assert client.get(reverse("web:process_download", args=["sales_order", "pdf"])).status_code == 404
    assert client.get(reverse("web:process_dataflow")).status_code == 200
    ticket = WorkflowTestTicket.objects.create(title="T-2")
    path = client.get(reverse("web:process_object", args=[TICKET.name, ticket.pk]))
    assert path.status_code == 200 and b'id="current-step"' in path.content
