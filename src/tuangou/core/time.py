"""Aware datetimes only: the platform's clock and guards against naive values."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def ensure_aware(value: dt.datetime, *, field: str = "datetime") -> dt.datetime:
    """Refuse a naive datetime: a time without an offset means something else on every server."""
    if timezone.is_naive(value):
        raise ValueError(f"{field} must carry a time zone offset")
    return value


def local_date(value: dt.datetime | None = None) -> dt.date:
    return timezone.localdate(value or now())
