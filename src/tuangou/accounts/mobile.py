"""Mainland China mobile numbers: validated, stored as 11 digits."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_mobile(value: str) -> str:
    """'+86 138-0000-0000' → '13800000000'. Raises ValidationError for anything else."""
    raw = _SEPARATORS.sub("", str(value or ""))
    if raw.startswith("+86"):
        raw = raw[3:]
    elif raw.startswith("0086"):
        raw = raw[4:]
    elif raw.startswith("86") and len(raw) == 13:
        raw = raw[2:]
    if not _MOBILE.match(raw):
        raise ValidationError(
            _("Enter a valid mainland China mobile number (11 digits starting with 1)."), code="invalid_mobile"
        )
    return raw


def mask_mobile(value: str) -> str:
    """138****0000, for pages and messages that others may see."""
    return f"{value[:3]}****{value[-4:]}" if len(value) == 11 else value
