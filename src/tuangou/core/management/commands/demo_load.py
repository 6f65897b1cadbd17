from typing import Any

from django.core.management.base import BaseCommand

from tuangou.accounts.roles import Role
from tuangou.core.demo import DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = "Load the demo data (safe to run again) and print the demo accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = demo_load()
        labels = dict(Role.choices)
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password: {DEMO_PASSWORD})"))
        for mobile, role, name in accounts:
            self.stdout.write(f"  {mobile}  {role:<11} {labels[role]} — {name}")
