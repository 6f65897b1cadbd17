"""Existing statements get the range of their period, cut off when they were drafted; their
per-voucher lines become one line per (kind, deal, store, units, amount) (ADR 0014). A migration
of its own: PostgreSQL does not alter a table with row changes pending in the transaction."""

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations
from django.db.models import Count, F, Sum


def forwards(apps: Any, schema_editor: Any) -> None:
    Statement = apps.get_model("settlement", "Statement")
    Line = apps.get_model("settlement", "StatementLine")
    tz = ZoneInfo(settings.TIME_ZONE)
    for pk, start, end, created in Statement.objects.values_list("pk", "period_start", "period_end", "created_at"):
        since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
        until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        Statement.objects.filter(pk=pk).update(since=since, cut_off=max(since, min(until, created)))
    old = Line.objects.filter(voucher__isnull=False)
    groups = (
        old.annotate(store_key=F("voucher__used_store_id"), basis=F("statement__basis"))
        .values("statement_id", "kind", "deal_id", "store_key", "basis", "units", "amount")
        .annotate(n=Count("pk"), t_commission=Sum("commission"))
        .order_by()
    )
    merged: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
    for g in groups:
        store = g["store_key"] if g["basis"] == "verified" and g["kind"] == "sale" else None
        key = (g["statement_id"], g["kind"], g["deal_id"], store, g["units"], g["amount"])
        n, commission = merged.get(key, (0, Decimal(0)))
        merged[key] = (n + g["n"], commission + g["t_commission"])
    Line.objects.bulk_create(
        Line(
            statement_id=statement_id,
            kind=kind,
            deal_id=deal_id,
            store_id=store,
            price=amount,
            vouchers=n,
            units=units * n,
            amount=amount * n,
            commission=commission,
        )
        for (statement_id, kind, deal_id, store, units, amount), (n, commission) in sorted(
            merged.items(), key=lambda kv: tuple(str(x) for x in kv[0])
        )
    )
    old.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0003_statement_range_lines_grouped"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
