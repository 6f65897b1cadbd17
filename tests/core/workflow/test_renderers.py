"""Every renderer, on every process declared anywhere in the project."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from tuangou.core.workflow import Decision, Process, Task, all_processes, validate
from tuangou.core.workflow.dataflow import build_model, render_dataflow_svg
from tuangou.core.workflow.layout import Box, compute_layout
from tuangou.core.workflow.render_bpmn import render_bpmn
from tuangou.core.workflow.render_mermaid import render_mermaid
from tuangou.core.workflow.render_svg import Highlight, render_svg
from tuangou.core.workflow.text import text_width, wrap
from tuangou.salesdesk.process import SALES_ORDER

from .ticket import TICKET

SVG = "{http://www.w3.org/2000/svg}"
JS_DIR = Path(__file__).resolve().parents[2] / "js"


def processes() -> list[Process]:
    found = all_processes()
    assert SALES_ORDER in found and TICKET in found
    return found


def svg_texts(svg: str) -> str:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_labels_are_measured_and_wrapped() -> None:
    assert text_width("團購部", 10) == 30
    assert text_width("abc", 10) == pytest.approx(16.5)
    assert wrap("團購部登記後開票發貨", 50, 10) == ["團購部登記", "後開票發貨"]
    lines = wrap("Department registers, invoices and ships", 100, 10)
    assert " ".join(lines) == "Department registers, invoices and ships"  # breaks at spaces only
    assert all(text_width(line, 10) <= 100 for line in lines)
    # closing punctuation never starts a line
    assert all(not line.startswith("，") for line in wrap("一二三四，五六七八", 40, 10))


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_every_declared_process_validates_and_renders(language: str) -> None:
    with translation.override(language):
        for process in processes():
            validate(process)
            svg = render_svg(process)
            text = svg_texts(svg)
            layout = compute_layout(process)
            for node in process.iter_nodes():
                for line in layout.nodes[node.name].lines:
                    assert line in text, (process.name, node.name, line)
            for lane in layout.lanes:
                for line in lane.title_lines:
                    assert line in text
            for doc in layout.documents:
                for line in doc.lines:
                    assert line in text
            mermaid = render_mermaid(process)
            assert mermaid.startswith("flowchart LR\n")
            for lane in process.lanes:
                assert f"subgraph lane_{lane.role}[" in mermaid
            for node in process.iter_nodes():
                assert f"n_{node.name}" in mermaid
            assert mermaid.count(" --> ") + mermaid.count(" -->|") == len(process.transitions)
            ET.fromstring(render_bpmn(process))  # noqa: S314 - our own output


def test_svg_is_deterministic_and_marks_shapes() -> None:
    with translation.override("zh-hant"):
        first, second = render_svg(SALES_ORDER), render_svg(SALES_ORDER)
    assert first == second
    root = ET.fromstring(first)  # noqa: S314 - our own output
    groups = {g.get("data-node"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-node")}
    assert groups["new"] == "node start"
    assert groups["closed"] == "node end"
    assert groups["dispatching"] == "node task"
    assert groups["order_channel"] == "node decision"
    ticket = ET.fromstring(render_svg(TICKET))  # noqa: S314 - our own output
    meet = next(g for g in ticket.iter(f"{SVG}g") if g.get("data-node") == "meet")
    assert meet.get("class") == "node meeting"
    rects = list(meet.iter(f"{SVG}rect"))
    assert len(rects) == 2  # a meeting has a double border
    assert rects[0].get("stroke-dasharray")  # optional: dashed


def _segments_cross_box(points: list[tuple[float, float]], box: Box) -> bool:
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if y0 == y1 and box.y < y0 < box.bottom and min(x0, x1) < box.right and max(x0, x1) > box.x:
            return True
        if x0 == x1 and box.x < x0 < box.right and min(y0, y1) < box.bottom and max(y0, y1) > box.y:
            return True
    return False


def test_arrows_are_orthogonal_and_cross_no_box() -> None:
    for process in processes():
        layout = compute_layout(process)
        boxes = [(name, s.body) for name, s in layout.nodes.items()]
        boxes += [(f"doc:{d.task}:{d.code}", d.box) for d in layout.documents]
        for edge in layout.edges:
            pts = edge.points
            assert len(pts) >= 2
            for (x0, y0), (x1, y1) in itertools.pairwise(pts):
                assert x0 == x1 or y0 == y1, (process.name, edge.transition)
            for name, box in boxes:
                assert not _segments_cross_box(pts, box), (process.name, edge.transition, name)
        # arrows start and end on their nodes
        for edge in layout.edges:
            src = layout.nodes[edge.transition.source].body
            tgt = layout.nodes[edge.transition.target].body
            assert _on_border(edge.points[0], src)
            assert _on_border(edge.points[-1], tgt)


def _on_border(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    return (x in (round(box.x, 1), round(box.right, 1)) and box.y <= y <= box.bottom) or (
        y in (round(box.y, 1), round(box.bottom, 1)) and box.x <= x <= box.right
    )


def test_one_objects_path_is_highlighted() -> None:
    steps = [
        ("new", "taking", "receive"),
        ("taking", "registering", "take"),
        ("registering", "placing", "register"),
        ("placing", "dispatching", "place_by_phone"),
    ]
    highlight = Highlight.from_steps(SALES_ORDER, steps)
    assert highlight.current == "dispatching"
    assert {"new", "taking", "placing", "order_channel", "dispatching"} <= highlight.visited
    svg = render_svg(SALES_ORDER, highlight=highlight)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    classes = {g.get("data-node"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-node")}
    assert classes["dispatching"] == "node task current"
    assert classes["order_channel"] == "node decision visited"
    assert classes["signing"] == "node task"
    taken = {g.get("data-action") for g in root.iter(f"{SVG}g") if "taken" in (g.get("class") or "")}
    assert taken == {"receive", "take", "register", "", "place_by_phone"}


def _bpmn_parse(tmp_path: Path, xml: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "bpmn-moddle").exists():
        pytest.fail("node and tests/js/node_modules are needed: (cd tests/js && npm ci)")
    path = tmp_path / "process.bpmn"
    path.write_text(xml, encoding="utf-8")
    result = subprocess.run(
        [node, str(JS_DIR / "parse_bpmn.mjs"), str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_bpmn_parses_with_bpmn_moddle_without_warnings(tmp_path: Path, language: str) -> None:
    with translation.override(language):
        for process in processes():
            parsed = _bpmn_parse(tmp_path, render_bpmn(process))
            assert parsed["warnings"] == [], (process.name, parsed["warnings"])
            assert parsed["root"] == "bpmn:Definitions"
            by_id = {e["id"]: e for e in parsed["elements"]}
            types = {e["type"] for e in parsed["elements"]}
            assert {"bpmn:Collaboration", "bpmn:Participant", "bpmn:LaneSet", "bpmn:Lane"} <= types
            for lane in process.lanes:
                assert by_id[f"Lane_{lane.role}"]["name"] == str(lane.title)
            expected = {"start": "bpmn:StartEvent", "end": "bpmn:EndEvent"}
            for node in process.iter_nodes():
                matches = [
                    e for e in parsed["elements"] if e["id"].endswith(f"_{node.name}") and e["type"] != "bpmn:Lane"
                ]
                assert len(matches) == 1, node.name
                if isinstance(node, Decision):
                    assert matches[0]["type"] == "bpmn:ExclusiveGateway"
                elif isinstance(node, Task):
                    assert matches[0]["type"] == "bpmn:Task"
                else:
                    assert matches[0]["type"] == expected[node.kind]
            flows = [e for e in parsed["elements"] if e["type"] == "bpmn:SequenceFlow"]
            assert len(flows) == len(process.transitions)
            refs = [e for e in parsed["elements"] if e["type"] == "bpmn:DataObjectReference"]
            assert len(refs) == sum(len(t.documents) for t in process.tasks)
            outs = [e for e in parsed["elements"] if e["type"] == "bpmn:DataOutputAssociation"]
            assert len(outs) == len(refs)
            # diagram interchange: a shape or an edge for every element, none dangling
            di_refs = {d["ref"] for d in parsed["di"]}
            assert None not in di_refs
            for element in parsed["elements"]:
                if element["type"] in {
                    "bpmn:Participant",
                    "bpmn:Lane",
                    "bpmn:StartEvent",
                    "bpmn:EndEvent",
                    "bpmn:Task",
                    "bpmn:ExclusiveGateway",
                    "bpmn:SequenceFlow",
                    "bpmn:DataObjectReference",
                    "bpmn:DataOutputAssociation",
                }:
                    assert element["id"] in di_refs, element


def test_the_bpmn_check_catches_what_is_wrong(tmp_path: Path) -> None:
    xml = render_bpmn(TICKET).replace('targetRef="Activity_pay"', 'targetRef="Activity_nowhere"', 1)
    parsed = _bpmn_parse(tmp_path, xml)
    assert any("unresolved reference <Activity_nowhere>" in w for w in parsed["warnings"])


def test_data_flow_diagram_of_the_whole_system() -> None:
    with translation.override("zh-hant"):
        model = build_model()
        svg = render_dataflow_svg()
        assert ("sales_order", str(SALES_ORDER.title)) in model.processes
    roles = dict(model.roles)
    assert {"sales_rep", "sales_dept", "customer"} <= set(roles)
    assert "salesdesk.Order" in dict(model.stores)
    flows = {(f.source, f.target) for f in model.flows}
    assert ("role:sales_rep", "process:sales_order") in flows
    assert ("process:sales_order", "role:customer") in flows  # invoice, delivery note, receipt
    assert ("process:sales_order", "store:salesdesk.Order") in flows
    text = svg_texts(svg)
    for _code, title in model.roles:
        assert title in text
    for _name, title in model.processes:
        assert title in text
