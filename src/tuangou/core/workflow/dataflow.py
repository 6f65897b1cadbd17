"""The system's data-flow diagram (S9 數據流程圖), generated from every declared process.

Three columns: external entities (the roles, as squares) on the left, the processes (numbered
rounded boxes) in the middle, the data stores (the models each process changes, as open
boxes) on the right. Flows:

- role → process: the documents the role's steps produce in that process (or, when they
  produce none, the actions the role performs);
- process → role: documents addressed to that role (`Document.to`);
- process → data store: the process writes it.

Every flow has its own vertical channel in the gap between two columns, so arrows are
orthogonal, never cross a box, and their labels sit on their own horizontal leg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext

from .declaration import Process
from .layout import Box
from .registry import all_processes
from .render_svg import FONT_FAMILY, INK
from .text import block_width, text_width, wrap

FONT = 12
SMALL = 11
BOX_W = 150
ROW_GAP = 28
PORT_STEP = 22
CHANNEL_STEP = 12
MARGIN = 24
TITLE_H = 44


@dataclass
class Flow:
    source: str  # "role:x", "process:y", "store:z"
    target: str
    label: str


@dataclass
class DataFlowModel:
    roles: list[tuple[str, str]]  # (code, title)
    processes: list[tuple[str, str]]
    stores: list[tuple[str, str]]
    flows: list[Flow]


def _role_title(code: str, processes: Sequence[Process]) -> str:
    for process in processes:
        lane = process.lane_by_role.get(code)
        if lane is not None:
            return str(lane.title)
    return code


def _store_title(label: str) -> str:
    """The model's verbose name when the model exists, else its label."""
    try:
        from django.apps import apps

        model = apps.get_model(label)
    except (LookupError, ValueError, ImportError):
        return label
    except Exception:
        return label
    return str(model._meta.verbose_name)


def build_model(processes: Sequence[Process] | None = None) -> DataFlowModel:
    procs = list(processes) if processes is not None else all_processes()
    roles: dict[str, str] = {}
    stores: dict[str, str] = {}
    flows: list[Flow] = []
    for process in procs:
        pkey = f"process:{process.name}"
        for lane in process.lanes:
            roles.setdefault(lane.role, _role_title(lane.role, procs))
        for lane in process.lanes:
            produced: list[str] = []
            for task in process.tasks:
                if task.lane == lane.role:
                    for code in task.documents:
                        doc = process.document_by_code[code]
                        title = str(doc.title)
                        if doc.to is None and title not in produced:
                            produced.append(title)
            performs = [str(t.title or t.action) for t in process.transitions if lane.role in t.by]
            if not produced:
                produced = performs[:2]
            if produced or performs or any(t.lane == lane.role for t in process.tasks):
                flows.append(Flow(f"role:{lane.role}", pkey, "、".join(produced)))
        sent: dict[str, list[str]] = {}
        for doc in process.documents:
            if doc.to:
                sent.setdefault(doc.to, []).append(str(doc.title))
        for role, titles in sent.items():
            flows.append(Flow(pkey, f"role:{role}", "、".join(titles)))
        for label in process.data_stores:
            stores.setdefault(label, _store_title(label))
            flows.append(Flow(pkey, f"store:{label}", gettext("writes")))
    return DataFlowModel(
        roles=sorted(roles.items()),
        processes=[(p.name, str(p.title)) for p in procs],
        stores=sorted(stores.items()),
        flows=flows,
    )


def render_dataflow_svg(processes: Sequence[Process] | None = None) -> str:
    model = build_model(processes)
    title = gettext("Data-flow diagram")

    def sizes(items: list[tuple[str, str]], prefix: str) -> dict[str, list[str]]:
        return {f"{prefix}:{key}": wrap(text, BOX_W - 20, FONT) for key, text in items}

    labels = sizes(model.roles, "role") | sizes(model.processes, "process") | sizes(model.stores, "store")
    numbers = {f"process:{key}": f"P{i + 1}" for i, (key, _t) in enumerate(model.processes)}
    numbers |= {f"store:{key}": f"D{i + 1}" for i, (key, _t) in enumerate(model.stores)}
    ports: dict[str, int] = {}
    for f in model.flows:
        ports[f.source] = ports.get(f.source, 0) + 1
        ports[f.target] = ports.get(f.target, 0) + 1

    def height(key: str) -> float:
        text_h = 16 * len(labels[key]) + (16 if key in numbers else 0) + 20
        return max(56.0, text_h, PORT_STEP * (ports.get(key, 0) + 1))

    left_flows = [f for f in model.flows if "role:" in (f.source + f.target)]
    right_flows = [f for f in model.flows if f.target.startswith("store:")]
    left_label_w = max((block_width(wrap(f.label, 150, SMALL), SMALL) for f in left_flows), default=0)
    right_label_w = max((text_width(f.label, SMALL) for f in right_flows), default=0)
    gap_left = left_label_w + 40 + CHANNEL_STEP * len(left_flows)
    gap_right = right_label_w + 40 + CHANNEL_STEP * len(right_flows)
    col_x = [MARGIN, MARGIN + BOX_W + gap_left, MARGIN + 2 * BOX_W + gap_left + gap_right]

    boxes: dict[str, Box] = {}
    bottom = 0.0
    for column, (items, prefix) in enumerate(
        ((model.roles, "role"), (model.processes, "process"), (model.stores, "store"))
    ):
        y = MARGIN + TITLE_H + 20.0
        for key, _text in items:
            k = f"{prefix}:{key}"
            h = height(k)
            boxes[k] = Box(col_x[column], y, BOX_W, h)
            y += h + ROW_GAP
        bottom = max(bottom, y)
    width = col_x[2] + BOX_W + MARGIN
    height_total = bottom + MARGIN + 10

    # ports: on every box, the flows attached in the order of where their other end is
    attached: dict[str, list[tuple[float, int]]] = {}
    for i, f in enumerate(model.flows):
        attached.setdefault(f.source, []).append((boxes[f.target].cy, i))
        attached.setdefault(f.target, []).append((boxes[f.source].cy, i))
    port_y: dict[tuple[str, int], float] = {}
    for key, ends in attached.items():
        b = boxes[key]
        for slot, (_y, i) in enumerate(sorted(ends)):
            port_y[(key, i)] = b.y + b.h * (slot + 1) / (len(ends) + 1)

    # channels: a flow going up takes a channel nearer the target the lower it starts, and
    # one going down the higher it starts, so that vertical legs do not cross horizontal ones
    def channel_order(indices: list[int]) -> dict[int, int]:
        def key(i: int) -> tuple[int, float]:
            f = model.flows[i]
            y0, y1 = port_y[(f.source, i)], port_y[(f.target, i)]
            role_end = y0 if not f.source.startswith("process:") or f.target.startswith("store:") else y1
            return (0, -role_end) if y1 >= y0 else (1, role_end)

        return {i: k + 1 for k, i in enumerate(sorted(indices, key=key))}

    left_order = channel_order([i for i, f in enumerate(model.flows) if "role:" in f.source + f.target])
    right_order = channel_order([i for i, f in enumerate(model.flows) if f.target.startswith("store:")])

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{round(width)}" height="{round(height_total)}" '
        f'viewBox="0 0 {round(width)} {round(height_total)}" role="img" '
        f"font-family={quoteattr(FONT_FAMILY)}>",
        f"<title>{escape(title)}</title>",
        '<defs><marker id="dfd-arrow" viewBox="0 0 10 10" refX="9.5" refY="5" '
        'markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>',
        f'<rect x="0" y="0" width="{round(width)}" height="{round(height_total)}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 24}" font-size="18" font-weight="bold" fill="{INK}">{escape(title)}</text>',
    ]
    heads = [gettext("External entities"), gettext("Processes"), gettext("Data stores")]
    for x, head in zip(col_x, heads, strict=True):
        out.append(
            f'<text x="{x + BOX_W / 2:.0f}" y="{MARGIN + TITLE_H + 8}" font-size="{SMALL}" '
            'text-anchor="middle" '
            f'fill="#6b7a90">{escape(head)}</text>'
        )

    # flows first, under the boxes
    for i, f in enumerate(model.flows):
        src, dst = boxes[f.source], boxes[f.target]
        y0, y1 = port_y[(f.source, i)], port_y[(f.target, i)]
        if f.target.startswith("store:"):
            cx = col_x[1] + BOX_W + right_label_w + 20 + CHANNEL_STEP * right_order[i]
            pts = [(src.right, y0), (cx, y0), (cx, y1), (dst.x, y1)]
            label_x, label_y = src.right + 6, y0 - 4
        else:
            cx = col_x[0] + BOX_W + left_label_w + 20 + CHANNEL_STEP * left_order[i]
            if f.source.startswith("role:"):
                pts = [(src.right, y0), (cx, y0), (cx, y1), (dst.x, y1)]
                label_x, label_y = src.right + 6, y0 - 4
            else:
                pts = [(src.x, y0), (cx, y0), (cx, y1), (dst.right, y1)]
                label_x, label_y = dst.right + 6, y1 - 4
        anchor = "start"
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(
            f'<g class="flow" data-source="{escape(f.source)}" data-target="{escape(f.target)}">'
            f'<path d="{d}" fill="none" stroke="{INK}" stroke-width="1.3" marker-end="url(#dfd-arrow)"/>'
        )
        if f.label:
            out.append(
                f'<text x="{label_x:.1f}" y="{label_y:.1f}" font-size="{SMALL}" text-anchor="{anchor}" '
                f'fill="{INK}" paint-order="stroke" stroke="#ffffff" stroke-width="3">{escape(f.label)}</text>'
            )
        out.append("</g>")

    for key, b in boxes.items():
        kind = key.split(":", 1)[0]
        lines = labels[key]
        if kind == "role":
            out.append(
                f'<rect x="{b.x}" y="{b.y:.1f}" width="{b.w}" height="{b.h:.1f}" fill="#e6edf6" '
                'stroke="#3b5b8c" stroke-width="1.6"/>'
            )
        elif kind == "process":
            out.append(
                f'<rect x="{b.x}" y="{b.y:.1f}" width="{b.w}" height="{b.h:.1f}" rx="14" fill="#ffffff" '
                f'stroke="#3b5b8c" stroke-width="1.6"/>'
            )
        else:
            out.append(
                f'<path d="M{b.right},{b.y:.1f} H{b.x} V{b.bottom:.1f} H{b.right}" fill="#fffbe6" '
                f'stroke="#8d6e63" stroke-width="1.6"/>'
            )
        text_top = b.cy - (16 * len(lines) + (16 if key in numbers else 0)) / 2
        if key in numbers:
            out.append(
                f'<text x="{b.cx:.1f}" y="{text_top + 12:.1f}" font-size="{SMALL}" text-anchor="middle" '
                f'fill="#6b7a90">{numbers[key]}</text>'
            )
            text_top += 16
        for row, line in enumerate(lines):
            out.append(
                f'<text x="{b.cx:.1f}" y="{text_top + 12 + 16 * row:.1f}" font-size="{FONT}" '
                'text-anchor="middle" '
                f'fill="{INK}" data-box="{escape(key)}">{escape(line)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"
