"""Every change of a voucher: issue, verify, undo, resend, refund, expire.

State changes go through the workflow engine along the declared `VOUCHER` process, so each is
logged and drawn with the others. The race is decided before the engine is asked: `_move`
locks the row only while it is still at the expected state (``SELECT … WHERE state=<source>
FOR UPDATE``), and the engine moves that locked row in the same transaction. Two racing calls:
the first locks and moves; the second waits for the lock, finds the row no longer at the
source and is refused. Verification asks the engine's one-row move itself (`transition_row`:
the guarded ``UPDATE`` with the use's columns, its log and position in one statement; ADR
0016). No read-then-write on the state anywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.core import jobs, ratelimit
from tuangou.core.audit import audit
from tuangou.core.bulk import insert_one
from tuangou.core.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from tuangou.core.money import money
from tuangou.core.rows import Columns
from tuangou.core.time import local_date
from tuangou.core.workflow.engine import create_rows_in_state, transition, transition_many, transition_row
from tuangou.merchants.models import MerchantMember, Store
from tuangou.messaging.services import Outgoing, message_send, message_send_many
from tuangou.vouchers import codes
from tuangou.vouchers.models import Redemption, Voucher, WrongCode
from tuangou.vouchers.process import VOUCHER

log = logging.getLogger(__name__)

MAX_RESENDS = 5
# OWASP OAT-002: after this many unknown codes from one store within the window, the store's
# counter is locked out until the window has passed.
LOCKOUT_AFTER = 10
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
# Every verification attempt of one store, right or wrong (a fast scanner is ~1 a second).
STORE_ATTEMPTS = (60, 60)
# orders whose vouchers are issued (and their SMS queued) per transaction
ISSUE_BATCH = 2000
# vouchers whose issue SMS are queued per transaction (one outbox INSERT, one delivery job)
NOTIFY_BATCH = 500


def undo_window() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "VOUCHER_UNDO_SECONDS", 3600)))


def _move(
    voucher_id: int,
    action: str,
    source: str,
    *,
    actor: Any = None,
    note: str = "",
    documents: Any = None,
    **values: Any,
) -> bool:
    """The declared transition `action` of one voucher still at `source`; False if it is not there.

    Call inside the service's transaction. The row is locked only while it is at `source` (the
    guard), `values` are written on the locked row, and the engine performs and logs the
    transition on it (``actor=None``: the platform). Whoever locks first wins; a racing second
    call finds the row moved on and gets False.
    """
    if VOUCHER.route(source, action) is None:  # pragma: no cover - a programming error, caught by tests
        raise ValueError(f"voucher: no {action!r} from {source!r}")
    locked = Voucher.objects.select_for_update().filter(pk=voucher_id, state=source).first()
    if locked is None:
        return False
    if values:
        Voucher.objects.filter(pk=voucher_id).update(**values)
    transition(locked, action, actor=actor, note=note, documents=documents, process=VOUCHER)
    return True


# --------------------------------------------------------------------------------------------
# Adapters to other domains (see .requests-orders.md / .requests-payments.md)


def _units_per_voucher(deal: Any) -> str:
    """'unit': one voucher per paid unit (default); 'order': one voucher for the whole order."""
    return str(getattr(deal, "voucher_per", "unit") or "unit")


def _window(deal: Any, start: dt.date) -> tuple[dt.date, dt.date]:
    """The validity of a voucher paid on local day `start`: the deal's fixed dates, or so many days."""
    if deal.voucher_validity == "fixed" and deal.voucher_valid_from and deal.voucher_valid_until:
        return deal.voucher_valid_from, deal.voucher_valid_until
    days = deal.voucher_valid_days or 90
    return start, start + dt.timedelta(days=days)


def _refund(voucher: Voucher, *, reason: str, actor: Any = None) -> None:
    """Give the voucher's money back through the payments domain (its refund is idempotent by key)."""
    try:
        from tuangou.payments import services as payments
    except ImportError:  # payments not installed: nothing to give back through
        log.warning("voucher %s: payments app missing, refund not requested", voucher.pk)
        return
    payments.order_refund(
        order_id=voucher.order_id, reason=reason, key=f"voucher:{voucher.pk}", amount=voucher.amount, actor=actor
    )


# --------------------------------------------------------------------------------------------
# Issuing


def _paid_orders(deal_id: int, team_id: int | None = None) -> models.QuerySet[Any]:
    from tuangou.orders.models import Order

    orders = Order.objects.filter(deal_id=deal_id, status__in=("paid", "completed"))
    if team_id is not None:
        return orders.filter(team_id=team_id)
    # In a team buy only orders of filled teams get vouchers; the others are refunded.
    return orders.filter(Q(team__isnull=True) | Q(team__status="filled"))


def vouchers_issue_in_ranges(*, deal_id: int, team_id: int | None = None) -> int:
    """成團 of a large deal: the paid orders cut into key ranges of `ISSUE_BATCH` orders, one job
    (``vouchers.issue_range``: `vouchers_issue` over the range) each, so that the worker's
    processes issue them side by side; their SMS deliveries queue behind them. Returns the
    number of jobs. Each range is idempotent on its own, like `vouchers_issue`."""
    keys = list(_paid_orders(deal_id, team_id).order_by("pk").values_list("pk", flat=True))
    starts = range(0, len(keys), ISSUE_BATCH)
    for i in starts:
        jobs.enqueue(
            "vouchers.issue_range",
            deal_id=deal_id,
            team_id=team_id,
            first_order_id=keys[i],
            last_order_id=keys[min(i + ISSUE_BATCH, len(keys)) - 1],
        )
    return len(starts)


def vouchers_issue_for_order(*, order_id: int, deal_id: int) -> int:
    """An order paid after its deal tipped gets its vouchers at once (same rules as the tipping)."""
    from tuangou.deals.models import Deal

    deal = Deal.objects.filter(pk=deal_id).only("tipped_at").first()
    if deal is None or deal.tipped_at is None:
        return 0
    return vouchers_issue(deal_id=deal_id, order_id=order_id)


def vouchers_issue(
    *,
    deal_id: int,
    team_id: int | None = None,
    order_id: int | None = None,
    first_order_id: int | None = None,
    last_order_id: int | None = None,
) -> int:
    """成團: issue the missing vouchers of every paid order of a tipped deal (or filled team).

    Runs after the tipping commits (an event handler), so the tipping never waits for it. A
    batch of orders at a time, in one transaction each: the vouchers are created issued through
    the engine (`create_rows_in_state`: plain rows, ``COPY`` on PostgreSQL, one log row and
    position each) and their SMS queued in the outbox with them, so a voucher exists exactly
    when its SMS is queued (``sms_sent`` written at once). Idempotent: an order's vouchers are
    unique by (order, number), so a retry or a second runner adds nothing twice; SMS go out
    once per voucher. `order_id`, or `first_order_id` … `last_order_id`: only those orders.
    """
    from tuangou.deals.models import Deal

    deal = Deal.objects.select_related("merchant").get(pk=deal_id)
    if deal.delivery != "voucher" and deal.delivery != "pickup":
        return 0
    per = _units_per_voucher(deal)
    password = deal_requires_password(deal)
    windows = _Windows(deal)
    created = 0
    paid = _paid_orders(deal_id, team_id)
    if order_id is not None:
        first_order_id = last_order_id = order_id
    if first_order_id is not None:
        paid = paid.filter(pk__gte=first_order_id)
    if last_order_id is not None:
        paid = paid.filter(pk__lte=last_order_id)
    after = 0
    unsent = first_order_id is None and last_order_id is None  # the whole deal: look for any
    while True:
        # walk the paid orders by key, a page at a time (linear in the orders), and keep those
        # still missing vouchers
        page = list(
            paid.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "user_id", "quantity", "unit_price", "amount", "paid_at", "user__mobile")[:ISSUE_BATCH]
        )
        if not page:
            break
        first, after = page[0][0], page[-1][0]
        # the page's vouchers so far, by the (order, number) index over the page's key range
        # (other deals' orders in the range are never looked up), and those still unsent
        counts = {
            order: (n, left)
            for order, n, left in Voucher.objects.filter(order_id__gte=first, order_id__lte=after)
            .values_list("order_id")
            .annotate(n=Count("pk"), unsent=Count("pk", filter=Q(sms_sent=0, state="issued")))
            .order_by()
            .values_list("order_id", "n", "unsent")
        }
        unsent = unsent or any(counts.get(o[0], (0, 0))[1] for o in page)
        todo = [o for o in page if counts.get(o[0], (0, 0))[0] < (o[2] if per == "unit" else 1)]
        if not todo:
            continue
        rows: list[tuple[Any, ...]] = []
        sms: list[Outgoing] = []
        made = iter(codes.generate_many(sum(o[2] for o in todo) if per == "unit" else len(todo)))
        for pk, user_id, quantity, unit_price, amount, paid_at, mobile in todo:
            valid = windows.of(paid_at)
            if per == "unit":
                shares = [(i + 1, 1, money(unit_price)) for i in range(quantity)]
            else:
                shares = [(1, quantity, money(amount))]
            for seq, units, share in shares:
                code = next(made)
                secret = codes.generate_password() if password else ""
                rows.append((code, secret, pk, seq, deal.pk, deal.merchant_id, user_id, units, share, *valid))
                sms.append(_issued_sms(to=mobile, deal=deal.title, code=code, password=secret, valid=valid))
        with transaction.atomic():
            try:
                with transaction.atomic():
                    # the usual case: the batch's vouchers are created issued (logged by the engine
                    # as issued by the platform) and marked sent as their SMS are queued
                    create_rows_in_state(Voucher, (*_ISSUE_COLUMNS, "sms_sent"), [(*row, 1) for row in rows], "issue")
                    message_send_many(messages=sms, batch_size=NOTIFY_BATCH)
            except IntegrityError:
                # a concurrent runner issued some of them first: keep its rows, add the missing
                # ones at the start and issue those (a duplicate (order, number) is skipped);
                # their SMS follow in `vouchers_notify_new`
                Voucher.objects.bulk_create(
                    [Voucher(**dict(zip(_ISSUE_COLUMNS, row, strict=True))) for row in rows],
                    batch_size=ISSUE_BATCH,
                    ignore_conflicts=True,
                )
                transition_many(
                    Voucher.objects.filter(order__in=[o[0] for o in todo]), "issue", batch_size=max(len(rows), 1)
                )
                unsent = True
            audit("voucher.issue", obj=deal, orders=len(todo), vouchers=len(rows))
        created += len(rows)
    if unsent:  # a range (a job, a late order) sends only if it saw or left a voucher unsent
        vouchers_notify_new(deal_id=deal_id, first_order_id=first_order_id, last_order_id=last_order_id)
    return created


_ISSUE_COLUMNS = (
    "code",
    "password",
    "order_id",
    "seq",
    "deal_id",
    "merchant_id",
    "user_id",
    "units",
    "amount",
    "valid_from",
    "valid_until",
)


class _Windows:
    """The validity windows of one deal's vouchers by payment time (the local day of payment,
    today if unknown): the time zone looked up once, each day's window computed once."""

    def __init__(self, deal: Any) -> None:
        self.deal = deal
        self.zone = timezone.get_current_timezone()
        self.days: dict[dt.date, tuple[dt.date, dt.date]] = {}

    def of(self, paid_at: dt.datetime | None) -> tuple[dt.date, dt.date]:
        day = paid_at.astimezone(self.zone).date() if paid_at else local_date()
        if day not in self.days:
            self.days[day] = _window(self.deal, day)
        return self.days[day]


def deal_requires_password(deal: Any) -> bool:
    return bool(getattr(deal, "voucher_password", False))


def vouchers_notify_new(*, deal_id: int, first_order_id: int | None = None, last_order_id: int | None = None) -> int:
    """Send the issue SMS of every voucher of the deal (of its orders `first_order_id` …
    `last_order_id`, if given) not yet sent (once each, even when racing).

    A batch at a time, in primary-key order: the batch's unsent vouchers are locked, marked sent
    and their SMS queued with one outbox INSERT and one delivery job, in one transaction. A
    racing runner waits for the lock and then finds those vouchers sent."""
    from tuangou.deals.models import Deal

    title = Deal.objects.filter(pk=deal_id).values_list("title", flat=True).first() or ""
    unsent = Voucher.objects.filter(deal_id=deal_id, sms_sent=0, state="issued")
    if first_order_id is not None:
        unsent = unsent.filter(order_id__gte=first_order_id)
    if last_order_id is not None:
        unsent = unsent.filter(order_id__lte=last_order_id)
    sent = 0
    after = 0
    while True:
        with transaction.atomic():
            # plain values, not models: the deal's title is the same for all, the member's mobile joined
            batch = list(
                unsent.select_for_update(of=("self",))
                .filter(pk__gt=after)
                .order_by("pk")
                .values_list("pk", "code", "password", "valid_from", "valid_until", "user__mobile")[:NOTIFY_BATCH]
            )
            if not batch:
                break
            after = batch[-1][0]
            Voucher.objects.filter(pk__in=[row[0] for row in batch]).update(sms_sent=1)
            message_send_many(
                messages=[
                    _issued_sms(to=mobile, deal=title, code=code, password=password, valid=(start, end))
                    for _pk, code, password, start, end, mobile in batch
                ],
                batch_size=NOTIFY_BATCH,
            )
        sent += len(batch)
    return sent


def _issued_sms(*, to: str, deal: str, code: str, password: str, valid: tuple[dt.date, dt.date]) -> Outgoing:
    password_text = (_(", password %(password)s") % {"password": password}) if password else ""
    return Outgoing(
        to=to,
        template="voucher_issued",
        params={
            "deal": deal,
            "code": codes.display(code),
            "password_text": password_text,
            "valid_from": valid[0].isoformat(),
            "valid_until": valid[1].isoformat(),
        },
    )


def _send_voucher_sms(voucher: Voucher) -> None:
    sms = _issued_sms(
        to=voucher.user.mobile,
        deal=voucher.deal.title,
        code=voucher.code,
        password=voucher.password,
        valid=(voucher.valid_from, voucher.valid_until),
    )
    message_send(to=sms.to, template=sms.template, params=sms.params)


def voucher_resend(*, actor: Any, voucher_id: int) -> Voucher:
    """The member asks for the voucher SMS again: at most 5 times per voucher, one a minute."""
    voucher = Voucher.objects.select_related("deal", "user").filter(pk=voucher_id, user_id=actor.pk).first()
    if voucher is None:
        raise NotFound()
    if voucher.state != "issued":
        raise Conflict(_("Only a voucher that can still be used is sent again."), code="voucher_not_usable")
    ratelimit.hit("voucher:resend", str(voucher.pk), limit=1, window=60)
    with transaction.atomic():
        if not Voucher.objects.filter(pk=voucher.pk, resends__lt=MAX_RESENDS).update(
            resends=F("resends") + 1, sms_sent=F("sms_sent") + 1
        ):
            raise RateLimited(
                _("This voucher has been sent again %(n)d times, the most allowed.") % {"n": MAX_RESENDS},
                code="resend_limit",
                retry_after=0,
            )
        _send_voucher_sms(voucher)
        audit("voucher.resend", actor=actor, obj=voucher)
    voucher.refresh_from_db()
    return voucher


# --------------------------------------------------------------------------------------------
# At the counter
#
# A verification is a few statements (ADR 0011): one SELECT for the store, whether the clerk
# works there and whether it is locked out; one for the voucher with what the checks need; then
# one short transaction where the engine's guarded move decides a race (the row locked only
# while it is still issued), followed by the use, the verification record, the audit row and
# the member's SMS.


def _works_at(actor: Any) -> Exists:
    """For a store (`OuterRef`): `actor` is a clerk of it or an admin of its merchant."""
    return Exists(
        MerchantMember.objects.filter(user=actor, merchant_id=OuterRef("merchant_id")).filter(
            Q(store__isnull=True) | Q(store_id=OuterRef("pk"))
        )
    )


def _tables() -> dict[str, str]:
    from tuangou.accounts.models import User
    from tuangou.deals.models import Deal
    from tuangou.orders.models import Order

    models_ = {"voucher": Voucher, "deal": Deal, "order": Order, "user": User, "store": Store}
    tables = {name: m._meta.db_table for name, m in models_.items()}
    tables |= {"member": MerchantMember._meta.db_table, "wrong": WrongCode._meta.db_table}
    return tables | {"deal_stores": Deal.stores.through._meta.db_table}


@functools.cache
def _voucher_columns() -> tuple[Columns, ...]:
    """The voucher, its deal's title, its order's status, the holder's mobile and the name of the
    store that used it (the rest of each deferred): what the counter reads."""
    from tuangou.accounts.models import User
    from tuangou.deals.models import Deal
    from tuangou.orders.models import Order

    return (
        Columns.of(Voucher, "v"),
        Columns.of(Deal, "d", only=("title",)),
        Columns.of(Order, "o", only=("status",)),
        Columns.of(User, "u", only=("mobile",)),
        Columns.of(Store, "us", only=("name",)),
    )


def _voucher_select(store: str) -> str:
    """`_voucher_columns`, and whether the deal names any store and the store `store` (an SQL
    expression; `Voucher.accepted_stores`)."""
    t = _tables()
    return (
        f"{', '.join(c.sql for c in _voucher_columns())}, "  # noqa: S608
        f"EXISTS (SELECT 1 FROM {t['deal_stores']} n WHERE n.deal_id = v.deal_id) AS deal_names_stores, "
        f"EXISTS (SELECT 1 FROM {t['deal_stores']} n WHERE n.deal_id = v.deal_id AND n.store_id = {store}) "
        "AS deal_names_store"
    )


@functools.cache
def _counter_sql() -> tuple[Columns, str]:
    """The store, if `actor` works at it (a clerk of it, an admin of its merchant); whether it is
    locked out: its LOCKOUT_AFTER-th wrong code within the window exists (read off the (store,
    at) index by OFFSET, however many there are); and the voucher of the code if it is the
    store's merchant's (`_voucher_select`; NULLs where there is none). One round trip: the
    caller judges the store before it looks at the voucher."""
    t = _tables()
    store = Columns.of(Store, "s")
    return store, (
        f"SELECT {store.sql}, EXISTS (SELECT 1 FROM {t['wrong']} w WHERE w.store_id = s.id AND w.at >= %s "  # noqa: S608
        f"LIMIT 1 OFFSET %s) AS locked_out, {_voucher_select('s.id')} "
        f"FROM {t['store']} s LEFT JOIN {t['voucher']} v ON v.code = %s AND v.merchant_id = s.merchant_id "
        f"LEFT JOIN {t['deal']} d ON d.id = v.deal_id LEFT JOIN {t['order']} o ON o.id = v.order_id "
        f"LEFT JOIN {t['user']} u ON u.id = v.user_id LEFT JOIN {t['store']} us ON us.id = v.used_store_id "
        f"WHERE s.id = %s AND EXISTS (SELECT 1 FROM {t['member']} m "
        "WHERE m.user_id = %s AND m.merchant_id = s.merchant_id AND (m.store_id IS NULL OR m.store_id = s.id))"
    )


@functools.cache
def _voucher_sql() -> str:
    """The voucher of a code and merchant (`_voucher_select`), as `_counter_sql` reads it."""
    t = _tables()
    return (
        f"SELECT {_voucher_select('%s')} "  # noqa: S608
        f"FROM {t['voucher']} v JOIN {t['deal']} d ON d.id = v.deal_id JOIN {t['order']} o ON o.id = v.order_id "
        f"JOIN {t['user']} u ON u.id = v.user_id LEFT JOIN {t['store']} us ON us.id = v.used_store_id "
        "WHERE v.code = %s AND v.merchant_id = %s"
    )


def counter_store(*, actor: Any, store_id: int) -> Store:
    """The store `actor` works at: a clerk's own store, or any store of a merchant admin. 404 otherwise."""
    if not getattr(actor, "is_authenticated", False):
        raise NotFound()
    store: Store | None = next(
        iter(Store.objects.select_related("merchant").filter(_works_at(actor), pk=store_id).order_by()[:1]), None
    )
    if store is None:
        raise NotFound()
    return store


def _counter(*, actor: Any, store_id: int, code: str) -> tuple[Store, Voucher | None]:
    """The store `actor` works at (404 otherwise), refused while it is locked out (`_check_lockout`),
    and the voucher of `code` (normalised) if it is the store's merchant's, in one query.
    Hand-written SQL (ADR 0011): the ORM took longer to compose it than /healthz takes to
    answer. The voucher is not looked at here: `_find` counts the attempt first (ADR 0016)."""
    if not getattr(actor, "is_authenticated", False):
        raise NotFound()
    since = timezone.now() - LOCKOUT_WINDOW
    store, sql = _counter_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [since, LOCKOUT_AFTER - 1, code, int(store_id), actor.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound()
    at = len(store.names)
    _check_lockout(locked_out=bool(row[at]))
    return store.instance(row), _voucher_of(row, at + 1)


def _check_lockout(*, locked_out: bool) -> None:
    if locked_out:
        raise RateLimited(
            _("Too many wrong codes at this store. Verification is locked for %(minutes)d minutes.")
            % {"minutes": int(LOCKOUT_WINDOW.total_seconds() // 60)},
            code="store_locked_out",
            retry_after=int(LOCKOUT_WINDOW.total_seconds()),
        )


def _wrong(store: Store, actor: Any, code: str, ip: str | None, *, field: str = "code") -> ValidationFailed:
    WrongCode.objects.create(store=store, user=actor, code_tail=code[-4:], ip=ip if ip and ip != "unknown" else None)
    audit("voucher.wrong_code", actor=actor, obj=store, tail=code[-4:], ip=ip)
    if field == "password":
        return ValidationFailed.field("password", _("The password does not match."), code="wrong_password")
    return ValidationFailed.field("code", _("No voucher with this code can be used here."), code="unknown_code")


def _voucher_at(store: Store, code: str) -> Voucher | None:
    """The voucher of `code` if it is the store's merchant's, in one query (`_voucher_sql`)."""
    with connection.cursor() as cursor:
        cursor.execute(_voucher_sql(), [store.pk, code, store.merchant_id])
        row = cursor.fetchone()
    return None if row is None else _voucher_of(row, 0)


def _voucher_of(row: Any, at: int) -> Voucher | None:
    """The voucher in ``row[at:]`` as `_voucher_select` reads it (None where there is none): its
    deal, order, holder and used store carry only what the counter reads of them (their title,
    status, mobile and name, read with `core.rows.Columns`; anything else is read when asked for)."""
    found = []
    for columns in _voucher_columns():
        found.append(columns.instance(row, at))
        at += len(columns.names)
    v, v_deal, v_order, v_user, used_store = found
    if v is None:
        return None
    v.deal, v.order, v.user = v_deal, v_order, v_user
    if used_store is not None:
        v.used_store = used_store
    names_stores, names_store = row[at : at + 2]
    v.accepted_here = bool(names_store or not names_stores)
    return v  # type: ignore[no-any-return]


def _accepts(voucher: Voucher, store: Store) -> bool:
    """`Voucher.accepted_stores` as `_voucher_of` read it: the deal's stores, or every store of the
    merchant when the deal names none (the store is the voucher's merchant's)."""
    accepted = getattr(voucher, "accepted_here", None)
    if accepted is None:  # pragma: no cover - every voucher here comes from _voucher_of
        return voucher.accepted_stores().filter(pk=store.pk).exists()
    return bool(accepted)


def _find(store: Store, voucher: Voucher | None, *, actor: Any, code: str, ip: str | None) -> Voucher:
    """The attempt counted against the store's limit, a typo caught by the check digit, and the
    voucher of the code (`code` normalised, `voucher` as `_counter` read it); an unknown code
    counts towards the store's lockout (OWASP OAT-002)."""
    limit, window = getattr(settings, "VOUCHER_STORE_ATTEMPTS", STORE_ATTEMPTS)
    ratelimit.hit("voucher:store", str(store.pk), limit=limit, window=window)
    if not code:
        raise ValidationFailed.field("code", _("Enter the voucher code."), code="required")
    if not codes.is_well_formed(code):
        raise ValidationFailed.field(
            "code", _("This code has a typo: check the digits and try again."), code="code_typo"
        )
    if voucher is None:
        raise _wrong(store, actor, code, ip)
    return voucher


def voucher_lookup(*, actor: Any, code: str, store_id: int, ip: str | None = None) -> Voucher:
    """What a code is for, before the clerk confirms. A typo is caught by the check digit;
    an unknown code counts towards the store's lockout (OWASP OAT-002). The voucher carries
    its deal's title (not the rest of the deal) and the name of the store that used it."""
    normal = codes.normalise(code)
    store, voucher = _counter(actor=actor, store_id=store_id, code=normal)
    return _find(store, voucher, actor=actor, code=normal, ip=ip)


def voucher_verify(*, actor: Any, code: str, store_id: int, password: str = "", ip: str | None = None) -> Voucher:
    """驗證/消費: use a voucher at a store. A voucher is used once; two counters racing: one wins.

    Refuses a voucher outside its validity window, at a store that does not accept it, or with
    the wrong password (which counts as a wrong code). The race is decided by the engine's
    one-row move (`transition_row`: ``UPDATE … SET state = 'used', used_at … WHERE pk = %s AND
    state = 'issued'``, its log row and position, one statement): the second counter waits for
    the first's commit only, then moves nothing and is told why.
    """
    normal = codes.normalise(code)
    store, found = _counter(actor=actor, store_id=store_id, code=normal)
    voucher = _find(store, found, actor=actor, code=normal, ip=ip)
    if voucher.password and codes.normalise(password) != voucher.password:
        raise _wrong(store, actor, voucher.code, ip, field="password")
    _check_usable(voucher, store)
    with transaction.atomic():
        # before the time is read: a statement drafted meanwhile waits for this commit, or this
        # verification for the drafting, and so falls inside or after its cut-off (ADR 0014)
        from tuangou.settlement.services import verification_range_lock

        verification_range_lock(voucher.merchant_id)
        now = timezone.now()
        use = {"used_at": now, "used_store": store, "used_by": actor}
        if not transition_row(voucher, "verify", source="issued", actor=actor, values=use):
            _check_usable(_voucher_at(store, voucher.code) or voucher, store)  # says why: used already (where, when) …
            raise Conflict(_("This voucher cannot be used."), code="voucher_not_usable")
        redemption = Redemption(
            voucher=voucher,
            merchant_id=voucher.merchant_id,
            store=store,
            clerk=actor,
            amount=voucher.amount,
            units=voucher.units,
            verified_at=now,
        )
        insert_one(redemption)  # one plain INSERT … RETURNING, as save() would write it (ADR 0016)
        audit("voucher.verify", actor=actor, obj=voucher, store=store.pk, redemption=redemption.pk, ip=ip)
        message_send(
            to=voucher.user.mobile,
            template="voucher_verified",
            params={
                "code_tail": voucher.code[-4:],
                "deal": voucher.deal.title,
                "store": store.name,
                "when": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
            },
        )
    return voucher  # as the engine moved it: used, with its use


def _check_usable(voucher: Voucher, store: Store) -> None:
    if voucher.state == "issued" and voucher.order.status == "refunded":
        # The order's money went back (payments refunded it); its vouchers close when the
        # order.refunded event arrives, but the counter must not wait for that.
        raise Conflict(_("This voucher's order was refunded; it cannot be used."), code="voucher_refunded")
    if voucher.state in ("used", "settled"):
        when = timezone.localtime(voucher.used_at).strftime("%Y-%m-%d %H:%M") if voucher.used_at else ""
        raise Conflict(
            _("This voucher was already used at %(store)s on %(when)s.")
            % {"store": voucher.used_store.name if voucher.used_store else "?", "when": when},
            code="voucher_used",
        )
    if voucher.state != "issued":
        raise Conflict(
            _("This voucher is %(state)s and cannot be used.") % {"state": voucher.state_label},
            code="voucher_not_usable",
        )
    today = local_date()
    if today < voucher.valid_from:
        raise Conflict(
            _("This voucher can be used from %(day)s.") % {"day": voucher.valid_from.isoformat()},
            code="voucher_not_yet_valid",
        )
    if today > voucher.valid_until:
        raise Conflict(_("This voucher has expired."), code="voucher_expired")
    if not _accepts(voucher, store):
        raise Conflict(_("This voucher is not accepted at this store."), code="voucher_wrong_store")


def voucher_undo(*, actor: Any, voucher_id: int, reason: str) -> Voucher:
    """Take back a verification made by mistake, within the undo window (1 hour by default),
    with a reason, at the store where it was made (or by the merchant's admin). A voucher
    already on a settlement statement cannot be undone."""
    voucher = Voucher.objects.select_related("used_store").filter(pk=voucher_id).first()
    if voucher is None or voucher.used_store_id is None:
        raise NotFound()
    counter_store(actor=actor, store_id=voucher.used_store_id)  # 404 for anyone else
    if not reason.strip():
        raise ValidationFailed.field("reason", _("Please give a reason."), code="reason_required")
    if voucher.state == "settled":
        raise Conflict(_("This voucher is on a settlement statement and cannot be undone."), code="voucher_settled")
    if voucher.state != "used":
        raise Conflict(_("This voucher is not used."), code="voucher_not_used")
    now = timezone.now()
    since = now - undo_window()
    if voucher.used_at is None or voucher.used_at < since:
        raise Conflict(
            _("A verification can be undone within %(minutes)d minutes only.")
            % {"minutes": int(undo_window().total_seconds() // 60)},
            code="undo_window_passed",
        )
    with transaction.atomic():
        # Guard: still used, and used within the window, when the row is locked.
        locked = Voucher.objects.select_for_update().filter(pk=voucher.pk, state="used", used_at__gte=since).first()
        if locked is None:
            raise Conflict(_("This voucher changed meanwhile; look it up again."), code="voucher_changed")
        if voucher_on_statement(locked):  # drafted, if not yet marked settled (ADR 0014)
            raise Conflict(_("This voucher is on a settlement statement and cannot be undone."), code="voucher_settled")
        _move(
            voucher.pk,
            "undo",
            "used",
            actor=actor,
            note=reason.strip()[:200],
            documents=["undo_reason"],
            used_at=None,
            used_store=None,
            used_by=None,
        )
        Redemption.objects.filter(voucher=voucher, undone_at__isnull=True).update(
            undone_at=now, undone_by=actor, undo_reason=reason.strip()[:200]
        )
        audit("voucher.undo", actor=actor, obj=voucher, reason=reason.strip()[:200])
    voucher.refresh_from_db()
    return voucher


# --------------------------------------------------------------------------------------------
# Refunds and expiry


def voucher_refund(*, actor: Any, voucher_id: int) -> Voucher:
    """隨時退: the member gives back an unused voucher where the deal allows refunds before use."""
    voucher = Voucher.objects.select_related("deal").filter(pk=voucher_id, user_id=getattr(actor, "pk", 0)).first()
    if voucher is None:
        raise NotFound()
    if not voucher.deal.refund_anytime:
        raise Forbidden(_("This deal does not allow refunds before use."), code="refund_not_allowed")
    with transaction.atomic():
        if not _move(voucher.pk, "refund", "issued", actor=actor, closed_at=timezone.now()):
            raise Conflict(_("Only an unused voucher can be refunded."), code="voucher_not_usable")
        audit("voucher.refund", actor=actor, obj=voucher, amount=voucher.amount)
        _refund(voucher, reason="member_request", actor=actor)
    voucher.refresh_from_db()
    return voucher


def vouchers_close_for_refunded_order(*, order_id: int) -> int:
    """An order refunded in full (by the payments domain): its unused vouchers move to
    ``refunded`` (the platform does it; the money already went back), so none of them can be
    used afterwards. Used vouchers stay as they are. Idempotent: a second call moves nothing."""
    from tuangou.orders.models import Order

    if not Order.objects.filter(pk=order_id, status="refunded").exists():
        return 0
    moved = 0
    now = timezone.now()
    for voucher in Voucher.objects.filter(order_id=order_id, state="issued").order_by("pk"):
        with transaction.atomic():
            if _move(voucher.pk, "refund", "issued", note=_("order refunded"), closed_at=now):
                audit("voucher.refund", obj=voucher, order=order_id, reason="order_refunded")
                moved += 1
    return moved


def vouchers_expire_due(*, today: dt.date | None = None, limit: int = 1000) -> dict[str, int]:
    """The clock: vouchers past their validity expire; refunded where the deal says 過期退,
    lapsed otherwise. Idempotent: a second run finds nothing."""
    day = today or local_date()
    now = timezone.now()
    done = {"refunded": 0, "lapsed": 0}
    ids = list(
        Voucher.objects.filter(state="issued", valid_until__lt=day).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    for voucher in Voucher.objects.filter(pk__in=ids).select_related("deal").order_by("pk"):
        with transaction.atomic():
            if not _move(voucher.pk, "expire", "issued", closed_at=now):
                continue
            if voucher.deal.refund_on_expiry:
                _move(voucher.pk, "refund", "expired")
                _refund(voucher, reason="expired")
                done["refunded"] += 1
            else:
                _move(voucher.pk, "lapse", "expired")
                done["lapsed"] += 1
            audit("voucher.expire", obj=voucher, refunded=voucher.deal.refund_on_expiry)
    return done


def amount_of(vouchers: Iterable[Voucher]) -> Decimal:
    return money(sum((v.amount for v in vouchers), Decimal(0)))


def vouchers_settle(*, voucher_ids: Iterable[int], statement_number: str) -> list[int]:
    """The vouchers put on a settlement statement become ``settled`` (the platform records it).
    Returns the ids that were still ``used`` and moved (in primary-key order, so two callers
    never deadlock)."""
    return transition_many(Voucher, "settle", ids=voucher_ids, source="used", note=statement_number).moved


SETTLE_BATCH = 5000


def vouchers_settle_used(
    *, vouchers: models.QuerySet[Voucher], statement_number: str, batch: int = SETTLE_BATCH
) -> int:
    """The `vouchers` (of one settlement statement) still ``used`` become ``settled`` through the
    engine, `batch` at a time in key order, each batch its own transaction so that no lock is
    held long; returns how many moved. A voucher is on its statement by the statement's rule
    and cannot be undone from the drafting on (`voucher_on_statement`): this only records it,
    after the drafting. Idempotent."""
    moved = 0
    after = 0
    while True:
        with transaction.atomic():
            ids = list(vouchers.filter(state="used", pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                return moved
            moved += len(vouchers_settle(voucher_ids=ids, statement_number=statement_number))
        after = ids[-1]


def voucher_on_statement(voucher: Voucher) -> bool:
    """Whether the voucher's verification is on a settlement statement (drafted, so it can no
    longer be undone), whether or not the voucher is marked ``settled`` yet. Call it inside the
    transaction of the change: it waits for a drafting of the merchant's statement in progress."""
    from tuangou.settlement.services import statement_covering

    if voucher.state == "settled":
        return True
    if voucher.used_at is None:
        return False
    return statement_covering(merchant_id=voucher.merchant_id, used_at=voucher.used_at) is not None
