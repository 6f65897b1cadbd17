"""Fixed-window rate limits on the shared cache (Redis when configured).

`hit()` counts an attempt and refuses it once the window's limit is reached. The counter is
incremented atomically (INCR on Redis), so concurrent attempts cannot slip past the limit.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.translation import gettext as _

from tuangou.core.errors import RateLimited


def _key(scope: str, ident: str, window: int) -> tuple[str, int]:
    bucket = int(time.time() // window)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    return f"rl:{scope}:{digest}:{bucket}", window - int(time.time() % window)


def hit(scope: str, ident: str, *, limit: int | None = None, window: int | None = None) -> int:
    """Count one attempt for (`scope`, `ident`); raise RateLimited when over the limit."""
    if limit is None or window is None:
        limit, window = settings.RATE_LIMITS[scope]
    key, remaining = _key(scope, ident, window)
    count = _count(key, timeout=window + 1)
    if count > limit:
        minutes = max(1, math.ceil(remaining / 60))
        raise RateLimited(
            _("Too many attempts. Please try again in %(minutes)d minute(s).") % {"minutes": minutes},
            retry_after=remaining,
        )
    return count


# SET key 0 EX window NX, then INCR: one command (a script runs atomically), one round trip
_COUNT_SCRIPT = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"


def _count(key: str, *, timeout: int) -> int:
    """Add one to the window's counter (created at 0 with the window's expiry) and return it."""
    backend = caches["default"]  # `cache` is a proxy of it
    if isinstance(backend, RedisCache):
        # one round trip (SET NX EX and INCR in one script) instead of cache.add + cache.incr's
        # three (INCR on Django's Redis cache asks EXISTS first); the same key and value
        name = backend.make_and_validate_key(key)
        return int(backend._cache.get_client(name, write=True).eval(_COUNT_SCRIPT, 1, name, timeout))
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def reset(scope: str, ident: str) -> None:
    _limit, window = settings.RATE_LIMITS[scope]
    cache.delete(_key(scope, ident, window)[0])


def client_ip(request: object) -> str:
    meta = getattr(request, "META", {})
    return str(meta.get("REMOTE_ADDR") or "unknown")
