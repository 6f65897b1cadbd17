"""Application errors with stable codes.

Services raise these; the API turns them into `{"code", "message", "errors"}` JSON and the web
views into form errors or messages. A code never changes once published: clients match on it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _


class AppError(Exception):
    code = "error"
    status = 400
    default_message: Any = _("The request could not be completed.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        errors: Mapping[str, Sequence[Any]] | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = {field: [str(m) for m in msgs] for field, msgs in (errors or {}).items()}
        super().__init__(str(self.message))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), "errors": self.errors}


class ValidationFailed(AppError):
    code = "invalid"
    status = 400
    default_message = _("Some fields are not valid.")

    @classmethod
    def field(cls, name: str, message: Any, *, code: str | None = None) -> ValidationFailed:
        return cls(message, errors={name: [message]}, code=code)


class AuthenticationFailed(AppError):
    code = "unauthenticated"
    status = 401
    default_message = _("Please sign in.")


class Forbidden(AppError):
    code = "forbidden"
    status = 403
    default_message = _("You are not allowed to do this.")


class NotFound(AppError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class Conflict(AppError):
    code = "conflict"
    status = 409
    default_message = _("This conflicts with the current state.")


class RateLimited(AppError):
    code = "rate_limited"
    status = 429
    default_message = _("Too many attempts. Please try again later.")

    def __init__(self, message: Any = None, *, retry_after: int = 60, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class LeaveOutConflicts(logging.Filter):
    """On the ``django.request`` logger (settings.LOGGING), which writes a WARNING line for every
    4xx answer: leaves out 409 Conflict. A conflict answers a sound request about the current
    state (sold out, not on sale, a code already used): neither the client's mistake nor the
    server's, and in a rush thousands of them a second (ADR 0017). Other client errors (400,
    401, 403, 404, 429) and every 5xx stay logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != Conflict.status
