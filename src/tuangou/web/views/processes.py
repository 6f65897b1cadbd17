"""Back-office pages of the process engine (PRODUCT.md 2.11): the catalogue of declared
processes, each one's swimlane chart with downloads and its time per step (slowest first),
one object's path, and the system's data-flow diagram."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.safestring import mark_safe

from tuangou.accounts.roles import BACK_OFFICE_ROLES
from tuangou.core.workflow import all_processes
from tuangou.core.workflow.dataflow import render_dataflow_svg
from tuangou.core.workflow.layout import format_duration
from tuangou.core.workflow.selectors import FORMATS, diagram, instance, process_or_404
from tuangou.core.workflow.stats import slowest_first, step_stats
from tuangou.web.views.backoffice import role_required


@role_required(*BACK_OFFICE_ROLES)
def catalogue(request: HttpRequest) -> HttpResponse:
    return render(request, "web/processes/catalogue.html", {"processes": all_processes()})


@role_required(*BACK_OFFICE_ROLES)
def detail(request: HttpRequest, name: str) -> HttpResponse:
    process = process_or_404(name)
    stats = [
        {
            "step": st,
            "median": _duration(st.median),
            "p90": _duration(st.p90),
            "limit": _duration(st.time_limit),
        }
        for st in slowest_first(step_stats(process))
    ]
    return render(
        request,
        "web/processes/detail.html",
        {
            "process": process,
            # our own renderer's output: every label in it is XML-escaped
            "svg": mark_safe(diagram(process, "svg")),  # noqa: S308
            "stats": stats,
            "formats": [(fmt, ext) for fmt, (ext, _ct) in FORMATS.items()],
        },
    )


@role_required(*BACK_OFFICE_ROLES)
def download(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    process = process_or_404(name)
    if fmt not in FORMATS:
        return HttpResponse(status=404)
    ext, content_type = FORMATS[fmt]
    response = HttpResponse(diagram(process, fmt), content_type=content_type)
    if not request.GET.get("inline"):  # ?inline=1: open the chart full size in the browser
        response["Content-Disposition"] = f'attachment; filename="{process.name}.{ext}"'
    return response


@role_required(*BACK_OFFICE_ROLES)
def object_path(request: HttpRequest, name: str, object_id: int) -> HttpResponse:
    found = instance(process_or_404(name), object_id, request.user)
    titles = {n.name: n.title for n in found.process.iter_nodes()}
    steps = [
        {
            "log": s,
            "source": titles.get(s.from_state, s.from_state),
            "target": titles.get(s.to_state, s.to_state),
            "waited": _duration(None if s.waited is None else timedelta(seconds=s.waited)),
        }
        for s in found.steps
    ]
    return render(
        request,
        "web/processes/instance.html",
        {
            "process": found.process,
            "object": found.obj,
            "current_title": titles.get(found.current, found.current),
            "steps": steps,
            "svg": mark_safe(found.svg()),  # noqa: S308 - our own renderer's escaped output
        },
    )


@role_required(*BACK_OFFICE_ROLES)
def dataflow(request: HttpRequest) -> HttpResponse:
    svg = render_dataflow_svg()
    if request.GET.get("download"):
        response = HttpResponse(svg, content_type=FORMATS["svg"][1])
        response["Content-Disposition"] = 'attachment; filename="dataflow.svg"'
        return response
    return render(request, "web/processes/dataflow.html", {"svg": mark_safe(svg)})  # noqa: S308


def _duration(value: timedelta | None) -> str:
    return "—" if value is None else format_duration(value)


urlpatterns = [
    path("backoffice/processes/", catalogue, name="processes"),
    path("backoffice/processes/dataflow/", dataflow, name="process_dataflow"),
    path("backoffice/processes/<slug:name>/", detail, name="process_detail"),
    path("backoffice/processes/<slug:name>/download/<slug:fmt>/", download, name="process_download"),
    path("backoffice/processes/<slug:name>/objects/<int:object_id>/", object_path, name="process_object"),
]
