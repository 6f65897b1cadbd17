"""`tuangou diagram`: the declared processes, drawn.

tuangou diagram --list
tuangou diagram sales_order --format svg -o sales_order.svg
tuangou diagram sales_order --format bpmn
tuangou diagram --dataflow -o system.svg
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tuangou.core.workflow import ProcessNotFound, all_processes, get
from tuangou.core.workflow.dataflow import render_dataflow_svg
from tuangou.core.workflow.selectors import FORMATS, diagram


class Command(BaseCommand):
    help = "List the declared processes, or draw one as SVG, BPMN 2.0 or Mermaid (or the data-flow diagram)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="the process to draw (see --list)")
        parser.add_argument("--list", action="store_true", help="list the declared processes")
        parser.add_argument("--format", choices=sorted(FORMATS), default="svg")
        parser.add_argument("--dataflow", action="store_true", help="the data-flow diagram of the whole system (SVG)")
        parser.add_argument("-o", "--output", help="write to this file instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for process in all_processes():
                lanes = ", ".join(str(lane.title) for lane in process.lanes)
                self.stdout.write(f"{process.name}\t{process.title}\t{len(process.tasks)} steps\t{lanes}")
            return
        if options["dataflow"]:
            self._emit(render_dataflow_svg(), options["output"])
            return
        if not options["name"]:
            raise CommandError("name a process (see --list), or use --list or --dataflow")
        try:
            process = get(options["name"])
        except ProcessNotFound:
            known = ", ".join(p.name for p in all_processes())
            raise CommandError(f"no process named {options['name']!r}; declared: {known}") from None
        self._emit(diagram(process, options["format"]), options["output"])

    def _emit(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {output}")
        else:
            self.stdout.write(text, ending="")
