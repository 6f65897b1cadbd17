"""/api/v1/processes/…: the declared business processes, their diagrams, step timings and one
object's path (PRODUCT.md 2.11). Back-office roles only; an object's path only for those who
may see the object (404 otherwise)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from tuangou.accounts.roles import BACK_OFFICE_ROLES
from tuangou.api.schemas import ERRORS
from tuangou.core.ownership import require_role
from tuangou.core.workflow import Decision, End, Process, Start, Task, all_processes
from tuangou.core.workflow.selectors import FORMATS, diagram, instance, process_or_404
from tuangou.core.workflow.stats import slowest_first, step_stats

router = Router(tags=["processes"])


class LaneOut(Schema):
    role: str
    title: str
    external: bool


class DocumentOut(Schema):
    code: str
    title: str
    to: str | None


class NodeOut(Schema):
    name: str
    kind: str  # start | end | task | meeting | decision
    title: str
    lane: str
    required: bool
    documents: list[str]
    time_limit_seconds: float | None


class TransitionOut(Schema):
    source: str
    target: str
    action: str
    title: str
    by: list[str]
    note_required: bool
    documents: list[str]


class ProcessSummaryOut(Schema):
    name: str
    title: str
    description: str
    lanes: list[LaneOut]
    steps: int


class ProcessOut(ProcessSummaryOut):
    start: str
    ends: list[str]
    nodes: list[NodeOut]
    transitions: list[TransitionOut]
    documents: list[DocumentOut]
    data_stores: list[str]


class StepStatsOut(Schema):
    step: str
    title: str
    lane: str
    entered: int
    left: int
    waiting: int
    overdue: int
    late: int
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    time_limit_seconds: float | None
    is_end: bool


class StepOut(Schema):
    from_state: str
    to_state: str
    action: str
    actor_id: int | None
    at: dt.datetime
    waited_seconds: float | None
    note: str
    documents: dict[str, str | None]


class InstanceOut(Schema):
    process: str
    object_id: int
    current: str
    current_title: str
    steps: list[StepOut]


def _summary(p: Process) -> dict[str, Any]:
    return {
        "name": p.name,
        "title": str(p.title),
        "description": str(p.description),
        "lanes": [{"role": lane.role, "title": str(lane.title), "external": lane.external} for lane in p.lanes],
        "steps": len(p.tasks),
    }


def _node(node: Start | End | Task | Decision) -> dict[str, Any]:
    is_task = isinstance(node, Task)
    kind = node.kind if is_task else {Start: "start", End: "end", Decision: "decision"}[type(node)]
    return {
        "name": node.name,
        "kind": kind,
        "title": str(node.title),
        "lane": node.lane,
        "required": node.required if isinstance(node, Task) else True,
        "documents": list(node.documents) if isinstance(node, Task) else [],
        "time_limit_seconds": (node.time_limit.total_seconds() if isinstance(node, Task) and node.time_limit else None),
    }


def _back_office(request: HttpRequest) -> None:
    require_role(request.user, *BACK_OFFICE_ROLES)


@router.get("/processes", response={200: list[ProcessSummaryOut], **ERRORS}, summary="The declared processes")
def process_list(request: HttpRequest) -> list[dict[str, Any]]:
    _back_office(request)
    return [_summary(p) for p in all_processes()]


@router.get("/processes/{name}", response={200: ProcessOut, **ERRORS}, summary="One process's declaration")
def process_detail(request: HttpRequest, name: str) -> dict[str, Any]:
    _back_office(request)
    p = process_or_404(name)
    return {
        **_summary(p),
        "start": p.start.name,
        "ends": [e.name for e in p.ends],
        "nodes": [_node(n) for n in p.iter_nodes()],
        "transitions": [
            {
                "source": t.source,
                "target": t.target,
                "action": t.action,
                "title": str(t.title),
                "by": list(t.by),
                "note_required": t.note_required,
                "documents": list(t.documents),
            }
            for t in p.transitions
        ],
        "documents": [{"code": d.code, "title": str(d.title), "to": d.to} for d in p.documents],
        "data_stores": list(p.data_stores),
    }


def _diagram_response(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    _back_office(request)
    p = process_or_404(name)
    ext, content_type = FORMATS[fmt]
    response = HttpResponse(diagram(p, fmt), content_type=content_type)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{p.name}.{ext}"'
    return response


_DIAGRAM_DOC = "Add `?download=1` to get it as a file."


@router.get(
    "/processes/{name}/diagram.svg",
    response={200: str, **ERRORS},
    summary="The swimlane chart (SVG)",
    description=_DIAGRAM_DOC,
    openapi_extra={"responses": {"200": {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}}},
)
def process_svg(request: HttpRequest, name: str) -> HttpResponse:
    return _diagram_response(request, name, "svg")


@router.get(
    "/processes/{name}/diagram.bpmn",
    response={200: str, **ERRORS},
    summary="BPMN 2.0 XML with diagram interchange",
    description=_DIAGRAM_DOC,
    openapi_extra={"responses": {"200": {"content": {"application/xml": {"schema": {"type": "string"}}}}}},
)
def process_bpmn(request: HttpRequest, name: str) -> HttpResponse:
    return _diagram_response(request, name, "bpmn")


@router.get(
    "/processes/{name}/diagram.mmd",
    response={200: str, **ERRORS},
    summary="Mermaid flowchart text",
    description=_DIAGRAM_DOC,
    openapi_extra={"responses": {"200": {"content": {"text/plain": {"schema": {"type": "string"}}}}}},
)
def process_mermaid(request: HttpRequest, name: str) -> HttpResponse:
    return _diagram_response(request, name, "mermaid")


@router.get(
    "/processes/{name}/stats",
    response={200: list[StepStatsOut], **ERRORS},
    summary="Time per step, slowest first",
    description="Per step: visits entered and left, median and 90th percentile of the time spent (seconds), "
    "how many wait now and how many of those are past the step's time limit.",
)
def process_stats(request: HttpRequest, name: str) -> list[dict[str, Any]]:
    _back_office(request)
    p = process_or_404(name)
    return [s.as_dict() for s in slowest_first(step_stats(p))]


@router.get(
    "/processes/{name}/instances/{object_id}",
    response={200: InstanceOut, **ERRORS},
    summary="One object's path: where it is, how it got there",
    description="The SVG with the path highlighted is at the same URL plus `/diagram.svg`.",
)
def process_instance(request: HttpRequest, name: str, object_id: int) -> dict[str, Any]:
    found = instance(process_or_404(name), object_id, request.user)
    node = found.process.nodes.get(found.current)
    return {
        "process": found.process.name,
        "object_id": object_id,
        "current": found.current,
        "current_title": str(node.title) if node else found.current,
        "steps": [
            {
                "from_state": s.from_state,
                "to_state": s.to_state,
                "action": s.action,
                "actor_id": s.actor_id,
                "at": s.at,
                "waited_seconds": s.waited,
                "note": s.note,
                "documents": s.documents,
            }
            for s in found.steps
        ],
    }


@router.get(
    "/processes/{name}/instances/{object_id}/diagram.svg",
    response={200: str, **ERRORS},
    summary="One object's path on its swimlane chart (SVG)",
    openapi_extra={"responses": {"200": {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}}},
)
def process_instance_svg(request: HttpRequest, name: str, object_id: int) -> HttpResponse:
    found = instance(process_or_404(name), object_id, request.user)
    return HttpResponse(found.svg(), content_type=FORMATS["svg"][1])
