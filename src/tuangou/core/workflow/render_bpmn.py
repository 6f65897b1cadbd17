"""BPMN 2.0 XML, with diagram interchange taken from the same layout as the SVG.

One pool (participant) with a lane per role; start and end events; tasks (a meeting is a task
whose documentation says so, since BPMN has no meeting element); exclusive gateways for
decisions, with named outgoing flows; every document a step produces is a data object
reference tied to the step by a data output association. Opens in bpmn.io / Camunda Modeler
and anything else that reads the standard.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext

from .declaration import Decision, End, Process, Start, Task
from .layout import Box, Layout, compute_layout, format_duration

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
TARGET_NAMESPACE = "urn:tuangou:process"
POOL_LABEL_W = 30


def _n(value: float) -> str:
    text = f"{round(value, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _bounds(b: Box) -> str:
    return f'<dc:Bounds x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}"/>'


def node_id(process: Process, name: str) -> str:
    node = process.nodes[name]
    prefix = {
        Start: "StartEvent",
        End: "EndEvent",
        Decision: "Gateway",
        Task: "Activity",
    }[type(node)]
    return f"{prefix}_{name}"


def flow_id(index: int) -> str:
    return f"Flow_{index + 1}"


def data_ref_id(task: str, code: str) -> str:
    return f"DataObjectReference_{task}__{code}"


def association_id(task: str, code: str) -> str:
    return f"DataOutputAssociation_{task}__{code}"


def render_bpmn(process: Process, *, layout: Layout | None = None) -> str:
    """The process as a BPMN 2.0 document (UTF-8 text), in the active language."""
    lay = layout or compute_layout(process)
    p = process.name
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(
        "<bpmn:definitions "
        + " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
        + f' id="Definitions_{p}" targetNamespace="{TARGET_NAMESPACE}"'
        + ' exporter="tuangou" exporterVersion="1">'
    )
    out.append(f'<bpmn:collaboration id="Collaboration_{p}">')
    out.append(f'<bpmn:participant id="Participant_{p}" name={quoteattr(lay.title)} processRef="Process_{p}"/>')
    out.append("</bpmn:collaboration>")
    out.append(f'<bpmn:process id="Process_{p}" name={quoteattr(lay.title)} isExecutable="false">')
    if str(process.description):
        out.append(f"<bpmn:documentation>{escape(str(process.description))}</bpmn:documentation>")

    # lanes
    out.append(f'<bpmn:laneSet id="LaneSet_{p}">')
    for lane in process.lanes:
        out.append(f'<bpmn:lane id="Lane_{lane.role}" name={quoteattr(str(lane.title))}>')
        for node in process.iter_nodes():
            if node.lane == lane.role:
                out.append(f"<bpmn:flowNodeRef>{node_id(process, node.name)}</bpmn:flowNodeRef>")
        out.append("</bpmn:lane>")
    out.append("</bpmn:laneSet>")

    # flow nodes
    incoming: dict[str, list[str]] = {n: [] for n in process.nodes}
    outgoing: dict[str, list[str]] = {n: [] for n in process.nodes}
    for i, t in enumerate(process.transitions):
        outgoing[t.source].append(flow_id(i))
        incoming[t.target].append(flow_id(i))
    for node in process.iter_nodes():
        name = node.name
        title = quoteattr(" ".join(lay.nodes[name].lines) if isinstance(node, Task) else str(node.title))
        nid = node_id(process, name)
        tag = {Start: "startEvent", End: "endEvent", Decision: "exclusiveGateway", Task: "task"}[type(node)]
        out.append(f"<bpmn:{tag} id={quoteattr(nid)} name={title}>")
        if isinstance(node, Task):
            notes = []
            if node.kind == "meeting":
                notes.append(gettext("Meeting"))
            notes.append(gettext("Required") if node.required else gettext("Optional"))
            if node.time_limit is not None:
                notes.append(gettext("Limit: %(duration)s") % {"duration": format_duration(node.time_limit)})
            if str(node.description):
                notes.append(str(node.description))
            out.append(f"<bpmn:documentation>{escape(' · '.join(notes))}</bpmn:documentation>")
        out.extend(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[name])
        out.extend(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[name])
        if isinstance(node, Task):
            for code in node.documents:
                out.append(
                    f'<bpmn:dataOutputAssociation id="{association_id(name, code)}">'
                    f"<bpmn:targetRef>{data_ref_id(name, code)}</bpmn:targetRef>"
                    "</bpmn:dataOutputAssociation>"
                )
        out.append(f"</bpmn:{tag}>")

    for i, t in enumerate(process.transitions):
        label = str(t.title) if t.title else t.action
        name = f" name={quoteattr(label)}" if label else ""
        out.append(
            f'<bpmn:sequenceFlow id="{flow_id(i)}"{name} sourceRef="{node_id(process, t.source)}" '
            f'targetRef="{node_id(process, t.target)}"/>'
        )

    # documents: one data object each, one reference per producing step
    for doc in process.documents:
        out.append(f'<bpmn:dataObject id="DataObject_{doc.code}"/>')
    for shape in lay.documents:
        doc = process.document_by_code[shape.code]
        out.append(
            f'<bpmn:dataObjectReference id="{data_ref_id(shape.task, shape.code)}" '
            f'name={quoteattr(str(doc.title))} dataObjectRef="DataObject_{shape.code}"/>'
        )
    out.append("</bpmn:process>")

    # diagram interchange
    out.append(f'<bpmndi:BPMNDiagram id="BPMNDiagram_{p}">')
    out.append(f'<bpmndi:BPMNPlane id="BPMNPlane_{p}" bpmnElement="Collaboration_{p}">')
    body = lay.body
    out.append(
        f'<bpmndi:BPMNShape id="Participant_{p}_di" bpmnElement="Participant_{p}" isHorizontal="true">'
        f"{_bounds(body)}</bpmndi:BPMNShape>"
    )
    for band in lay.lanes:
        b = band.box
        lb = Box(b.x + POOL_LABEL_W, b.y, b.w - POOL_LABEL_W, b.h)
        out.append(
            f'<bpmndi:BPMNShape id="Lane_{band.role}_di" bpmnElement="Lane_{band.role}" isHorizontal="true">'
            f"{_bounds(lb)}</bpmndi:BPMNShape>"
        )
    for name, node_shape in lay.nodes.items():
        nid = node_id(process, name)
        marker = ' isMarkerVisible="true"' if node_shape.kind == "decision" else ""
        label = ""
        if node_shape.kind in ("start", "end", "decision"):
            label = f"<bpmndi:BPMNLabel>{_bounds(node_shape.label)}</bpmndi:BPMNLabel>"
        out.append(
            f'<bpmndi:BPMNShape id="{nid}_di" bpmnElement="{nid}"{marker}>{_bounds(node_shape.body)}{label}'
            "</bpmndi:BPMNShape>"
        )
    for doc_shape in lay.documents:
        rid = data_ref_id(doc_shape.task, doc_shape.code)
        out.append(f'<bpmndi:BPMNShape id="{rid}_di" bpmnElement="{rid}">{_bounds(doc_shape.box)}</bpmndi:BPMNShape>')
    for edge in lay.edges:
        fid = flow_id(edge.index)
        points = "".join(f'<di:waypoint x="{_n(x)}" y="{_n(y)}"/>' for x, y in edge.points)
        label = f"<bpmndi:BPMNLabel>{_bounds(edge.label_box)}</bpmndi:BPMNLabel>" if edge.label_box else ""
        out.append(f'<bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">{points}{label}</bpmndi:BPMNEdge>')
    for doc_shape in lay.documents:
        task_box = lay.nodes[doc_shape.task].body
        aid = association_id(doc_shape.task, doc_shape.code)
        x = doc_shape.box.cx
        out.append(
            f'<bpmndi:BPMNEdge id="{aid}_di" bpmnElement="{aid}">'
            f'<di:waypoint x="{_n(x)}" y="{_n(task_box.bottom)}"/>'
            f'<di:waypoint x="{_n(x)}" y="{_n(doc_shape.box.y)}"/>'
            "</bpmndi:BPMNEdge>"
        )
    out.append("</bpmndi:BPMNPlane>")
    out.append("</bpmndi:BPMNDiagram>")
    out.append("</bpmn:definitions>")
    return "\n".join(out) + "\n"
