"""Write to the append-only audit log. Called by services, inside their transaction."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from tuangou.core.bulk import insert_one
from tuangou.core.models import AuditLog


def audit(
    action: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    ip: str | None = None,
    **data: Any,
) -> AuditLog:
    """Add one row to the audit log and return it. One plain ``INSERT … RETURNING``
    (`core.bulk.insert_one`: the rows are only ever added, and the model's save would add
    nothing but its cost, about a third of a millisecond, on every verification at the counter,
    every payment …)."""
    row = audit_row(action, actor=actor, obj=obj, ip=ip, **data)
    insert_one(row)
    return row


def audit_row(
    action: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    ip: str | None = None,
    **data: Any,
) -> AuditLog:
    """The row `audit` adds, not yet written (for a statement that writes it with others)."""
    return AuditLog(
        at=timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip=ip if ip and ip != "unknown" else None,
        data={
            k: (str(v) if not isinstance(v, (int, float, bool, type(None), list, dict)) else v) for k, v in data.items()
        },
    )
