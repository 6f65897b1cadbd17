"""微快取: bytes that are the same for every anonymous visitor (a city page, the public deal list),
kept a few seconds in the "pages" cache (ADR 0013).

One renderer per key at a time, so that a page going stale under load is not rendered by every
worker at once (a stampede): while one request renders it again, the others get the previous
bytes (at most `seconds` + the render old); on a key nobody has yet, they wait for the renderer
while it holds its lock (WAIT_SECONDS at most), then render for themselves without storing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

PAGE_SECONDS = 5  # how stale an anonymous visitor's page may be
STALE_SECONDS = 30  # how long previous bytes stay to answer while one request renders them again
LOCK_SECONDS = 10  # a renderer that died lets another try after this
# Under load one render can take seconds: waiting less than the renderer holds its lock would
# let every waiter render the same page at once, the stampede this module is for.
WAIT_SECONDS = float(LOCK_SECONDS)
_POLL_SECONDS = 0.02


def cached_bytes(key: str, render: Callable[[], bytes | None], *, seconds: float = PAGE_SECONDS) -> bytes | None:
    """The bytes kept under `key`, or `render()`'s (kept `seconds`; None: not to be kept)."""
    store = caches["pages"]
    lock = f"{key}:rendering"
    entry, locked = _get_or_lock(store, key, lock)
    if entry is not None and entry[1] > time.time():
        return bytes(entry[0])
    if locked or (entry is not None and store.add(lock, 1, LOCK_SECONDS)):
        try:
            content = render()
        except BaseException:
            store.delete(lock)
            raise
        if content is None:
            store.delete(lock)
        else:
            _set_and_unlock(store, key, (content, time.time() + seconds), seconds + STALE_SECONDS, lock)
        return content
    if entry is not None:
        return bytes(entry[0])  # another request is rendering it again
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        # the lock before the entry: the renderer stores the entry before (or as) it lets go of
        # the lock, so an entry missing after the lock was seen gone was never kept; read the
        # other way round, a store and unlock falling between the two reads looked like that
        held = store.get(lock) is not None
        entry = store.get(key)
        if entry is not None:
            return bytes(entry[0])
        if not held:
            break  # rendered, but not to be kept (not a plain 200)
    return render()


def _get_or_lock(store: Any, key: str, lock: str) -> tuple[Any, bool]:
    """The entry under `key` and, when there is none, whether this call took `lock`."""
    if isinstance(store, RedisCache):
        return store.get_or_lock(key, lock, LOCK_SECONDS)
    entry = store.get(key)
    return entry, entry is None and bool(store.add(lock, 1, LOCK_SECONDS))


def _set_and_unlock(store: Any, key: str, value: Any, timeout: float, lock: str) -> None:
    if isinstance(store, RedisCache):
        store.set_and_unlock(key, value, timeout, lock)
    else:
        store.set(key, value, timeout)
        store.delete(lock)


# GET the key; when it is absent, take the lock (SET NX with an expiry) in the same round trip.
_GET_OR_LOCK = """
local value = redis.call('GET', KEYS[1])
if value then return {value, 0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {false, 1} end
return {false, 0}
"""


class _OneClientPerPool(RedisCacheClient):
    """Django's client builds a new redis.Redis for every call (about 60 µs of CPU: its table of
    reply callbacks), which is a third of a page served from the cache; one per pool does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index: int = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        client = self._clients.get(index)
        if client is None:
            # thread-safe: the client takes a connection from the pool for each command
            pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
            client = self._clients[index] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(DjangoRedisCache):
    """The "default" and "pages" caches on Redis (settings: BACKEND
    "tuangou.core.microcache.RedisCache"): Django's, with one redis client per connection pool
    instead of one per call."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _OneClientPerPool

    def get_or_lock(self, key: str, lock: str, lock_seconds: float) -> tuple[Any, bool]:
        """`get(key)` and, when there is nothing, `add(lock, 1, lock_seconds)`: one round trip."""
        name, lock_name = self.make_and_validate_key(key), self.make_and_validate_key(lock)
        client = self._cache.get_client(name, write=True)
        serializer: Any = self._cache._serializer  # type: ignore[attr-defined]
        value, locked = client.eval(_GET_OR_LOCK, 2, name, lock_name, serializer.dumps(1), int(lock_seconds * 1000))
        return (None if value is None else serializer.loads(value)), bool(locked)

    def set_and_unlock(self, key: str, value: Any, timeout: float, lock: str) -> None:
        """`set(key, value, timeout)` (seconds, > 0) and `delete(lock)`: one round trip."""
        name, lock_name = self.make_and_validate_key(key), self.make_and_validate_key(lock)
        client = self._cache.get_client(name, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.set(name, self._cache._serializer.dumps(value), ex=int(timeout))  # type: ignore[attr-defined]
        pipe.delete(lock_name)
        pipe.execute()
