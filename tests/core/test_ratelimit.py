import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

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


def test_the_window_counter_is_one_key_that_expires_with_the_window():
    assert ratelimit.hit("test", "c", limit=5, window=60) == 1
    assert ratelimit.hit("test", "c", limit=5, window=60) == 2
    key = ratelimit._key("test", "c", 60)[0]
    assert cache.get(key) == 2  # what cache.add/incr would have left, readable by the cache
    backend = caches["default"]
    if isinstance(backend, RedisCache):  # the counter expires with its window
        name = backend.make_and_validate_key(key)
        assert 0 < backend._cache.get_client(name).ttl(name) <= 61
    cache.delete(key)  # the window ends: counting starts again
    assert ratelimit.hit("test", "c", limit=5, window=60) == 1
