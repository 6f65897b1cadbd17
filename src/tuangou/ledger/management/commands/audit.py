"""`tuangou audit`: check every money invariant; exit 1 with a readable report on any break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tuangou.ledger.checks import run_all


class Command(BaseCommand):
    help = "Check the ledger and payment invariants; exits non-zero when anything is off."

    def handle(self, *args: Any, **options: Any) -> None:
        failures = 0
        for inv, problems in run_all():
            if problems:
                failures += len(problems)
                self.stdout.write(self.style.ERROR(f"BREAK {inv.name}: {inv.description}"))
                for line in problems[:50]:
                    self.stdout.write(f"    - {line}")
                if len(problems) > 50:
                    self.stdout.write(f"    … and {len(problems) - 50} more")
            else:
                self.stdout.write(self.style.SUCCESS(f"ok    {inv.name}"))
        if failures:
            raise CommandError(f"audit found {failures} break(s)")
        self.stdout.write(self.style.SUCCESS("audit: no breaks"))
