"""Where everything goes on a swimlane chart: one layout for the SVG and the BPMN diagram.

Lanes run horizontally, one per role. Nodes are placed in columns by the longest path from
the start (loops are found by a depth-first walk and drawn backwards). Arrows are routed
orthogonally by a shortest-path search on a grid of free corridors around every box, label
and document, so they never cross a box; bends and shared segments cost extra, which keeps
them tidy. Everything is computed from the declaration and the label texts alone, so the
same declaration in the same language always gives the same picture.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils.translation import gettext, ngettext

from .declaration import Decision, End, Process, Start, Task, Transition
from .text import block_width, wrap, wrap_balanced

# Geometry, in SVG user units (px).
MARGIN = 16
TITLE_H = 44
HEADER_W = 104
LANE_MIN_H = 96
ROW_PAD = 26
COL_GAP = 64
TASK_W = 140
TASK_MIN_H = 54
TASK_FONT = 13
TASK_LINE = 17
SMALL_FONT = 11
SMALL_LINE = 14
EVENT_D = 34
EVENT_LABEL_W = 100
EVENT_FONT = 12
GATE = 50
GATE_LABEL_W = 120
DOC_W = 80
DOC_GAP = 8
DOC_TOP_GAP = 16
HEADER_FONT = 14
LEGEND_H = 56
STUB = 14
INFLATE = 5
BEND_COST = 36.0
REUSE_COST = 6.0
PORT_REUSE_COST = 150.0  # leaving by a port another arrow uses
PORT_MERGE_COST = 10.0  # arriving where another arrow arrives: a merge, which reads well


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def inflate(self, d: float) -> Box:
        return Box(self.x - d, self.y - d, self.w + 2 * d, self.h + 2 * d)


@dataclass
class NodeShape:
    name: str
    kind: str  # start | end | task | meeting | decision
    lane: str
    rank: int
    body: Box
    lines: list[str]
    label: Box  # where the title's text block sits (inside the body for tasks)
    required: bool = True
    limit_text: str = ""


@dataclass
class DocShape:
    code: str
    task: str
    box: Box
    lines: list[str]


@dataclass
class EdgePath:
    index: int  # position in process.transitions
    transition: Transition
    points: list[tuple[float, float]]
    label_lines: list[str] = field(default_factory=list)
    label_box: Box | None = None
    back: bool = False


@dataclass
class LaneBand:
    role: str
    title_lines: list[str]
    box: Box  # the whole band, header included
    external: bool = False


@dataclass
class Layout:
    process: Process
    width: float
    height: float
    title: str
    lanes: list[LaneBand]
    nodes: dict[str, NodeShape]
    documents: list[DocShape]
    edges: list[EdgePath]
    legend_y: float
    body: Box  # the lanes' area


def format_duration(value: timedelta) -> str:
    """'2 hours', '3 days', '1 day 4 hours' … in the active language."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(n)d day", "%(n)d days", days) % {"n": days})
    if hours:
        parts.append(ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours})
    if minutes or not parts:
        parts.append(ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes})
    return " ".join(parts)


def ranks(process: Process) -> tuple[dict[str, int], set[int]]:
    """Column of every node, and the indices of the transitions that point backwards."""
    outgoing: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(process.transitions):
        outgoing[t.source].append(i)
    back: set[int] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    order: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        for i in outgoing[name]:
            target = process.transitions[i].target
            if state.get(target) == 1:
                back.add(i)
            elif target not in state:
                visit(target)
        state[name] = 2
        order.append(name)

    visit(process.start.name)
    for node in process.iter_nodes():  # unreachable nodes (only in invalid declarations)
        if node.name not in state:
            visit(node.name)
    rank = dict.fromkeys(state, 0)
    for name in reversed(order):  # reverse post-order is a topological order of forward arrows
        for i in outgoing[name]:
            if i not in back:
                target = process.transitions[i].target
                rank[target] = max(rank[target], rank[name] + 1)
    return rank, back


def compute_layout(process: Process) -> Layout:
    title = str(process.title)
    rank, back = ranks(process)
    lane_index = {lane.role: i for i, lane in enumerate(process.lanes)}

    # 1. sizes of every node and its label, relative to the node's centre
    shapes: dict[str, NodeShape] = {}
    docs_of: dict[str, list[tuple[str, list[str], float]]] = {}
    footprint: dict[str, float] = {}
    above: dict[str, float] = {}
    below: dict[str, float] = {}
    for node in process.iter_nodes():
        label = str(node.title)
        if isinstance(node, Task):
            lines = wrap_balanced(label, TASK_W - 16, TASK_FONT)
            limit = ""
            if node.time_limit is not None:
                limit = gettext("Limit: %(duration)s") % {"duration": format_duration(node.time_limit)}
            h = max(TASK_MIN_H, 18 + TASK_LINE * len(lines) + (SMALL_LINE if limit else 0))
            if node.kind == "meeting":
                h += 8
            body = Box(-TASK_W / 2, -h / 2, TASK_W, h)
            kind = "meeting" if node.kind == "meeting" else "task"
            shapes[node.name] = NodeShape(
                node.name, kind, node.lane, rank[node.name], body, lines, body, node.required, limit
            )
            docs = []
            for code in node.documents:
                doc = process.document_by_code.get(code)
                doc_lines = wrap(str(doc.title) if doc else code, DOC_W - 10, SMALL_FONT)
                docs.append((code, doc_lines, max(36.0, 14 + SMALL_LINE * len(doc_lines)) + 6))
            docs_of[node.name] = docs
            row_w = len(docs) * DOC_W + max(0, len(docs) - 1) * DOC_GAP
            footprint[node.name] = max(TASK_W, row_w)
            above[node.name] = h / 2
            below[node.name] = h / 2 + (DOC_TOP_GAP + max(d[2] for d in docs) if docs else 0)
        elif isinstance(node, Decision):
            lines = wrap(label, GATE_LABEL_W, EVENT_FONT)
            lw, lh = block_width(lines, EVENT_FONT), SMALL_LINE * len(lines) + 2
            body = Box(-GATE / 2, -GATE / 2, GATE, GATE)
            lbox = Box(-lw / 2, -GATE / 2 - 6 - lh, lw, lh)
            shapes[node.name] = NodeShape(node.name, "decision", node.lane, rank[node.name], body, lines, lbox)
            footprint[node.name] = max(GATE, lw)
            above[node.name] = GATE / 2 + 6 + lh
            below[node.name] = GATE / 2
        else:
            assert isinstance(node, Start | End)  # noqa: S101 - exhaustive over node kinds
            lines = wrap(label, EVENT_LABEL_W, EVENT_FONT)
            lw, lh = block_width(lines, EVENT_FONT), SMALL_LINE * len(lines) + 2
            body = Box(-EVENT_D / 2, -EVENT_D / 2, EVENT_D, EVENT_D)
            lbox = Box(-lw / 2, EVENT_D / 2 + 6, lw, lh)
            kind = "start" if isinstance(node, Start) else "end"
            shapes[node.name] = NodeShape(node.name, kind, node.lane, rank[node.name], body, lines, lbox)
            footprint[node.name] = max(EVENT_D, lw)
            above[node.name] = EVENT_D / 2
            below[node.name] = EVENT_D / 2 + 6 + lh

    # 2. columns
    n_cols = max(rank.values(), default=0) + 1
    col_w = [0.0] * n_cols
    for name, shape in shapes.items():
        # whole pixels, so that every box edge and port lies exactly on the routing grid
        col_w[shape.rank] = max(col_w[shape.rank], float(math.ceil(footprint[name])))
    col_x: list[float] = []
    x = MARGIN + HEADER_W + COL_GAP / 2
    for w in col_w:
        col_x.append(x)
        x += w + COL_GAP
    width = x - COL_GAP / 2 + MARGIN

    # 3. rows: nodes sharing a lane and a column are stacked in sub-rows
    sub_row: dict[str, int] = {}
    cell_count: dict[tuple[str, int], int] = defaultdict(int)
    for node in process.iter_nodes():
        key = (node.lane, rank[node.name])
        sub_row[node.name] = cell_count[key]
        cell_count[key] += 1
    lanes: list[LaneBand] = []
    y = MARGIN + TITLE_H
    row_centre: dict[tuple[str, int], float] = {}
    for lane in process.lanes:
        rows = max((c for (role, _r), c in cell_count.items() if role == lane.role), default=1)
        top = y
        for row in range(rows):
            members = [n for n in shapes if shapes[n].lane == lane.role and sub_row[n] == row]
            up = math.ceil(max((above[n] for n in members), default=20))
            down = math.ceil(max((below[n] for n in members), default=20))
            row_centre[(lane.role, row)] = y + ROW_PAD + up
            y += ROW_PAD * 2 + up + down
        h = max(y - top, LANE_MIN_H)
        if y - top < LANE_MIN_H:
            shift = (LANE_MIN_H - (y - top)) / 2
            for row in range(rows):
                row_centre[(lane.role, row)] += shift
        y = top + h
        header_lines = wrap(str(lane.title), HEADER_W - 20, HEADER_FONT)
        lanes.append(LaneBand(lane.role, header_lines, Box(MARGIN, top, width - 2 * MARGIN, h), lane.external))
    body_box = Box(MARGIN, MARGIN + TITLE_H, width - 2 * MARGIN, y - MARGIN - TITLE_H)
    height = y + LEGEND_H + MARGIN

    # 4. place
    documents: list[DocShape] = []
    for name, shape in shapes.items():
        cx = col_x[shape.rank] + col_w[shape.rank] / 2
        cy = row_centre[(shape.lane, sub_row[name])] if shape.lane in lane_index else MARGIN + TITLE_H
        shape.body = Box(cx + shape.body.x, cy + shape.body.y, shape.body.w, shape.body.h)
        if shape.kind in ("task", "meeting"):
            shape.label = shape.body
            docs = docs_of.get(name, [])
            row_w = len(docs) * DOC_W + max(0, len(docs) - 1) * DOC_GAP
            dx = cx - row_w / 2
            for code, doc_lines, doc_h in docs:
                documents.append(
                    DocShape(code, name, Box(dx, shape.body.bottom + DOC_TOP_GAP, DOC_W, doc_h), doc_lines)
                )
                dx += DOC_W + DOC_GAP
        else:
            shape.label = Box(cx + shape.label.x, cy + shape.label.y, shape.label.w, shape.label.h)

    layout = Layout(
        process=process,
        width=round(width),
        height=round(height),
        title=title,
        lanes=lanes,
        nodes=shapes,
        documents=documents,
        edges=[],
        legend_y=y + 16,
        body=body_box,
    )
    _route(layout, back, col_x, col_w)
    return layout


# -- routing -----------------------------------------------------------------------------------

_DIRS = {"E": (1, 0), "W": (-1, 0), "N": (0, -1), "S": (0, 1)}
_OPPOSITE = {"E": "W", "W": "E", "N": "S", "S": "N"}


def _ports(box: Box) -> dict[str, tuple[float, float]]:
    return {
        "E": (box.right, box.cy),
        "W": (box.x, box.cy),
        "N": (box.cx, box.y),
        "S": (box.cx, box.bottom),
    }


class _Grid:
    """Orthogonal corridors: candidate x and y lines, and which unit segments are blocked."""

    def __init__(self, xs: set[float], ys: set[float], obstacles: list[Box], bounds: Box) -> None:
        self.xs = sorted(v for v in {round(x, 1) for x in xs} if bounds.x <= v <= bounds.right)
        self.ys = sorted(v for v in {round(y, 1) for y in ys} if bounds.y <= v <= bounds.bottom)
        self.obstacles = obstacles
        nx, ny = len(self.xs), len(self.ys)
        # h_free[j][i]: segment xs[i]→xs[i+1] on line ys[j]; v_free[i][j]: ys[j]→ys[j+1] on xs[i]
        self.h_free = [[True] * max(nx - 1, 0) for _ in range(ny)]
        self.v_free = [[True] * max(ny - 1, 0) for _ in range(nx)]
        for ob in obstacles:
            i0, i1 = bisect_left(self.xs, ob.x), bisect_left(self.xs, ob.right)
            j0, j1 = bisect_left(self.ys, ob.y), bisect_left(self.ys, ob.bottom)
            for j in range(ny):
                if ob.y < self.ys[j] < ob.bottom:
                    for i in range(max(i0 - 1, 0), min(i1 + 1, nx - 1)):
                        if self.xs[i] < ob.right and self.xs[i + 1] > ob.x:
                            self.h_free[j][i] = False
            for i in range(nx):
                if ob.x < self.xs[i] < ob.right:
                    for j in range(max(j0 - 1, 0), min(j1 + 1, ny - 1)):
                        if self.ys[j] < ob.bottom and self.ys[j + 1] > ob.y:
                            self.v_free[i][j] = False

    def index(self, point: tuple[float, float]) -> tuple[int, int] | None:
        x, y = round(point[0], 1), round(point[1], 1)
        i, j = bisect_left(self.xs, x), bisect_left(self.ys, y)
        if i < len(self.xs) and j < len(self.ys) and self.xs[i] == x and self.ys[j] == y:
            return i, j
        return None

    def inside(self, point: tuple[float, float]) -> bool:
        x, y = point
        return any(ob.x < x < ob.right and ob.y < y < ob.bottom for ob in self.obstacles)

    def step(self, i: int, j: int, d: str) -> tuple[int, int] | None:
        if d == "E" and i + 1 < len(self.xs) and self.h_free[j][i]:
            return i + 1, j
        if d == "W" and i > 0 and self.h_free[j][i - 1]:
            return i - 1, j
        if d == "S" and j + 1 < len(self.ys) and self.v_free[i][j]:
            return i, j + 1
        if d == "N" and j > 0 and self.v_free[i][j - 1]:
            return i, j - 1
        return None


def _route(layout: Layout, back: set[int], col_x: list[float], col_w: list[float]) -> None:
    process = layout.process
    obstacles: list[Box] = []
    xs: set[float] = set()
    ys: set[float] = set()
    for shape in layout.nodes.values():
        obstacles.append(shape.body.inflate(INFLATE))
        b = shape.body
        xs |= {b.x - STUB, b.right + STUB, b.cx}
        ys |= {b.y - STUB, b.bottom + STUB, b.cy}
        if shape.label is not shape.body:
            lb = shape.label.inflate(3)
            obstacles.append(lb)
            xs |= {lb.x - 8, lb.right + 8}
            ys |= {lb.y - 8, lb.bottom + 8}
    for doc in layout.documents:
        db = doc.box.inflate(INFLATE)
        obstacles.append(db)
        xs |= {db.x - 6, db.right + 6}
        ys |= {db.y - 6, db.bottom + 6}
    for x, w in zip(col_x, col_w, strict=True):
        xs |= {x - COL_GAP / 2, x - COL_GAP / 2 + 12, x - 12, x + w + 12}
    for lane in layout.lanes:
        ys |= {lane.box.y + 8, lane.box.bottom - 8, lane.box.y + ROW_PAD / 2}
    bounds = Box(
        layout.body.x + HEADER_W + 6,
        layout.body.y + 4,
        layout.body.w - HEADER_W - 10,
        layout.body.h - 8,
    )
    xs |= {bounds.x, bounds.right}
    ys |= {bounds.y, bounds.bottom}
    grid = _Grid(xs, ys, obstacles, bounds)
    used: dict[tuple[str, int, int], int] = defaultdict(int)
    ports_used: dict[tuple[str, str], set[str]] = defaultdict(set)

    order = sorted(range(len(process.transitions)), key=lambda i: (i in back, i))
    paths: dict[int, EdgePath] = {}
    for i in order:
        t = process.transitions[i]
        src, tgt = layout.nodes[t.source], layout.nodes[t.target]
        is_back = i in back
        forward_pref = {"E": 0.0, "S": 24.0, "N": 24.0, "W": 80.0}
        back_pref = {"E": 30.0, "S": 0.0, "N": 0.0, "W": 30.0}
        sprefs = back_pref if is_back else forward_pref
        tprefs = back_pref if is_back else {"W": 0.0, "N": 24.0, "S": 24.0, "E": 80.0}
        if t.source == t.target:
            sprefs, tprefs = {"E": 0.0}, {"N": 0.0}
        points = _search(grid, src, tgt, sprefs, tprefs, used, ports_used)
        if points is None:  # no free corridor: fall back to a straight elbow (never expected)
            p0, p1 = (src.body.right, src.body.cy), (tgt.body.x, tgt.body.cy)
            points = [p0, ((p0[0] + p1[0]) / 2, p0[1]), ((p0[0] + p1[0]) / 2, p1[1]), p1]
        path = EdgePath(i, t, _simplify(points), back=is_back)
        if isinstance(process.nodes.get(t.source), Decision) and t.title:
            path.label_lines = wrap(str(t.title), 110, SMALL_FONT)
            path.label_box = _label_box(path.points, path.label_lines)
        paths[i] = path
    layout.edges = [paths[i] for i in range(len(process.transitions))]


def _search(
    grid: _Grid,
    src: NodeShape,
    tgt: NodeShape,
    sprefs: dict[str, float],
    tprefs: dict[str, float],
    used: dict[tuple[str, int, int], int],
    ports_used: dict[tuple[str, str], set[str]],
) -> list[tuple[float, float]] | None:
    counter = itertools.count()
    heap: list[tuple[float, float, int, tuple[int, int, str]]] = []
    parent: dict[tuple[int, int, str], tuple[int, int, str] | None] = {}
    best: dict[tuple[int, int, str], float] = {}
    starts: dict[tuple[int, int, str], tuple[float, float]] = {}
    goals: dict[tuple[int, int], list[tuple[str, tuple[float, float], float]]] = defaultdict(list)

    for d, port in sorted(_ports(tgt.body).items()):
        if d not in tprefs:
            continue
        dx, dy = _DIRS[d]
        stub = (port[0] + dx * STUB, port[1] + dy * STUB)
        idx = grid.index(stub)
        if idx is None or grid.inside(stub):
            continue
        use = ports_used[(tgt.name, d)]
        cost = tprefs[d] + (PORT_REUSE_COST if "out" in use else PORT_MERGE_COST if use else 0.0)
        goals[idx].append((d, port, cost))
    if not goals:
        return None
    gx = [grid.xs[i] for i, _ in goals]
    gy = [grid.ys[j] for _, j in goals]

    def h(i: int, j: int) -> float:
        x, y = grid.xs[i], grid.ys[j]
        return min(abs(x - a) + abs(y - b) for a, b in zip(gx, gy, strict=True))

    for d, port in sorted(_ports(src.body).items()):
        if d not in sprefs:
            continue
        dx, dy = _DIRS[d]
        stub = (port[0] + dx * STUB, port[1] + dy * STUB)
        idx = grid.index(stub)
        if idx is None or grid.inside(stub):
            continue
        state = (idx[0], idx[1], d)
        g = sprefs[d] + (PORT_REUSE_COST if ports_used[(src.name, d)] else 0.0) + STUB
        if g < best.get(state, float("inf")):
            best[state] = g
            parent[state] = None
            starts[state] = port
            heapq.heappush(heap, (g + h(*idx), g, next(counter), state))

    finish: tuple[tuple[int, int, str], str, tuple[float, float]] | None = None
    finish_cost = float("inf")
    while heap:
        f, g, _n, state = heapq.heappop(heap)
        if f >= finish_cost:
            break
        if g > best.get(state, float("inf")):
            continue
        i, j, d = state
        for gd, port, gcost in goals.get((i, j), []):
            arrive = _OPPOSITE[gd]  # moving from the stub into the port
            if d == gd:
                continue  # would have to turn back on itself
            total = g + gcost + STUB + (0 if d == arrive else BEND_COST)
            if total < finish_cost:
                finish_cost, finish = total, (state, gd, port)
        for nd in ("E", "S", "W", "N"):
            if nd == _OPPOSITE[d]:
                continue
            nxt = grid.step(i, j, nd)
            if nxt is None:
                continue
            ni, nj = nxt
            length = abs(grid.xs[ni] - grid.xs[i]) + abs(grid.ys[nj] - grid.ys[j])
            seg = ("h", j, min(i, ni)) if nd in "EW" else ("v", i, min(j, nj))
            cost = length * (1 + REUSE_COST * used[seg]) + (BEND_COST if nd != d else 0)
            ns = (ni, nj, nd)
            ng = g + cost
            if ng < best.get(ns, float("inf")):
                best[ns] = ng
                parent[ns] = state
                heapq.heappush(heap, (ng + h(ni, nj), ng, next(counter), ns))
    if finish is None:
        return None
    state, gd, tport = finish
    chain: list[tuple[int, int, str]] = []
    cur: tuple[int, int, str] | None = state
    while cur is not None:
        chain.append(cur)
        cur = parent[cur]
    chain.reverse()
    first = chain[0]
    sport = starts[first]
    points = [sport] + [(grid.xs[i], grid.ys[j]) for i, j, _d in chain] + [tport]
    for a, b in itertools.pairwise(chain):
        if b[2] in "EW":
            used[("h", a[1], min(a[0], b[0]))] += 1
        else:
            used[("v", a[0], min(a[1], b[1]))] += 1
    ports_used[(src.name, first[2])].add("out")
    ports_used[(tgt.name, gd)].add("in")
    return points


def _simplify(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for p in points:
        p = (round(p[0], 1), round(p[1], 1))
        if out and out[-1] == p:
            continue
        if len(out) >= 2:
            a, b = out[-2], out[-1]
            if (a[0] == b[0] == p[0]) or (a[1] == b[1] == p[1]):
                out[-1] = p
                continue
        out.append(p)
    return out


def _label_box(points: list[tuple[float, float]], lines: list[str]) -> Box:
    """Beside the first segment, just out of the decision: where an outcome's label reads."""
    w = block_width(lines, SMALL_FONT) + 6
    h = SMALL_LINE * len(lines) + 2
    (x0, y0), (x1, y1) = points[0], points[1]
    if len(points) > 2 and abs(x1 - x0) + abs(y1 - y0) < (w if y0 == y1 else h) + 8:
        # the first leg is only the stub: label the second leg, from its start
        (x0, y0), (x1, y1) = points[1], points[2]
    if y0 == y1:  # horizontal: above the line
        x = x0 + 4 if x1 > x0 else x0 - 4 - w
        return Box(x, y0 - h - 2, w, h)
    y = y0 + 4 if y1 > y0 else y0 - 4 - h
    return Box(x0 + 4, y, w, h)
