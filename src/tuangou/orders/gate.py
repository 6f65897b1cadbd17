"""The Redis gate: turns the losers of a flash sale away before they write to the database.

With `REDIS_URL` set, each deal on sale has a counter of units still available. A join takes
its units from the counter atomically (a Lua script) at the start of its transaction, before
its writes; when the counter cannot cover the request, the request is refused at once (a
request arriving after the sale is refused earlier still, on the deal's counters it reads).
The database stays the source of truth: the guarded UPDATE decides, and the gate only
filters. Its counter lives for `TTL` seconds and is then rebuilt from the database, so a lost release heals by itself.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

TTL = 30
_TAKE = """
local v = redis.call('GET', KEYS[1])
if not v then return -2 end
v = tonumber(v)
if v <= 0 then return -1 end
if v < tonumber(ARGV[1]) then return -3 end
return redis.call('DECRBY', KEYS[1], ARGV[1])
"""
_GIVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return -2
"""
_client: Any = None


def enabled() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def _redis() -> Any:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _key(deal_id: int) -> str:
    return f"tuangou:deal:{deal_id}:available"


TAKEN, SOLD_OUT, ASK_DATABASE = "taken", "sold_out", "ask_database"


def take(deal_id: int, quantity: int) -> str:
    """Take `quantity` from the gate.

    ``SOLD_OUT``: nothing is left, refuse without asking the database. ``TAKEN``: the units are
    held in the gate (give them back if the database refuses). ``ASK_DATABASE``: the gate cannot
    tell (no Redis, fewer left than asked: the database's answer names how many are left).
    """
    if not enabled():
        return ASK_DATABASE
    try:
        client = _redis()
        result = client.eval(_TAKE, 1, _key(deal_id), quantity)
        if result == -2:
            from tuangou.deals.models import Deal

            available = Deal.objects.filter(pk=deal_id).values_list("stock", "sold_units", "reserved_units").first()
            if available is None:
                return ASK_DATABASE
            stock, sold, reserved = available
            client.set(_key(deal_id), max(0, stock - sold - reserved), nx=True, ex=TTL)
            result = client.eval(_TAKE, 1, _key(deal_id), quantity)
        if result == -1:
            return SOLD_OUT
        return TAKEN if result >= 0 else ASK_DATABASE
    except Exception:  # the gate is an optimisation: when Redis fails, the database decides
        log.warning("redis gate unavailable", exc_info=True)
        return ASK_DATABASE


def give(deal_id: int, quantity: int) -> None:
    """Give units back (an order expired or was cancelled, or the database refused the join)."""
    if not enabled():
        return
    try:
        _redis().eval(_GIVE, 1, _key(deal_id), quantity)
    except Exception:
        log.warning("redis gate unavailable", exc_info=True)


_CONSUME = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return -2
"""


def consume(deal_id: int, quantity: int) -> None:
    """The database granted units the gate did not hold (ASK_DATABASE): count them taken."""
    if not enabled():
        return
    try:
        _redis().eval(_CONSUME, 1, _key(deal_id), quantity)
    except Exception:
        log.warning("redis gate unavailable", exc_info=True)


def reset(deal_id: int) -> None:
    if enabled():
        _redis().delete(_key(deal_id))


def reset_all() -> None:
    """Forget every counter (tests: a recreated database reuses deal ids)."""
    if enabled():
        client = _redis()
        for key in client.scan_iter(match="tuangou:deal:*:available"):
            client.delete(key)
