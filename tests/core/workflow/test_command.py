"""`tuangou diagram`: list, draw in each format, the data-flow diagram."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("diagram", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_lists_and_draws(tmp_path: Path) -> None:
    listing = run("--list")
    assert "sales_order\t" in listing and "wf_test_ticket\t" in listing
    svg = run("sales_order", "--format", "svg")
    assert ET.fromstring(svg).tag == f"{SVG}svg"  # noqa: S314 - our own output
    assert run("sales_order", "--format", "mermaid").startswith("flowchart LR")
    target = tmp_path / "s1.bpmn"
    run("sales_order", "--format", "bpmn", "-o", str(target))
    assert "<bpmn:definitions" in target.read_text(encoding="utf-8")
    assert "<svg" in run("--dataflow")
    with pytest.raises(CommandError, match="no process named"):
        run("nothing_here")
