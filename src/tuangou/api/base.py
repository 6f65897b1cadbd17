"""The NinjaAPI instance: authentication, the error format and the routers of every domain.

Errors are always `{"code": str, "message": str, "errors": {field: [str]}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from tuangou import __version__
from tuangou.accounts.services import Alongside, api_token_user, api_token_user_with
from tuangou.core.errors import AppError


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` from POST /api/v1/auth/token.

    `alongside`: for an operation that reads something of its own first, what it reads (an
    `accounts.services.Alongside` made from the request, or None), read in the token's statement
    (one round trip instead of two); the operation finds ``(alongside, rows, user id)`` in
    `alongside_rows(request)`. A request that is not signed in by its token reads nothing."""

    def __init__(self, alongside: Callable[[HttpRequest], Alongside | None] | None = None) -> None:
        super().__init__()
        self.alongside = alongside

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        extra = self.alongside(request) if self.alongside is not None else None
        if extra is None:
            user = api_token_user(token)
        else:
            user, rows = api_token_user_with(token, extra)
            if user is not None:
                request._alongside_rows = (extra, rows, user.pk)  # type: ignore[attr-defined]
        if user is not None:
            request.user = user
        return user


def alongside_rows(request: HttpRequest) -> tuple[Alongside, list[tuple[Any, ...]], int] | None:
    """What `TokenAuth(alongside=…)` read with the token of `request` (None: nothing)."""
    return getattr(request, "_alongside_rows", None)


class BrowserSession(SessionAuth):
    """The browser's session cookie (CSRF is checked on unsafe methods)."""


session_or_token = [TokenAuth(), BrowserSession()]

api = NinjaAPI(
    title="tuangou API",
    version="1",
    description=(
        'The tuangou group-buying API. Money is a decimal string in yuan ("19.90"); times are ISO 8601 '
        "with an offset. Errors are JSON objects with a stable `code`, a `message` in the caller's language "
        "and per-field `errors`. Authenticate with `Authorization: Bearer <token>` (POST /auth/token) or the "
        "browser session."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=session_or_token,
)
api.openapi_extra = {"info": {"x-version": __version__}}


def _error(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(AppError)
def _app_error(request: HttpRequest, exc: AppError) -> HttpResponse:
    response = _error(request, exc.status, exc.as_dict())
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
    return response


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        loc = [str(part) for part in item.get("loc", []) if part not in ("body", "payload", "query", "path", "form")]
        field = ".".join(loc) or "__all__"
        errors.setdefault(field, []).append(_field_message(item))
    body = {"code": "invalid", "message": _("Some fields are not valid."), "errors": errors}
    return _error(request, 400, body)


def _field_message(item: dict[str, Any]) -> str:
    kind = item.get("type", "")
    if kind == "missing":
        return _("This field is required.")
    if kind.startswith("string_too_long"):
        return _("This value is too long.")
    if kind.startswith("json_invalid"):
        return _("The request body is not valid JSON.")
    if kind in {"decimal_parsing", "decimal_type", "int_parsing", "int_type", "float_parsing"}:
        return _("Enter a number.")
    return str(item.get("msg", _("This value is not valid.")))


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, {"code": "unauthenticated", "message": _("Please sign in."), "errors": {}})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, {"code": "http_error", "message": str(exc), "errors": {}})


def _register_routers() -> None:
    """Every domain's router, mounted at /api/v1/. Add one import and one line per domain."""
    from tuangou.api import accounts, deals, merchants, orders, payments, processes, salesdesk, settlement, vouchers

    for module in (accounts, deals, orders, payments, vouchers, settlement, merchants, salesdesk, processes):
        api.add_router("/", module.router)


_register_routers()

__all__ = ["APIKeyHeader", "BrowserSession", "TokenAuth", "alongside_rows", "api", "session_or_token"]
