"""Mermaid flowchart text: ``flowchart LR`` with one subgraph per lane.

Start ``((…))``, end ``(((…)))``, task ``(…)``, meeting ``[[…]]``, decision ``{…}``, document
``[/…/]`` joined to its step by a dotted arrow; optional steps get the ``optional`` class
(dashed). Paste it into any Markdown that renders Mermaid.
"""

from __future__ import annotations

from .declaration import Decision, End, Process, Start, Task


def _q(text: str) -> str:
    """A quoted Mermaid label (quotes and line breaks made safe)."""
    text = " ".join(str(text).split())
    return '"' + text.replace('"', "#quot;") + '"'


def _id(name: str) -> str:
    return f"n_{name}"  # never a Mermaid keyword such as `end`


def render_mermaid(process: Process) -> str:
    lines = ["flowchart LR", f"  %% {process.name}: {' '.join(str(process.title).split())}"]
    for lane in process.lanes:
        lines.append(f"  subgraph lane_{lane.role}[{_q(str(lane.title))}]")
        lines.append("    direction LR")
        for node in process.iter_nodes():
            if node.lane != lane.role:
                continue
            label = _q(str(node.title))
            nid = _id(node.name)
            if isinstance(node, Start):
                lines.append(f"    {nid}(({label}))")
            elif isinstance(node, End):
                lines.append(f"    {nid}((({label})))")
            elif isinstance(node, Decision):
                lines.append(f"    {nid}{{{label}}}")
            elif isinstance(node, Task):
                shape = f"[[{label}]]" if node.kind == "meeting" else f"({label})"
                suffix = ":::optional" if not node.required else ""
                lines.append(f"    {nid}{shape}{suffix}")
                for code in node.documents:
                    doc = process.document_by_code[code]
                    lines.append(f"    d_{node.name}__{code}[/{_q(str(doc.title))}/]:::document")
        lines.append("  end")
    for t in process.transitions:
        label = str(t.title) if isinstance(process.nodes[t.source], Decision) and t.title else ""
        arrow = f"-->|{_q(label)}|" if label else "-->"
        lines.append(f"  {_id(t.source)} {arrow} {_id(t.target)}")
    for task in process.tasks:
        for code in task.documents:
            lines.append(f"  {_id(task.name)} -.-> d_{task.name}__{code}")
    lines.append("  classDef optional stroke-dasharray: 5 5")
    lines.append("  classDef document fill:#fffbe6,stroke:#8d6e63")
    return "\n".join(lines) + "\n"
