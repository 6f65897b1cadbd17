"""Joining a deal, paying, cancelling and expiring orders: stock that never oversells.

The chain of a join (each step small and named, OrderCreator-style):

1. check the request (quantity), then one read: the deal with its tiers and the member's
   Idempotency-Key with its order. A repeated request gets its order; a deal not on sale, or
   with nothing left on the counters just read, is refused there (ADR 0017); the member's
   conditions;
2. in one short transaction: claim the Idempotency-Key first (a second request with the same
   key waits here until the first commits, then gets its order), ask the Redis gate, if there
   is one, to turn the losers of a flash sale away before they write, reserve the member's
   quota with a guarded upsert (``reserved + paid + n <= limit``), create the order, point the
   key at it and write the audit row, and only then reserve stock with a guarded UPDATE
   (``reserved_units + sold_units + n <= stock``) and commit. Any refusal rolls all of it back,
   the key included. On PostgreSQL a plain join (no team) asks the gate first and then makes
   these writes, in this order, as one statement on its own (data-modifying ``WITH`` parts, each
   after the one before succeeded; a refusal raises in the database and the statement leaves
   nothing): the deal's row is locked from its UPDATE to the end of that statement, with no
   round trip and no Python in between (ADR 0017 addendum).

Rows are locked in one order everywhere — (Idempotency-Key,) order, member row (DealBuyer), deal,
team — so two buyers, or a buyer and a payment, a cancel or the clock, never deadlock (the deals
domain takes deal, then team). Every buyer of a deal updates its one row, so that hot row is the
last write of a join: it stays locked for one round trip (UPDATE, COMMIT) instead of the whole
transaction, and joins on one deal queue for that only. Inserting the order takes PostgreSQL's
weak FOR KEY SHARE lock on the deal (the foreign key), which other joins' UPDATEs do not wait
for. A team join takes its seat after the deal (deal, then team) and creates its order last, so
that the order's foreign keys never wait on a team or deal out of that order; team buys are
not the rush. Quantity sold counts paid orders only (S5); reserved units hold stock for unpaid
orders until they expire and give it back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from tuangou.accounts.services import Alongside
from tuangou.core import events
from tuangou.core.audit import audit, audit_row
from tuangou.core.bulk import insert_one, insert_select
from tuangou.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tuangou.core.ownership import require_login
from tuangou.core.rows import Columns
from tuangou.core.time import now as _now
from tuangou.deals import services as deal_services
from tuangou.deals.models import Deal, DealTier, Team
from tuangou.deals.services import state_transition
from tuangou.orders import gate
from tuangou.orders.models import DealBuyer, IdempotencyKey, Order
from tuangou.orders.process import ORDER

PAID_STATES = ("paid", "refunded", "completed")
JoinRows = tuple[Alongside, list[tuple[Any, ...]], int]  # a join's read made with the token (`deal_join`)


def _order_number(now: dt.datetime) -> str:
    # Random, not sequential: no check-then-act counter, and the unique index settles the rest.
    return f"{now:%Y%m%d}{secrets.randbelow(10**12):012d}"


def _check_quantity(quantity: Any) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValidationFailed.field("quantity", _("Enter a quantity of at least 1."), code="invalid_quantity")
    return quantity


def _fingerprint(**request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Plain statements: every join runs them, and the ORM spent more CPU composing each one than the
# database spent answering it (ADR 0017). Identifiers come from the models, quoted; every value
# is a parameter; the values are prepared field by field as the ORM prepares them.


def _q(name: str) -> str:
    return str(connection.ops.quote_name(name))


# What a join reads of the deal: its checks, its price, the order's answer (the rest deferred).
_DEAL_READ = (
    *("title", "mode", "status", "starts_at", "ends_at", "new_members_only", "per_member_limit"),
    *("stock", "sold_units", "reserved_units", "buyers", "count_basis", "group_price", "leader_price", "team_size"),
)


@functools.cache
def _deal_read() -> tuple[str, str, str, Columns, Columns]:
    """A join's read (see `_read`): its select list, its joins from the deal (the member's key
    on the user id, a parameter), and the same joins from any row (`join_alongside`: the deal's
    id a parameter and the member's key on the bearer token's user, ``u.id``)."""
    deal = Columns.of(Deal, "jd", _DEAL_READ)
    tier = Columns.of(DealTier, "jt")
    key, tiers = IdempotencyKey._meta, DealTier._meta
    columns = f"{deal.sql}, {tier.sql}, jk.{_q('fingerprint')}, jk.{_q('order_id')}"
    tiers_join = f"LEFT JOIN {_q(tiers.db_table)} jt ON jt.{_q('deal_id')} = jd.{_q('id')}"
    key_join = f"LEFT JOIN {_q(key.db_table)} jk ON jk.{_q('user_id')} = {{user}} AND jk.{_q('key')} = %s"
    sql = (
        f"SELECT {columns} FROM {_q(Deal._meta.db_table)} jd {tiers_join} "  # noqa: S608
        f"{key_join.format(user='%s')} WHERE jd.{_q('id')} = %s"
    )
    deal_join = f"LEFT JOIN {_q(Deal._meta.db_table)} jd ON jd.{_q('id')} = %s"
    alongside = f"{deal_join} {tiers_join} {key_join.format(user='u.' + _q('id'))}"
    return sql, columns, alongside, deal, tier


@dataclass(frozen=True)
class _Read:
    """What a join reads before its transaction, in one statement: the deal with its tiers, and
    the member's Idempotency-Key (its request's fingerprint and order id) if it was used before."""

    deal: Deal | None
    key: tuple[str, int | None] | None


def join_alongside(deal_id: int, key: str | None) -> Alongside:
    """A join's read (`_read`), to ride on the bearer token's statement
    (`accounts.services.api_token_user_with`): the API reads the token, the deal and the
    member's key in one round trip and hands the rows to `deal_join` (``read=``)."""
    _sql, columns, joins, _deal, _tier = _deal_read()
    return Alongside(columns, joins, (deal_id, key))


def _read(deal_id: int, user: Any, key: str | None) -> _Read:
    sql = _deal_read()[0]
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, key, deal_id])
        return _found(cursor.fetchall())


def _found(rows: list[tuple[Any, ...]]) -> _Read:
    """The deal (None: no such deal), its tiers and the key of a join's read, from its rows."""
    _sql, _columns, _joins, deal_columns, tier_columns = _deal_read()
    if not rows or (deal := deal_columns.instance(rows[0], 0)) is None:
        return _Read(None, None)
    tiers_at = len(deal_columns.names)
    deal.keep_tiers([t for t in (tier_columns.instance(row, tiers_at) for row in rows) if t is not None])
    fingerprint, order_id = rows[0][tiers_at + len(tier_columns.names) :]
    return _Read(deal, None if fingerprint is None else (fingerprint, order_id))


def _earlier(found: tuple[str, int | None] | None, fingerprint: str) -> int | None:
    """The order id of an earlier request with the same Idempotency-Key, if it committed one;
    the key used for a different request: 409."""
    if found is None:
        return None
    if found[0] != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used for a different request."), code="idempotency_key_reused"
        )
    return found[1]


@functools.cache
def _order_read() -> tuple[str, Columns]:
    order = Columns.of(Order, "o")
    return f"SELECT {order.sql} FROM {_q(Order._meta.db_table)} o WHERE o.{_q('id')} = %s", order  # noqa: S608


def _replayed(order_id: int, deal: Deal) -> Order:
    """The order a repeated request gets back (of `deal`, read by the same request)."""
    sql, columns = _order_read()
    with connection.cursor() as cursor:
        cursor.execute(sql, [order_id])
        order: Order = columns.instance(cursor.fetchone(), 0)
    order.deal = deal
    return order


@functools.cache
def _key_lookup_sql() -> str:
    return (
        f"SELECT {_q('fingerprint')}, {_q('order_id')} FROM {_q(IdempotencyKey._meta.db_table)} "  # noqa: S608
        f"WHERE {_q('user_id')} = %s AND {_q('key')} = %s"
    )


def _replay(user: Any, key: str | None, fingerprint: str) -> Order | None:
    """The order an earlier request with the same Idempotency-Key created, if any (the key alone:
    a team join, and a join whose key was claimed while it ran)."""
    if not key:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_key_lookup_sql(), [user.pk, key])
        found = cursor.fetchone()
    if found is None or _earlier((found[0], found[1]), fingerprint) is None:
        return None
    return Order.objects.select_related("deal").filter(pk=found[1]).first()


def _check_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    if len(key) > 100:
        raise ValidationFailed.field("Idempotency-Key", _("At most 100 characters."), code="invalid_idempotency_key")
    return key


@functools.cache
def _claim_sql() -> str:
    columns = ", ".join(_q(c) for c in ("user_id", "key", "scope", "fingerprint", "created_at"))
    return (
        f"INSERT INTO {_q(IdempotencyKey._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({_q('user_id')}, {_q('key')}) DO NOTHING RETURNING {_q('id')}"
    )


def _claim_key(user: Any, key: str, fingerprint: str, now: dt.datetime) -> Order | None:
    """Claim the Idempotency-Key: the first write of a join's transaction.

    ``INSERT … ON CONFLICT DO NOTHING``: while a request with the same key is still in its
    transaction, PostgreSQL makes this one wait on the unique index until it ends. It committed:
    nothing is inserted, and its order is returned (a different request with the key: 409). It
    rolled back (refused): this request now holds the key and goes on (returns None).
    """
    for _attempt in range(3):
        with connection.cursor() as cursor:
            cursor.execute(
                _claim_sql(), [user.pk, key, "order", fingerprint, connection.ops.adapt_datetimefield_value(now)]
            )
            if cursor.fetchone() is not None:
                return None
        # A fresh statement sees the row the other request committed (READ COMMITTED).
        earlier = _replay(user, key, fingerprint)
        if earlier is not None:
            return earlier
        # The row went away in between (its order was deleted): claim again.
    raise Conflict(_("This Idempotency-Key was already used for a different request."), code="idempotency_key_reused")


@functools.cache
def _key_order_sql() -> str:
    table = _q(IdempotencyKey._meta.db_table)
    return f"UPDATE {table} SET {_q('order_id')} = %s WHERE {_q('user_id')} = %s AND {_q('key')} = %s"  # noqa: S608


def _check_conditions(deal: Deal, user: Any) -> None:
    if deal.new_members_only and Order.objects.filter(user=user, status__in=PAID_STATES).exists():
        raise Forbidden(_("This deal is for new members only."), code="new_members_only")


def _check_on_sale(deal: Deal, now: dt.datetime) -> None:
    if not deal.on_sale or not (deal.starts_at <= now < deal.ends_at):
        raise Conflict(_("This deal is not on sale."), code="deal_not_on_sale")


@functools.cache
def _stock_sql() -> str:
    reserved = _q("reserved_units")
    on_sale = ", ".join(["%s"] * len(Deal.ON_SALE))
    return (
        f"UPDATE {_q(Deal._meta.db_table)} SET {reserved} = {reserved} + %s "  # noqa: S608
        f"WHERE {_q('id')} = %s AND {_q('status')} IN ({on_sale}) "
        f"AND {reserved} <= {_q('stock')} - {_q('sold_units')} - %s"
    )


def _reserve_stock(deal: Deal, quantity: int) -> None:
    """The guarded UPDATE: succeeds only while paid + reserved + quantity fits in the stock."""
    with connection.cursor() as cursor:
        cursor.execute(_stock_sql(), [quantity, deal.pk, *Deal.ON_SALE, quantity])
        taken = cursor.rowcount
    if not taken:
        _refuse_stock(deal, quantity)


def _refuse_stock(deal: Deal, quantity: int) -> None:
    """Why the guarded stock UPDATE refused (read afresh): not on sale, sold out, or fewer left.
    Units given back since (a cancel, an expiry) do not make it "only n left" for n ≥ quantity:
    it was sold out when it refused."""
    fresh = Deal.objects.filter(pk=deal.pk).values_list("stock", "sold_units", "reserved_units", "status").first()
    if fresh is None or fresh[3] not in Deal.ON_SALE:
        raise Conflict(_("This deal is not on sale."), code="deal_not_on_sale")
    left = max(0, fresh[0] - fresh[1] - fresh[2])
    if left == 0 or left >= quantity:
        raise Conflict(_("Sold out."), code="sold_out")
    raise ValidationFailed.field("quantity", _("Only %(n)d left.") % {"n": left}, code="not_enough_stock")


@functools.cache
def _quota_sql() -> str:
    table, reserved, paid = _q(DealBuyer._meta.db_table), _q("reserved_units"), _q("paid_units")
    return (
        f"INSERT INTO {table} ({_q('deal_id')}, {_q('user_id')}, {reserved}, {paid}) VALUES (%s, %s, %s, 0) "  # noqa: S608
        f"ON CONFLICT ({_q('deal_id')}, {_q('user_id')}) DO UPDATE SET {reserved} = {table}.{reserved} + %s "
        f"WHERE {table}.{reserved} + {table}.{paid} + %s <= %s RETURNING {_q('id')}"
    )


def _reserve_quota(deal: Deal, user: Any, quantity: int) -> None:
    """The member's limit, on their row (DealBuyer) in one guarded upsert: the first join creates
    it holding `quantity`, a later one adds `quantity` only while reserved + paid stays within
    the limit. A racing request of the same member waits for this one's row and is judged on it."""
    if quantity > deal.per_member_limit:
        raise ValidationFailed.field(
            "quantity", _("At most %(n)d per member.") % {"n": deal.per_member_limit}, code="over_limit"
        )
    with connection.cursor() as cursor:
        cursor.execute(_quota_sql(), [deal.pk, user.pk, quantity, quantity, quantity, deal.per_member_limit])
        taken = cursor.fetchone() is not None
    if not taken:
        raise ValidationFailed.field(
            "quantity",
            _("At most %(n)d per member, including your earlier orders.") % {"n": deal.per_member_limit},
            code="over_limit",
        )


def _take_seat(team: Team) -> None:
    taken = Team.objects.filter(pk=team.pk, status__in=("open", "forming"), seats_taken__lt=F("size")).update(
        seats_taken=F("seats_taken") + 1
    )
    if not taken:
        raise Conflict(_("This team is full or closed."), code="team_full")


def _new_order(
    *, actor: Any, deal: Deal, team: Team | None, is_leader: bool, quantity: int, unit_price: Any, now: dt.datetime
) -> Order:
    # A new order starts at its process's start (the field's default); nothing else moves it.
    return Order(
        number=_order_number(now),
        user=actor,
        deal=deal,
        team=team,
        is_leader=is_leader,
        quantity=quantity,
        unit_price=unit_price,
        amount=unit_price * quantity,
        expires_at=now + dt.timedelta(minutes=settings.ORDERS_PAYMENT_MINUTES),
    )


def _create_order(
    *, actor: Any, deal: Deal, team: Team | None, is_leader: bool, quantity: int, unit_price: Any, now: dt.datetime
) -> Order:
    order = _new_order(
        actor=actor, deal=deal, team=team, is_leader=is_leader, quantity=quantity, unit_price=unit_price, now=now
    )
    insert_one(order)
    return order


# --------------------------------------------------------------------------------------------
# A join in one statement (PostgreSQL): the writes of `_place` as data-modifying WITH parts, in
# the same order, run on their own (autocommit) so that the statement is the transaction. The
# deal's row is locked from its UPDATE to the end of that statement: no Python and no round trip
# while it is held (ADR 0017 addendum). A guard that fails raises in the database
# (`orders_join_refused`, migration 0003), so nothing of the statement stays.

_REFUSED = "orders_join_refused:"


@functools.cache
def _join_statement_parts(keyed: bool) -> tuple[str, str, str, str]:
    """The fixed parts of a join's statement: the key claimed (with the new order's id drawn
    from its sequence) or the id alone, the member's quota, the stock, the answer."""
    order_seq = f"nextval(pg_get_serial_sequence('{Order._meta.db_table}', 'id'))"
    if keyed:
        key = IdempotencyKey._meta
        claimed = (
            f"INSERT INTO {_q(key.db_table)} ({_q('user_id')}, {_q('key')}, {_q('scope')}, {_q('fingerprint')}, "
            f"{_q('created_at')}, {_q('order_id')}) SELECT %s::bigint, %s::text, %s::text, %s::text, "
            f"%s::timestamptz, {order_seq} ON CONFLICT ({_q('user_id')}, {_q('key')}) DO NOTHING "
            f"RETURNING {_q('order_id')} AS id"
        )
    else:
        claimed = f"SELECT {order_seq} AS id"
    table, reserved, paid = _q(DealBuyer._meta.db_table), _q("reserved_units"), _q("paid_units")
    quota = (
        f"INSERT INTO {table} ({_q('deal_id')}, {_q('user_id')}, {reserved}, {paid}) "  # noqa: S608
        f"SELECT %s::bigint, %s::bigint, %s::integer, 0 FROM claimed "
        f"ON CONFLICT ({_q('deal_id')}, {_q('user_id')}) DO UPDATE SET {reserved} = {table}.{reserved} + %s::integer "
        f"WHERE {table}.{reserved} + {table}.{paid} + %s::integer <= %s::integer RETURNING {_q('id')}"
    )
    deal_reserved, on_sale = _q("reserved_units"), ", ".join(["%s::text"] * len(Deal.ON_SALE))
    stock = (
        f"UPDATE {_q(Deal._meta.db_table)} SET {deal_reserved} = {deal_reserved} + %s::integer "  # noqa: S608
        f"WHERE {_q('id')} = %s::bigint AND {_q('status')} IN ({on_sale}) "
        f"AND {deal_reserved} <= {_q('stock')} - {_q('sold_units')} - %s::integer "
        f"AND EXISTS (SELECT 1 FROM audited) RETURNING {_q('id')}"
    )
    answer = (
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM claimed) THEN NULL "
        "WHEN NOT EXISTS (SELECT 1 FROM quota) THEN orders_join_refused('over_limit') "
        "WHEN NOT EXISTS (SELECT 1 FROM stock) THEN orders_join_refused('stock') "
        "ELSE (SELECT id FROM placed) END"
    )
    return claimed, quota, stock, answer


def _join_statement(
    actor: Any, deal: Deal, quantity: int, unit_price: Any, key: str | None, fingerprint: str, now: dt.datetime
) -> tuple[str, list[Any], Order]:
    """A join's writes in one statement: the key claimed, the member's quota, the order, the
    audit row and last the deal's stock, each part after the one before it succeeded; the
    answer is the order's id, NULL when the key was already claimed (nothing written)."""
    claimed, quota, stock, answer = _join_statement_parts(key is not None)
    order = _new_order(
        actor=actor, deal=deal, team=None, is_leader=False, quantity=quantity, unit_price=unit_price, now=now
    )
    placed, placed_params = insert_select(order, "claimed, quota", (("id", "claimed.id"),))
    row = audit_row("order.place", actor=actor, obj=order, deal=deal.pk, quantity=quantity, amount=order.amount)
    audited, audited_params = insert_select(row, "placed", (("object_id", "placed.id::text"),))
    claimed_params = [actor.pk, key, "order", fingerprint, connection.ops.adapt_datetimefield_value(now)] if key else []
    quota_params = [deal.pk, actor.pk, quantity, quantity, quantity, deal.per_member_limit]
    stock_params = [quantity, deal.pk, *Deal.ON_SALE, quantity]
    sql = (
        f"WITH claimed AS ({claimed}), quota AS ({quota}), placed AS ({placed}), "
        f"audited AS ({audited}), stock AS ({stock}) {answer}"
    )
    return sql, [*claimed_params, *quota_params, *placed_params, *audited_params, *stock_params], order


def _refusal(exc: BaseException) -> str | None:
    """The guard named by `orders_join_refused` in a database error, if that is what it is."""
    message = str(getattr(getattr(exc.__cause__, "diag", None), "message_primary", "") or "")
    return message[len(_REFUSED) :] if message.startswith(_REFUSED) else None


def _gate_settle(deal_id: int, quantity: int, held: str | None, *, placed: bool) -> None:
    """The Redis gate after a join: the units it held go back if the join placed no order; the
    units it could not count (ASK_DATABASE) are taken from it once the join placed its order."""
    if held == gate.TAKEN and not placed:
        gate.give(deal_id, quantity)
    elif held == gate.ASK_DATABASE and placed:
        gate.consume(deal_id, quantity)


def _place_in_one(
    *, actor: Any, deal: Deal, quantity: int, unit_price: Any, idempotency_key: str | None, fingerprint: str
) -> Order:
    """`_place` for a plain join on PostgreSQL: the same writes in the same order, one statement."""
    if quantity > deal.per_member_limit:
        raise ValidationFailed.field(
            "quantity", _("At most %(n)d per member.") % {"n": deal.per_member_limit}, code="over_limit"
        )
    held = gate.take(deal.pk, quantity)
    if held == gate.SOLD_OUT:
        if idempotency_key:  # a retry of the request that took the last unit waits for it and gets its order
            return _place(
                actor=actor,
                deal=deal,
                quantity=quantity,
                unit_price=unit_price,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
        raise Conflict(_("Sold out."), code="sold_out")
    now = _now()
    try:
        for _attempt in range(3):
            sql, params, order = _join_statement(actor, deal, quantity, unit_price, idempotency_key, fingerprint, now)
            try:
                # on its own the statement is the transaction; inside a caller's, a savepoint
                with (
                    transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext(),
                    connection.cursor() as cursor,
                ):
                    cursor.execute(sql, params)
                    order_id = cursor.fetchone()[0]
            except DatabaseError as exc:
                refused = _refusal(exc)
                if refused == "over_limit":
                    raise ValidationFailed.field(
                        "quantity",
                        _("At most %(n)d per member, including your earlier orders.") % {"n": deal.per_member_limit},
                        code="over_limit",
                    ) from None
                if refused == "stock":
                    _refuse_stock(deal, quantity)
                raise
            if order_id is not None:
                order.pk = order_id
                order._state.adding = False
                order._state.db = connection.alias
                break
            # The key was claimed by an earlier request (a concurrent one: after it committed).
            earlier = _replay(actor, idempotency_key, fingerprint)
            if earlier is not None:
                _gate_settle(deal.pk, quantity, held, placed=False)
                return earlier
            # its order went away in between: claim again
        else:
            raise Conflict(
                _("This Idempotency-Key was already used for a different request."), code="idempotency_key_reused"
            )
    except Exception:
        _gate_settle(deal.pk, quantity, held, placed=False)
        raise
    _gate_settle(deal.pk, quantity, held, placed=True)
    return order


def _place(
    *,
    actor: Any,
    deal: Deal,
    quantity: int,
    unit_price: Any,
    idempotency_key: str | None,
    fingerprint: str,
    team: Team | None = None,
    open_team: bool = False,
) -> Order:
    """The transaction of a join (see the module's docstring for the order of its steps).

    ``open_team``: the actor opens a new team and leads it; it is created after the member's
    row is taken (the key first, so that a concurrent retry opens no second, empty team).
    """
    now = _now()
    held: str | None = None
    try:
        with transaction.atomic():
            # The key before anything else: a concurrent retry waits here, holding no other lock,
            # and then replays the first request's order instead of being refused by its effects.
            if idempotency_key:
                earlier = _claim_key(actor, idempotency_key, fingerprint, now)
                if earlier is not None:
                    return earlier
            held = gate.take(deal.pk, quantity)
            if held == gate.SOLD_OUT:
                raise Conflict(_("Sold out."), code="sold_out")
            _reserve_quota(deal, actor, quantity)
            if open_team:
                team = Team.objects.create(deal=deal, leader=actor, size=deal.team_size or 2)
                audit("team_buy.open", actor=actor, obj=team, deal=deal.pk)
            if team is not None:
                # deal, then team (the deals domain's order); the order's keys after both
                _reserve_stock(deal, quantity)
                _take_seat(team)
            order = _create_order(
                actor=actor,
                deal=deal,
                team=team,
                is_leader=open_team,
                quantity=quantity,
                unit_price=unit_price,
                now=now,
            )
            if idempotency_key:
                with connection.cursor() as cursor:
                    cursor.execute(_key_order_sql(), [order.pk, actor.pk, idempotency_key])
            audit("order.place", actor=actor, obj=order, deal=deal.pk, quantity=quantity, amount=order.amount)
            if team is None:
                _reserve_stock(deal, quantity)  # the hot row last: locked from here to COMMIT only
    except Exception:
        _gate_settle(deal.pk, quantity, held, placed=False)
        raise
    _gate_settle(deal.pk, quantity, held, placed=True)
    return order


def _deal_for_join(
    deal_id: int, actor: Any, key: str | None, fingerprint: str, read: JoinRows | None = None
) -> tuple[Deal, Order | None]:
    """The deal on offer and, for a repeated Idempotency-Key, the order it already made: read
    now, or the rows `read` holds if they were read for this deal, member and key."""
    if read is not None and read[0] == join_alongside(deal_id, key) and read[2] == actor.pk:
        found = _found(read[1])
    else:
        found = _read(deal_id, actor, key)
    if found.deal is None:
        _replay(actor, key, fingerprint)  # a key used for another request is still a 409
        raise NotFound()
    earlier = _earlier(found.key, fingerprint)
    if earlier is not None:
        return found.deal, _replayed(earlier, found.deal)
    if found.deal.status in ("draft", "submitted", "returned", "approved"):
        raise NotFound()
    return found.deal, None


def deal_join(
    *, actor: Any, deal_id: int, quantity: Any, idempotency_key: str | None = None, read: JoinRows | None = None
) -> Order:
    """Join a deal for `quantity` units: an order that holds the stock until it is paid or expires.

    Two buyers can never both get the last unit (guarded UPDATE; the row lock serialises them);
    a member never holds more than the deal's limit; the same Idempotency-Key returns the same
    order. Bad input raises ValidationFailed naming the field, and nothing changes.

    One read before the transaction (the deal, its tiers, the key and its order): a repeated
    request gets its order, and a deal with nothing left is refused on the counters just read —
    the guarded UPDATE would refuse it on the same counters; stock given back afterwards (an
    expiry, a cancel) serves the requests that come after. `read`: that read, already made with
    the bearer token (`join_alongside`; the alongside, its rows, the token's user id); used only
    if it was made for this deal, key and actor.
    """
    require_login(actor)
    key = _check_key(idempotency_key)
    qty = _check_quantity(quantity)
    fingerprint = _fingerprint(action="join", deal=deal_id, quantity=qty)
    deal, earlier = _deal_for_join(deal_id, actor, key, fingerprint, read)
    if earlier is not None:
        return earlier
    if deal.is_team:
        raise Conflict(_("This is a team buy: open a team or join one."), code="team_buy_only")
    _check_on_sale(deal, _now())
    if deal.available == 0:
        raise Conflict(_("Sold out."), code="sold_out")
    _check_conditions(deal, actor)
    place = _place_in_one if connection.vendor == "postgresql" else _place
    return place(
        actor=actor,
        deal=deal,
        quantity=qty,
        unit_price=deal.current_price,
        idempotency_key=key,
        fingerprint=fingerprint,
    )


def team_open(*, actor: Any, deal_id: int, idempotency_key: str | None = None) -> Order:
    """A leader opens a team of N and places the first order (leader price, if any).

    The team waits for its leader's payment; only then does its clock start and others may join.
    """
    require_login(actor)
    key = _check_key(idempotency_key)
    fingerprint = _fingerprint(action="team_open", deal=deal_id)
    deal, earlier = _deal_for_join(deal_id, actor, key, fingerprint)
    if earlier is not None:
        return earlier
    if not deal.is_team:
        raise Conflict(_("This deal has no team buys."), code="not_a_team_buy")
    _check_on_sale(deal, _now())
    _check_conditions(deal, actor)
    return _place(
        actor=actor,
        deal=deal,
        quantity=1,
        unit_price=deal.leader_price or deal.group_price,
        idempotency_key=key,
        fingerprint=fingerprint,
        open_team=True,
    )


def team_join(*, actor: Any, team_id: int, idempotency_key: str | None = None) -> Order:
    """Join a team whose leader has paid; a team never takes more than its N members."""
    require_login(actor)
    key = _check_key(idempotency_key)
    fingerprint = _fingerprint(action="team_join", team=team_id)
    if (replay := _replay(actor, key, fingerprint)) is not None:
        return replay
    team = Team.objects.select_related("deal").filter(pk=team_id).first()
    if team is None:
        raise NotFound()
    if team.status != "forming":
        raise Conflict(_("This team is not open for members."), code="team_not_forming")
    if Order.objects.filter(team=team, user=actor, status__in=("pending", *PAID_STATES)).exists():
        raise Conflict(_("You are already in this team."), code="already_in_team")
    deal, _none = _deal_for_join(team.deal_id, actor, None, fingerprint)
    _check_on_sale(deal, _now())
    _check_conditions(deal, actor)
    return _place(
        actor=actor,
        deal=deal,
        quantity=1,
        unit_price=deal.group_price,
        idempotency_key=key,
        fingerprint=fingerprint,
        team=team,
    )


# --------------------------------------------------------------------------------------------
# Paying, cancelling, expiring


def order_mark_paid(*, order_id: int, actor: Any = None) -> Order:
    """Record that an order is paid (called by the payments domain once a payment is confirmed).

    The units move from reserved to sold (S5 數量+1) and the member counts as a buyer; the deal
    tips the moment its tipping point is paid for; a team's clock starts with its leader's
    payment and the team fills with its last member's. Paying twice changes nothing. An order
    that expired, or a deal or team no longer on sale, is refused (Conflict): the payments domain
    refunds such a payment.
    """
    now = _now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound()
        if order.status in PAID_STATES:
            return order
        if order.status != "pending":
            raise Conflict(_("This order can no longer be paid."), code="order_not_payable")
        # Lock order: order, member row, deal, team (a refusal below rolls the member row back).
        n = order.quantity
        first = DealBuyer.objects.filter(deal_id=order.deal_id, user_id=order.user_id, paid_units=0).update(
            reserved_units=F("reserved_units") - n, paid_units=F("paid_units") + n
        )
        if not first:
            DealBuyer.objects.filter(deal_id=order.deal_id, user_id=order.user_id).update(
                reserved_units=F("reserved_units") - n, paid_units=F("paid_units") + n
            )
        deal = Deal.objects.select_for_update().get(pk=order.deal_id)
        if not deal.on_sale:
            raise Conflict(_("This deal is not on sale."), code="deal_not_on_sale")
        team = Team.objects.select_for_update().get(pk=order.team_id) if order.team_id else None
        if team is not None and team.status not in ("open", "forming"):
            raise Conflict(_("This team is not open for members."), code="team_not_forming")
        Deal.objects.filter(pk=deal.pk).update(
            reserved_units=F("reserved_units") - n,
            sold_units=F("sold_units") + n,
            buyers=F("buyers") + (1 if first else 0),
        )
        state_transition(order, ORDER, "pay", actor=None)
        Order.objects.filter(pk=order.pk).update(paid_at=now)
        order.paid_at = now
        audit("order.paid", actor=actor, obj=order, amount=order.amount)
        events.publish("order.paid", order_id=order.pk, deal_id=deal.pk)
        if team is not None:
            Team.objects.filter(pk=team.pk).update(members_paid=F("members_paid") + 1)
            team.refresh_from_db()
            team.deal = deal
            if order.is_leader and team.status == "open":
                deal_services.team_leader_paid(team, now)
            deal_services.team_fill_if_complete(team, now)
        deal.refresh_from_db()
        deal_services.deal_tip_if_reached(deal, now)
        if deal.sold_units >= deal.stock:
            deal_services._advance(deal, now)  # sold out: close at once, the clock would do it too
    return order


def order_mark_refunded(*, order_id: int, actor: Any = None, note: str = "") -> Order:
    """Record that a paid order was refunded in full (called by the payments domain). Idempotent.

    Its units stay counted as sold for the deal's history; the refund itself, and the money, are
    the payments domain's business.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound()
        if order.status == "refunded":
            return order
        state_transition(order, ORDER, "refund", actor=None, note=note)
        Order.objects.filter(pk=order.pk).update(closed_at=_now())
        audit("order.refunded", actor=actor, obj=order, note=note)
    return order


def _release(order: Order, target_action: str, *, actor: Any, now: dt.datetime) -> None:
    """Give an unpaid order's stock, quota and team seat back. Caller holds the order's lock."""
    n = order.quantity
    # Lock order: (order,) member row, deal, team. The deal FOR UPDATE at once (as a payment takes
    # it), not upgraded later while joins hold its foreign-key share lock.
    DealBuyer.objects.filter(deal_id=order.deal_id, user_id=order.user_id).update(
        reserved_units=F("reserved_units") - n
    )
    Deal.objects.select_for_update().filter(pk=order.deal_id).values_list("pk").first()
    Deal.objects.filter(pk=order.deal_id).update(reserved_units=F("reserved_units") - n)
    if order.team_id:
        team = Team.objects.select_for_update().select_related("deal").get(pk=order.team_id)
        Team.objects.filter(pk=team.pk).update(seats_taken=F("seats_taken") - 1)
        if order.is_leader and team.status == "open":
            deal_services.team_cancel(team, now)
    state_transition(order, ORDER, target_action, actor=actor)
    Order.objects.filter(pk=order.pk).update(closed_at=now)
    transaction.on_commit(lambda: gate.give(order.deal_id, n))


def order_cancel(*, actor: Any, order_id: int) -> Order:
    """The member cancels an unpaid order; its stock goes back at once."""
    require_login(actor)
    now = _now()
    with transaction.atomic():
        # Only the buyer cancels: anyone else learns nothing (404), merchants and operators included.
        order = Order.objects.select_for_update().filter(pk=order_id, user_id=actor.pk).first()
        if order is None:
            raise NotFound()
        if order.status != "pending":
            raise Conflict(_("Only an unpaid order can be cancelled."), code="order_not_cancellable")
        _release(order, "cancel", actor=actor, now=now)
    return order


def order_expire(*, order_id: int, now: dt.datetime | None = None) -> bool:
    """An unpaid order past its time expires and gives its stock back. Idempotent."""
    when = now or _now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != "pending" or order.expires_at > when:
            return False
        _release(order, "expire", actor=None, now=when)
        events.publish("order.expired", order_id=order.pk, deal_id=order.deal_id)
    return True


def orders_expire_due(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """The clock's job for unpaid orders: expire every one past its time, each in its own transaction."""
    when = now or _now()
    ids = list(
        Order.objects.filter(status="pending", expires_at__lte=when).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if order_expire(order_id=pk, now=when))
