"""Fixtures shared by the whole suite.

- Plain data comes from small factories here; objects with rules come from the real services.
- `postgres` / `redis` markers: such tests skip when the server is not configured, except under
  CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.accounts.services import api_token_create, roles_sync, user_grant_role

pytest_plugins = ["tests.browser_fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PASSWORD = "correct-horse-battery-9"


def _need(what: str, available: bool) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not configured")
    pytest.skip(f"{what} not configured")


@pytest.fixture(autouse=True)
def _server_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        _need("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    if request.node.get_closest_marker("redis"):
        _need("Redis (REDIS_URL)", bool(os.environ.get("REDIS_URL")))


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def roles(db: None) -> None:
    roles_sync()


_counter = iter(range(10_000_000))


@pytest.fixture
def make_user(roles: None) -> Callable[..., User]:
    """make_user(role="operator", mobile=None, password=PASSWORD) → a saved user with that role."""

    def make(
        role: str | None = Role.MEMBER, *, mobile: str | None = None, password: str = PASSWORD, **extra: Any
    ) -> User:
        number = mobile or f"139{next(_counter):08d}"
        user = User.objects.create_user(number, password, **extra)
        if role:
            user_grant_role(user=user, role=role)
        return user

    return make


@pytest.fixture
def member(make_user: Callable[..., User]) -> User:
    return make_user(Role.MEMBER)


@pytest.fixture
def operator(make_user: Callable[..., User]) -> User:
    return make_user(Role.OPERATOR)


class ApiClient(Client):
    """A test client that speaks JSON to /api/v1/ with an optional bearer token."""

    token: str | None = None

    def _headers(self, extra: dict[str, Any]) -> dict[str, Any]:
        headers = dict(extra.pop("headers", None) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().get(path, data, headers=self._headers(extra), **extra)

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().post(path, data or {}, content_type="application/json", headers=self._headers(extra), **extra)

    def put(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().put(path, data or {}, content_type="application/json", headers=self._headers(extra), **extra)

    def patch(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().patch(path, data or {}, content_type="application/json", headers=self._headers(extra), **extra)

    def delete(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().delete(path, data, headers=self._headers(extra), **extra)

    def as_user(self, user: User) -> ApiClient:
        self.token = api_token_create(user=user, name="test")
        return self


@pytest.fixture
def api(db: None) -> ApiClient:
    return ApiClient()
