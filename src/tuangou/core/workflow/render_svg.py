"""The swimlane flowchart as SVG, drawn in pure Python from the declaration.

Start circles, end circles (thick), tasks as rounded boxes, meetings with a double border,
optional steps dashed, documents as document shapes under the step that produces them,
decisions as diamonds with labelled outcomes. With `highlight`, one object's path is drawn
over it: the steps it went through, the arrows it took and where it is now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext

from .declaration import Process
from .layout import (
    EVENT_FONT,
    HEADER_FONT,
    HEADER_W,
    MARGIN,
    SMALL_FONT,
    SMALL_LINE,
    TASK_FONT,
    TASK_LINE,
    Box,
    Layout,
    compute_layout,
)
from .text import text_width

FONT_FAMILY = "'Noto Sans CJK TC','Noto Sans TC','PingFang TC','Microsoft JhengHei','Source Han Sans TC',sans-serif"

INK = "#2f3b4c"
TASK_STROKE = "#3b5b8c"
LANE_FILLS = ("#f5f8fc", "#ffffff")
EXTERNAL_FILL = "#fdf7ee"
HEADER_FILL = "#e6edf6"
EXTERNAL_HEADER_FILL = "#f6e8d2"
DOC_FILL = "#fffbe6"
DOC_STROKE = "#8d6e63"
GATE_FILL = "#fff6d9"
GATE_STROKE = "#b7860b"
START_STROKE = "#2e7d32"
END_STROKE = "#b71c1c"
VISITED_FILL = "#e3f0fd"
VISITED_STROKE = "#1565c0"
CURRENT_FILL = "#fff0dc"
CURRENT_STROKE = "#e65100"


@dataclass(frozen=True)
class Highlight:
    """One object's path: nodes it visited, arrows it took, the node it rests at now."""

    visited: frozenset[str] = frozenset()
    transitions: frozenset[int] = frozenset()
    current: str | None = None

    @classmethod
    def from_steps(
        cls, process: Process, steps: Iterable[tuple[str, str, str]], current: str | None = None
    ) -> Highlight:
        """Build from logged ``(from_state, to_state, action)`` steps, oldest first."""
        visited: set[str] = set()
        taken: set[int] = set()
        index = {id(t): i for i, t in enumerate(process.transitions)}
        last = None
        for source, target, action in steps:
            visited |= {source, target}
            route = process.route(source, action)
            if route is not None and route.target == target:
                for t in route.transitions:
                    taken.add(index[id(t)])
                    visited.add(t.target)
            last = target
        if current is None:
            current = last
        if current:
            visited.add(current)
        return cls(frozenset(visited), frozenset(taken), current)


@dataclass
class _Out:
    parts: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)


def _n(value: float) -> str:
    text = f"{round(value, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_block(
    out: _Out,
    lines: list[str],
    cx: float,
    top: float,
    size: float,
    line_h: float,
    *,
    cls: str = "",
    anchor: str = "middle",
) -> None:
    attr = f' class="{cls}"' if cls else ""
    for k, line in enumerate(lines):
        y = top + line_h * k + size * 0.9
        out.add(
            f'<text x="{_n(cx)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}"{attr}>{escape(line)}</text>'
        )


def _diamond(b: Box) -> list[tuple[float, float]]:
    return [(b.cx, b.y), (b.right, b.cy), (b.cx, b.bottom), (b.x, b.cy)]


def _points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{_n(px)},{_n(py)}" for px, py in points)


def _doc_path(b: Box) -> str:
    wave = 6
    return (
        f"M{_n(b.x)},{_n(b.y)} H{_n(b.right)} V{_n(b.bottom - wave)} "
        f"C{_n(b.right - b.w * 0.25)},{_n(b.bottom - wave * 2)} "
        f"{_n(b.x + b.w * 0.55)},{_n(b.bottom + wave * 0.6)} "
        f"{_n(b.x)},{_n(b.bottom - wave)} Z"
    )


def render_svg(process: Process, *, highlight: Highlight | None = None, layout: Layout | None = None) -> str:
    """The process as a standalone SVG document (UTF-8 text), in the active language."""
    lay = layout or compute_layout(process)
    hl = highlight or Highlight()
    pid = process.name.replace("_", "-")
    out = _Out()
    out.add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width}" height="{lay.height}" '
        f'viewBox="0 0 {lay.width} {lay.height}" role="img" aria-labelledby="{pid}-title" '
        f"font-family={quoteattr(FONT_FAMILY)}>"
    )
    out.add(f'<title id="{pid}-title">{escape(lay.title)}</title>')
    out.add(
        "<defs>"
        f'<marker id="{pid}-arrow" viewBox="0 0 10 10" refX="9.5" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker>'
        f'<marker id="{pid}-arrow-hl" viewBox="0 0 10 10" refX="9.5" refY="5" '
        'markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{VISITED_STROKE}"/></marker>'
        "</defs>"
    )
    out.add(f'<rect x="0" y="0" width="{lay.width}" height="{lay.height}" fill="#ffffff"/>')
    out.add(
        f'<text x="{MARGIN}" y="{MARGIN + 24}" font-size="18" font-weight="bold" fill="{INK}">'
        f"{escape(lay.title)}</text>"
    )

    # lanes
    for k, lane in enumerate(lay.lanes):
        b = lane.box
        fill = EXTERNAL_FILL if lane.external else LANE_FILLS[k % 2]
        head = EXTERNAL_HEADER_FILL if lane.external else HEADER_FILL
        out.add(f'<g class="lane" data-role="{escape(lane.role)}">')
        out.add(
            f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" fill="{fill}" '
            f'stroke="#9fb0c8" stroke-width="1"/>'
        )
        out.add(
            f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{HEADER_W}" height="{_n(b.h)}" fill="{head}" '
            f'stroke="#9fb0c8" stroke-width="1"/>'
        )
        lines = list(lane.title_lines)
        if lane.external:
            lines.append(gettext("(external)"))
        block_h = (HEADER_FONT + 6) * len(lines)
        _text_block(
            out,
            lines,
            b.x + HEADER_W / 2,
            b.cy - block_h / 2,
            HEADER_FONT,
            HEADER_FONT + 6,
            cls="lane-title",
        )
        out.add("</g>")

    # arrows under the shapes
    for edge in lay.edges:
        t = edge.transition
        taken = edge.index in hl.transitions
        stroke, width, marker = (VISITED_STROKE, "2.5", "arrow-hl") if taken else (INK, "1.4", "arrow")
        d = "M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in edge.points)
        tip = t.action or ""
        if t.by:
            performers = ", ".join(_performer(process, p) for p in t.by)
            tip = f"{t.title or t.action} ({t.action}) — {performers}" if t.action else tip
        cls = "flow taken" if taken else "flow"
        out.add(
            f'<g class="{cls}" data-source="{t.source}" data-target="{t.target}" data-action="{t.action}">'
            f"<title>{escape(str(tip))}</title>"
            f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width}" '
            f'stroke-linejoin="round" marker-end="url(#{pid}-{marker})"/>'
            "</g>"
        )
    for edge in lay.edges:
        if edge.label_box is not None:
            b = edge.label_box
            out.add(
                f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" fill="#ffffff" '
                f'fill-opacity="0.85" rx="3"/>'
            )
            _text_block(
                out,
                edge.label_lines,
                b.x + 3,
                b.y + 1,
                SMALL_FONT,
                SMALL_LINE,
                cls="outcome",
                anchor="start",
            )

    # documents and their associations
    node_of = lay.nodes
    for doc in lay.documents:
        task = node_of[doc.task].body
        b = doc.box
        out.add(
            f'<g class="document" data-document="{doc.code}" data-task="{doc.task}">'
            f'<path d="M{_n(b.cx)},{_n(task.bottom)} V{_n(b.y)}" stroke="{DOC_STROKE}" stroke-width="1" '
            f'stroke-dasharray="2 3" fill="none"/>'
            f'<path d="{_doc_path(b)}" fill="{DOC_FILL}" stroke="{DOC_STROKE}" stroke-width="1"/>'
        )
        _text_block(out, doc.lines, b.cx, b.y + 6, SMALL_FONT, SMALL_LINE)
        out.add("</g>")

    # nodes
    for shape in lay.nodes.values():
        b = shape.body
        visited = shape.name in hl.visited
        current = shape.name == hl.current
        fill = CURRENT_FILL if current else VISITED_FILL if visited else "#ffffff"
        state = " current" if current else " visited" if visited else ""
        out.add(f'<g class="node {shape.kind}{state}" id="{pid}-{shape.name}" data-node="{shape.name}">')
        out.add(f"<title>{escape(' '.join(shape.lines))} ({shape.name})</title>")
        if shape.kind in ("task", "meeting"):
            stroke = CURRENT_STROKE if current else VISITED_STROKE if visited else TASK_STROKE
            sw = "3" if current else "1.6"
            dash = ' stroke-dasharray="6 4"' if not shape.required else ""
            out.add(
                f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" rx="10" ry="10" '
                f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>'
            )
            top = b.y + 9
            if shape.kind == "meeting":
                inner = b.inflate(-4)
                out.add(
                    f'<rect x="{_n(inner.x)}" y="{_n(inner.y)}" width="{_n(inner.w)}" height="{_n(inner.h)}" '
                    f'rx="7" ry="7" fill="none" stroke="{stroke}" stroke-width="1"{dash}/>'
                )
                top += 8
            n_lines = len(shape.lines) + (1 if shape.limit_text else 0)
            top = max(top, b.cy - (TASK_LINE * n_lines) / 2)
            _text_block(out, shape.lines, b.cx, top, TASK_FONT, TASK_LINE, cls="label")
            if shape.limit_text:
                _text_block(
                    out,
                    [shape.limit_text],
                    b.cx,
                    top + TASK_LINE * len(shape.lines) + 1,
                    SMALL_FONT - 1,
                    SMALL_LINE,
                    cls="limit",
                )
            tag = gettext("meeting") if shape.kind == "meeting" else ""
            if not shape.required:
                tag = (tag + " · " if tag else "") + gettext("optional")
            if tag:
                out.add(
                    f'<text x="{_n(b.right - 8)}" y="{_n(b.y - 3)}" font-size="10" text-anchor="end" '
                    f'fill="{TASK_STROKE}" class="tag">{escape(tag)}</text>'
                )
        elif shape.kind == "decision":
            stroke = CURRENT_STROKE if current else VISITED_STROKE if visited else GATE_STROKE
            pts = _points(_diamond(b))
            gate_fill = fill if (visited or current) else GATE_FILL
            out.add(f'<polygon points="{pts}" fill="{gate_fill}" stroke="{stroke}" stroke-width="1.6"/>')
            r = b.w * 0.16
            out.add(
                f'<path d="M{_n(b.cx - r)},{_n(b.cy - r)} L{_n(b.cx + r)},{_n(b.cy + r)} '
                f'M{_n(b.cx + r)},{_n(b.cy - r)} L{_n(b.cx - r)},{_n(b.cy + r)}" stroke="{stroke}" '
                f'stroke-width="2.5"/>'
            )
            _text_block(out, shape.lines, shape.label.cx, shape.label.y, EVENT_FONT, SMALL_LINE, cls="label")
        else:
            is_end = shape.kind == "end"
            stroke = END_STROKE if is_end else START_STROKE
            if current:
                stroke = CURRENT_STROKE
            sw = "4" if is_end else "2"
            out.add(
                f'<circle cx="{_n(b.cx)}" cy="{_n(b.cy)}" r="{_n(b.w / 2)}" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="{sw}"/>'
            )
            _text_block(out, shape.lines, shape.label.cx, shape.label.y, EVENT_FONT, SMALL_LINE, cls="label")
        out.add("</g>")

    _legend(out, lay)
    out.add("</svg>")
    return "\n".join(out.parts) + "\n"


def _performer(process: Process, code: str) -> str:
    if code == "owner":
        return gettext("owner")
    lane = process.lane_by_role.get(code)
    return str(lane.title) if lane else code


def _legend(out: _Out, lay: Layout) -> None:
    y = lay.legend_y
    x = float(MARGIN)
    cy = y + 16
    out.add(f'<g class="legend" transform="translate(0,0)" font-size="{SMALL_FONT}">')
    items = [
        ("start", gettext("Start")),
        ("end", gettext("End")),
        ("task", gettext("Task")),
        ("meeting", gettext("Meeting")),
        ("optional", gettext("Optional")),
        ("decision", gettext("Decision")),
        ("document", gettext("Document")),
    ]
    for kind, label in items:
        if kind in ("start", "end"):
            stroke, sw = (END_STROKE, 3) if kind == "end" else (START_STROKE, 1.5)
            out.add(f'<circle cx="{_n(x + 9)}" cy="{_n(cy)}" r="8" fill="#fff" stroke="{stroke}" stroke-width="{sw}"/>')
            x += 22
        elif kind in ("task", "meeting", "optional"):
            dash = ' stroke-dasharray="4 3"' if kind == "optional" else ""
            out.add(
                f'<rect x="{_n(x)}" y="{_n(cy - 9)}" width="30" height="18" rx="5" fill="#fff" '
                f'stroke="{TASK_STROKE}" stroke-width="1.4"{dash}/>'
            )
            if kind == "meeting":
                out.add(
                    f'<rect x="{_n(x + 3)}" y="{_n(cy - 6)}" width="24" height="12" rx="3" fill="none" '
                    f'stroke="{TASK_STROKE}" stroke-width="0.8"/>'
                )
            x += 36
        elif kind == "decision":
            out.add(
                f'<polygon points="{_points(_diamond(Box(x, cy - 10, 20, 20)))}" '
                f'fill="{GATE_FILL}" stroke="{GATE_STROKE}" stroke-width="1.2"/>'
            )
            x += 26
        else:
            out.add(
                f'<path d="{_doc_path(Box(x, cy - 10, 24, 20))}" fill="{DOC_FILL}" stroke="{DOC_STROKE}" '
                f'stroke-width="1"/>'
            )
            x += 30
        out.add(f'<text x="{_n(x)}" y="{_n(cy + 4)}" fill="{INK}">{escape(label)}</text>')
        x += text_width(label, SMALL_FONT) + 18
    out.add("</g>")
