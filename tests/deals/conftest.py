from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tuangou.accounts.models import User
from tuangou.accounts.roles import Role
from tuangou.deals.models import Deal
from tuangou.merchants.models import Merchant

from .factories import make_deal, make_merchant


@pytest.fixture
def merchant_admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.MERCHANT)


@pytest.fixture
def merchant(merchant_admin: User) -> Merchant:
    return make_merchant(admin=merchant_admin)


@pytest.fixture
def deal_factory(merchant: Merchant, operator: User) -> Callable[..., Deal]:
    def make(**kwargs: Any) -> Deal:
        return make_deal(merchant=merchant, operator=operator, **kwargs)

    return make


@pytest.fixture(autouse=True)
def _fresh_redis_gate() -> Iterator[None]:
    """A recreated test database reuses deal ids: start every test with no gate counters."""
    from tuangou.orders import gate

    gate._client = None
    gate.reset_all()
    yield
    gate.reset_all()
