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

from django.core.cache import caches

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
    entry = store.get(key)
    if entry is not None and entry[1] > time.time():
        return bytes(entry[0])
    lock = f"{key}:rendering"
    if store.add(lock, 1, LOCK_SECONDS):
        try:
            content = render()
            if content is not None:
                store.set(key, (content, time.time() + seconds), seconds + STALE_SECONDS)
            return content
        finally:
            store.delete(lock)
    if entry is not None:
        return bytes(entry[0])  # another request is rendering it again
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        entry = store.get(key)
        if entry is not None:
            return bytes(entry[0])
        if store.get(lock) is None:
            break  # rendered, but not to be kept (not a plain 200)
    return render()
