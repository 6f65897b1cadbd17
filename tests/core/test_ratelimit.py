import pytest

from tuangou.core import ratelimit
from tuangou.core.errors import RateLimited


def test_limit_is_enforced_then_resets_per_key():
    for _ in range(3):
        ratelimit.hit("test", "a", limit=3, window=60)
    with pytest.raises(RateLimited) as info:
        ratelimit.hit("test", "a", limit=3, window=60)
    assert info.value.code == "rate_limited"
    assert 0 < info.value.retry_after <= 60
    ratelimit.hit("test", "b", limit=3, window=60)  # another key is not affected
