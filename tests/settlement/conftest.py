from tests.vouchers.conftest import rival, shop, tipped  # noqa: F401 - shared fixtures
