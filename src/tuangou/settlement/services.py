"""Settlement statements (結算單) and reconciliation (對賬): every change of state, one function each.

Amounts come from SQL aggregates over the statement's lines grouped by order and deal; the
commission rule is applied per group in Decimal (yuan, half up), so the statement, its Excel
export and the ledger postings agree to the cent.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.accounts.roles import Role
from tuangou.core.audit import audit
from tuangou.core.errors import Conflict, NotFound, ValidationFailed
from tuangou.core.excel import MONEY_FORMAT, Book
from tuangou.core.jobs import enqueue
from tuangou.core.locks import xact_lock
from tuangou.core.money import ZERO, money
from tuangou.core.ownership import has_role, require_role
from tuangou.core.time import local_date
from tuangou.core.workflow.engine import transition
from tuangou.merchants.models import Agreement, Merchant, MerchantMember
from tuangou.settlement.models import Dispute, DisputeComment, Statement, StatementLine, Tally
from tuangou.settlement.process import STATEMENT

# a voucher used at a store, whether or not already marked settled
USED = ("used", "settled")

# --------------------------------------------------------------------------------------------
# Periods


def period_containing(cycle: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The settlement period of `cycle` that contains `day` (both ends inclusive)."""
    if cycle == Agreement.Cycle.WEEKLY:
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    last = calendar.monthrange(day.year, day.month)[1]
    if cycle == Agreement.Cycle.SEMIMONTHLY:
        if day.day <= 15:
            return day.replace(day=1), day.replace(day=15)
        return day.replace(day=16), day.replace(day=last)
    return day.replace(day=1), day.replace(day=last)


def previous_period(cycle: str, today: dt.date) -> tuple[dt.date, dt.date]:
    start, _end = period_containing(cycle, today)
    return period_containing(cycle, start - dt.timedelta(days=1))


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


# --------------------------------------------------------------------------------------------
# Commission


@dataclass(frozen=True)
class Terms:
    kind: str
    rate: Decimal
    per_person: Decimal


def commission_for(*, amount: Decimal, units: int, deal: Any, terms: Terms) -> Decimal:
    """The platform's share of `amount` for `units` of one deal.

    A deal's settlement price (結算價) wins: the merchant gets that per unit. Otherwise the
    agreement's rule: a rate of sales (the deal's override rate first), or an amount per person
    (S4 按人數獲得提成; one voucher unit is one person served). Never below zero nor above the amount.
    """
    if deal.settlement_price is not None:
        share = amount - deal.settlement_price * units
    elif terms.kind == Agreement.CommissionKind.PER_PERSON:
        share = terms.per_person * units
    else:
        rate = deal.commission_rate if deal.commission_rate is not None else terms.rate
        share = amount * rate / Decimal(100)
    return money(min(max(money(share), ZERO), amount))


def _terms(merchant: Merchant, day: dt.date) -> Terms:
    agreement = Agreement.current_for(merchant, day) or (
        Agreement.objects.filter(merchant=merchant, signed_at__isnull=False).order_by("-valid_until").first()
    )
    if agreement is None:
        raise Conflict(_("This merchant has no signed agreement."), code="no_agreement")
    return Terms(agreement.commission_kind, agreement.commission_rate, agreement.commission_per_person)


# --------------------------------------------------------------------------------------------
# Drafting


def _transition(
    statement: Statement, action: str, *, actor: Any, note: str = "", documents: Any = None, **values: Any
) -> Statement:
    """A declared transition through the workflow engine, which checks the actor's lane (or
    ownership) and the note, and logs it. The row is locked only while it is still in the
    state the caller saw, so of two people acting at once the second is told it changed."""
    locked = Statement.objects.select_for_update().filter(pk=statement.pk, state=statement.state).first()
    if locked is None:
        raise Conflict(_("This statement changed meanwhile; reload it."), code="statement_changed")
    source = locked.state
    log = transition(locked, action, actor=actor, note=note, documents=documents, process=STATEMENT)
    if values:
        Statement.objects.filter(pk=statement.pk).update(**values)
    audit(f"statement.{action}", actor=actor, obj=statement, source=source, target=log.to_state, note=note)
    statement.refresh_from_db()
    return statement


def statement_generate(
    *,
    merchant_id: int,
    period_start: dt.date,
    period_end: dt.date,
    basis: str = Statement.Basis.VERIFIED,
    actor: Any = None,
) -> Statement:
    """Draft the statement of one merchant for one period; a second call returns the first.

    The statement is an aggregate over a closed range of time (ADR 0014): verified basis, the
    merchant's vouchers used in [since, cut-off); sold basis, those sold in it, and as refunds
    those refunded in it whose sale is on a statement. The cut-off is the period's end, or now
    if the period has not ended (a later verification goes on the statement of the next period,
    whose range starts at this cut-off). One merchant's ranges never overlap (checked with the
    merchant's row locked), so no voucher is on two statements, and a voucher on a statement
    cannot be undone (`statement_covering`). The lines come from one GROUP BY over the vouchers;
    those of a verified statement become ``settled`` in the background after commit.
    """
    if actor is not None:
        require_role(actor, Role.OPERATOR)
    if period_end < period_start:
        raise ValidationFailed.field("period_end", _("The end is before the start."), code="period_order")
    if basis not in Statement.Basis.values:
        raise ValidationFailed.field("basis", _("This value is not valid."), code="invalid_choice")
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise NotFound()
    existing = Statement.objects.filter(merchant=merchant, period_start=period_start, period_end=period_end).first()
    if existing is not None:
        return existing
    terms = _terms(merchant, period_end)
    with transaction.atomic():
        # One drafting per merchant at a time, and none beside a verification or an undo in
        # flight (`verification_range_lock`); other writes to the merchant are not held up.
        _lock_merchant(merchant.pk)
        existing = Statement.objects.filter(merchant=merchant, period_start=period_start, period_end=period_end).first()
        if existing is not None:
            return existing
        since, until = _bounds(period_start, period_end)
        cut_off = max(since, min(until, timezone.now()))
        # what the statement of the adjoining period, drafted before that period ended, left out
        previous = (
            Statement.objects.filter(merchant=merchant, basis=basis, period_end=period_start - dt.timedelta(days=1))
            .order_by("-pk")
            .first()
        )
        if previous is not None and previous.cut_off < since:
            since = previous.cut_off
        if Statement.objects.filter(merchant=merchant, since__lt=cut_off, cut_off__gt=since).exists():
            raise Conflict(_("This period overlaps a statement of this merchant."), code="statement_overlap")
        # A new statement starts at the end of the cycle; drafting it is the first transition.
        statement = Statement.objects.create(
            merchant=merchant,
            period_start=period_start,
            period_end=period_end,
            basis=basis,
            since=since,
            cut_off=cut_off,
            number=f"ST{period_end:%Y%m%d}-{merchant.pk:05d}-{timezone.now():%H%M%S%f}",
            commission_kind=terms.kind,
            commission_rate=terms.rate,
            commission_per_person=terms.per_person,
        )
        _add_lines(statement, terms)
        _total(statement)
        statement = _transition(statement, "draft", actor=actor)
        if basis == Statement.Basis.VERIFIED:
            enqueue("settlement.settle_vouchers", statement_id=statement.pk)
    return statement


STATEMENT_RANGE = "settlement.statement_range"


def _lock_merchant(merchant_id: int) -> None:
    """The drafting side of the merchant's range lock: exclusive, so it waits until every
    verification and undo in flight has committed, and those that come later wait for it (and
    a second drafting for the first)."""
    xact_lock(STATEMENT_RANGE, merchant_id)


def verification_range_lock(merchant_id: int) -> None:
    """The verifying side: shared (counters do not wait for each other), taken before the time
    of a verification or an undo is read, so that a statement's cut-off is never taken while a
    verification that falls before it is still uncommitted (it would be on no statement)."""
    xact_lock(STATEMENT_RANGE, merchant_id, shared=True)


def statement_covering(*, merchant_id: int, used_at: dt.datetime) -> Statement | None:
    """The verified statement whose range holds a verification at `used_at`, if any. Call it in
    the transaction that would change such a verification (an undo): it holds the merchant's
    range lock (shared; drafting holds it exclusive), so the undo waits for a drafting in
    progress and then sees its statement, or the drafting waits for the undo and does not count
    the voucher."""
    verification_range_lock(merchant_id)
    return (
        Statement.objects.filter(
            merchant_id=merchant_id, basis=Statement.Basis.VERIFIED, since__lte=used_at, cut_off__gt=used_at
        )
        .order_by("pk")
        .first()
    )


def statement_vouchers(statement: Statement, kind: str = StatementLine.Kind.SALE) -> QuerySet[Any]:
    """The vouchers on `statement` (its sales, or its refunds), by the statement's rule.

    Verified basis: the merchant's vouchers used in [since, cut-off). Sold basis: sold in it;
    refunds: refunded in it, their sale on a sold statement of the merchant (this one or an
    earlier one). A voucher already on an earlier statement of the other basis is left out, so
    that a merchant whose basis changed is not paid twice. The rule refers only to this
    statement and earlier ones, and the vouchers it names cannot leave it (a used voucher on a
    statement cannot be undone), so it names the same vouchers at every reading.
    """
    from tuangou.vouchers.models import Voucher

    mine = Voucher.objects.filter(merchant_id=statement.merchant_id)
    earlier = Statement.objects.filter(merchant_id=statement.merchant_id, pk__lt=statement.pk)
    if kind == StatementLine.Kind.REFUND:
        if statement.basis != Statement.Basis.SOLD:
            return mine.none()
        sold = Q(issued_at__gte=statement.since, issued_at__lt=statement.cut_off)
        for s_since, s_cut_off in earlier.filter(basis=Statement.Basis.SOLD).values_list("since", "cut_off"):
            sold |= Q(issued_at__gte=s_since, issued_at__lt=s_cut_off)
        return mine.filter(sold, state="refunded", closed_at__gte=statement.since, closed_at__lt=statement.cut_off)
    other = list(earlier.exclude(basis=statement.basis).values_list("since", "cut_off"))
    if statement.basis == Statement.Basis.VERIFIED:
        chosen = mine.filter(state__in=USED, used_at__gte=statement.since, used_at__lt=statement.cut_off)
        for o_since, o_cut_off in other:
            chosen = chosen.exclude(issued_at__gte=o_since, issued_at__lt=o_cut_off)
        return chosen
    chosen = mine.filter(issued_at__gte=statement.since, issued_at__lt=statement.cut_off)
    for o_since, o_cut_off in other:
        chosen = chosen.exclude(state__in=USED, used_at__gte=o_since, used_at__lt=o_cut_off)
    return chosen


def _add_lines(statement: Statement, terms: Terms) -> None:
    """The statement's lines from one ``GROUP BY`` over its vouchers per kind (by deal, store,
    units and amount per voucher): `commission_for` once per group, times its vouchers, so a
    line's commission is the sum of what `commission_for` gives for each of its vouchers."""
    from tuangou.deals.models import Deal

    store = "used_store_id" if statement.basis == Statement.Basis.VERIFIED else None
    lines: list[StatementLine] = []
    for kind in (StatementLine.Kind.SALE, StatementLine.Kind.REFUND):
        if kind == StatementLine.Kind.REFUND and statement.basis != Statement.Basis.SOLD:
            continue
        groups = list(
            statement_vouchers(statement, kind)
            .values("deal_id", "units", "amount", *([store] if store else []))
            .annotate(n=Count("pk"))
            .order_by()
        )
        deals = Deal.objects.in_bulk({g["deal_id"] for g in groups})
        for g in groups:
            price = money(g["amount"])
            each = commission_for(amount=price, units=g["units"], deal=deals[g["deal_id"]], terms=terms)
            lines.append(
                StatementLine(
                    statement=statement,
                    kind=kind,
                    deal_id=g["deal_id"],
                    store_id=g[store] if store else None,
                    price=price,
                    vouchers=g["n"],
                    units=g["units"] * g["n"],
                    amount=price * g["n"],
                    commission=each * g["n"],
                )
            )
    lines.sort(key=lambda ln: (ln.kind, ln.deal_id, ln.store_id or 0, ln.price, ln.units))
    StatementLine.objects.bulk_create(lines)


def statement_settle_vouchers(*, statement_id: int) -> int:
    """The vouchers of a verified statement move to ``settled`` through the engine, in short
    transactions of a batch each, after the statement is drafted (a job). They are on the
    statement by its rule already, and cannot be undone from the drafting on; this records it
    on each voucher. Idempotent: a second run moves nothing."""
    from tuangou.vouchers.services import vouchers_settle_used

    statement = Statement.objects.filter(pk=statement_id, basis=Statement.Basis.VERIFIED).first()
    if statement is None:
        return 0
    return vouchers_settle_used(
        vouchers=statement_vouchers(statement).filter(state="used"), statement_number=statement.number
    )


def statements_settle_pending(*, days: int = 62) -> int:
    """The clock: the vouchers of verified statements drafted in the last `days` days that are
    still not marked ``settled`` (a job lost with a worker) are marked now; returns how many."""
    recent = Statement.objects.filter(
        basis=Statement.Basis.VERIFIED, created_at__gte=timezone.now() - dt.timedelta(days=days)
    ).order_by("pk")
    return sum(
        statement_settle_vouchers(statement_id=st.pk)
        for st in recent
        if statement_vouchers(st).filter(state="used").exists()
    )


def _total(statement: Statement) -> None:
    """gross − refunds − commission = payable, from SQL sums over the lines."""
    sums = statement.lines.aggregate(
        t_units=Sum("units", filter=Q(kind="sale")),
        t_gross=Sum("amount", filter=Q(kind="sale")),
        t_refund_units=Sum("units", filter=Q(kind="refund")),
        t_refunds=Sum("amount", filter=Q(kind="refund")),
        t_commission=Sum("commission", filter=Q(kind="sale")),
        t_commission_back=Sum("commission", filter=Q(kind="refund")),
    )
    gross = money(sums["t_gross"] or ZERO)
    refunds = money(sums["t_refunds"] or ZERO)
    commission = money(sums["t_commission"] or ZERO) - money(sums["t_commission_back"] or ZERO)
    Statement.objects.filter(pk=statement.pk).update(
        units=sums["t_units"] or 0,
        gross=gross,
        refund_units=sums["t_refund_units"] or 0,
        refunds=refunds,
        commission=commission,
        payable=gross - refunds - commission,
    )
    statement.refresh_from_db()


def statements_generate_due(*, today: dt.date | None = None) -> int:
    """The clock: each merchant with a signed agreement gets the statement of its last finished cycle."""
    day = today or local_date()
    made = 0
    signed = Agreement.objects.filter(signed_at__isnull=False, valid_from__lte=day)
    for agreement in signed.select_related("merchant").order_by("merchant_id", "-valid_from"):
        start, end = previous_period(agreement.settlement_cycle, day)
        if end < agreement.valid_from or start > agreement.valid_until:
            continue
        if Statement.objects.filter(merchant_id=agreement.merchant_id, period_end__gte=start).exists():
            continue
        statement_generate(merchant_id=agreement.merchant_id, period_start=start, period_end=end)
        made += 1
    return made


# --------------------------------------------------------------------------------------------
# Confirm, dispute, approve, pay


def _get(statement_id: int) -> Statement:
    statement = Statement.objects.filter(pk=statement_id).first()
    if statement is None:
        raise NotFound()
    return statement


def statement_confirm(*, actor: Any, statement_id: int) -> Statement:
    """The merchant's admin agrees with the statement (a clerk or another merchant: 404)."""
    statement = _get(statement_id)
    owner = STATEMENT.owner is not None and STATEMENT.owner(statement, actor)
    if not owner and not has_role(actor, Role.OPERATOR, Role.FINANCE):
        raise NotFound()
    with transaction.atomic():
        return _transition(statement, "confirm", actor=actor, confirmed_at=timezone.now(), confirmed_by=actor)


def statement_dispute(*, actor: Any, statement_id: int, note: str) -> Statement:
    statement = _get(statement_id)
    if not STATEMENT.owner or not STATEMENT.owner(statement, actor):
        raise NotFound()
    with transaction.atomic():
        return _transition(
            statement, "dispute", actor=actor, note=note, documents=["dispute_note"], dispute_note=note.strip()[:2000]
        )


def statement_recompute(*, actor: Any, statement_id: int) -> Statement:
    """After a dispute the operator recomputes the totals and sends the statement back as a draft."""
    require_role(actor, Role.OPERATOR)
    statement = _get(statement_id)
    with transaction.atomic():
        _total(statement)
        return _transition(statement, "recompute", actor=actor)


def _payments() -> Any:
    from tuangou.payments import services as payments

    return payments


def statement_approve(*, actor: Any, statement_id: int) -> Statement:
    """The operator approves: the statement's money leaves escrow for the merchant's payable,
    less the platform's commission, through `payments.escrow_release_many` — one balanced
    ledger transaction per order and kind (its vouchers on the statement, grouped in SQL),
    never more than the order holds in escrow, idempotent by key, posted in bulk (ADR 0018).
    The orders' sums must make the statement's lines."""
    require_role(actor, Role.OPERATOR)
    statement = _get(statement_id)
    payments = _payments()
    with transaction.atomic():
        statement = _transition(statement, "approve", actor=actor, approved_at=timezone.now(), approved_by=actor)
        terms = Terms(statement.commission_kind, statement.commission_rate, statement.commission_per_person)
        releases = []
        for kind, sign in ((StatementLine.Kind.SALE, Decimal(1)), (StatementLine.Kind.REFUND, Decimal(-1))):
            orders = _per_order(statement, kind, terms)
            line_sums = statement.lines.filter(kind=kind).aggregate(a=Sum("amount"), c=Sum("commission"))
            if sum((a for a, _c in orders.values()), ZERO) != money(line_sums["a"] or ZERO) or sum(
                (c for _a, c in orders.values()), ZERO
            ) != money(line_sums["c"] or ZERO):
                raise Conflict(_("This statement changed meanwhile; reload it."), code="statement_changed")
            releases += [
                payments.Release(
                    order_id=order_id,
                    amount=sign * amount,
                    commission=sign * commission,
                    key=f"statement:{statement.pk}:order:{order_id}:{kind}",
                )
                for order_id, (amount, commission) in sorted(orders.items())
                if amount != ZERO
            ]
        payments.escrow_release_many(
            merchant_id=statement.merchant_id, releases=releases, kind="settlement", memo=statement.number
        )
    return statement


def _per_order(statement: Statement, kind: str, terms: Terms) -> dict[int, tuple[Decimal, Decimal]]:
    """Amount and commission per order of the statement's vouchers of `kind`."""
    from tuangou.deals.models import Deal

    groups = list(
        statement_vouchers(statement, kind)
        .values("order_id", "deal_id", "units", "amount")
        .annotate(n=Count("pk"))
        .order_by()
    )
    deals = Deal.objects.in_bulk({g["deal_id"] for g in groups})
    each: dict[tuple[int, int, Decimal], Decimal] = {}
    orders: dict[int, tuple[Decimal, Decimal]] = {}
    for g in groups:
        key = (g["deal_id"], g["units"], money(g["amount"]))
        if key not in each:
            each[key] = commission_for(amount=key[2], units=key[1], deal=deals[key[0]], terms=terms)
        amount, commission = orders.get(g["order_id"], (ZERO, ZERO))
        orders[g["order_id"]] = (amount + key[2] * g["n"], commission + each[key] * g["n"])
    return orders


def statement_pay(*, actor: Any, statement_id: int, reference: str) -> Statement:
    """Finance records the payout: merchant payable → paid out, in the ledger."""
    require_role(actor, Role.FINANCE)
    if not reference.strip():
        raise ValidationFailed.field("reference", _("Enter the bank transfer reference."), code="required")
    statement = _get(statement_id)
    with transaction.atomic():
        statement = _transition(
            statement,
            "pay",
            actor=actor,
            documents={"payout_slip": reference.strip()[:80]},
            paid_at=timezone.now(),
            paid_by=actor,
            payout_reference=reference.strip()[:80],
        )
        if statement.payable > ZERO:
            _payments().merchant_payout(
                merchant_id=statement.merchant_id,
                amount=statement.payable,
                key=f"payout:statement:{statement.pk}",
                memo=statement.number,
                actor=actor,
            )
    return statement


# --------------------------------------------------------------------------------------------
# Excel


def statement_workbook(statement: Statement) -> bytes:
    """The statement as an .xlsx: a summary sheet, its lines, and one row per voucher."""
    book = Book(decimal_format=MONEY_FORMAT)
    summary: list[tuple[str, Any]] = [
        (_("Statement number"), statement.number),
        (_("Merchant"), statement.merchant.name),
        (_("Period"), f"{statement.period_start} – {statement.period_end}"),
        (_("Basis"), str(statement.get_basis_display())),
        (_("Units"), statement.units),
        (_("Amount"), statement.gross),
        (_("Refunds"), statement.refunds),
        (_("Commission"), statement.commission),
        (_("Payable"), statement.payable),
        (_("State"), statement.state),
    ]
    book.sheet(_("Statement"), None, ([str(label), value] for label, value in summary))
    book.sheet(
        _("Lines"),
        (_("Kind"), _("Deal"), _("Store"), _("Price"), _("Vouchers"), _("Units"), _("Amount"), _("Commission")),
        (
            [
                line.kind,
                line.deal.title,
                line.store.name if line.store else "",
                line.price,
                line.vouchers,
                line.units,
                line.amount,
                line.commission,
            ]
            for line in statement.lines.select_related("deal", "store").order_by("kind", "deal", "store", "price", "pk")
        ),
    )
    book.sheet(
        _("Vouchers"),
        (_("Kind"), _("Time"), _("Deal"), _("Order"), _("Voucher"), _("Units"), _("Amount"), _("Commission")),
        _voucher_rows(statement),
    )
    return book.to_bytes()


def _voucher_rows(statement: Statement) -> Iterator[list[Any]]:
    """One row per voucher on the statement (by the rule), sales then refunds, with its commission."""
    terms = Terms(statement.commission_kind, statement.commission_rate, statement.commission_per_person)
    each: dict[tuple[int, int, Decimal], Decimal] = {}
    at = {StatementLine.Kind.SALE: "used_at", StatementLine.Kind.REFUND: "closed_at"}
    if statement.basis == Statement.Basis.SOLD:
        at[StatementLine.Kind.SALE] = "issued_at"
    for kind in (StatementLine.Kind.SALE, StatementLine.Kind.REFUND):
        chosen = statement_vouchers(statement, kind).select_related("deal", "order").order_by(at[kind], "pk")
        for v in chosen.iterator(chunk_size=2000):
            key = (v.deal_id, v.units, v.amount)
            if key not in each:
                each[key] = commission_for(amount=v.amount, units=v.units, deal=v.deal, terms=terms)
            when = getattr(v, at[kind])
            yield [
                kind,
                timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else "",
                v.deal.title,
                v.order.number,
                v.code[-4:],
                v.units,
                v.amount,
                each[key],
            ]


# --------------------------------------------------------------------------------------------
# Reconciliation (對賬)


def _require_merchant_admin(actor: Any, merchant_id: int) -> None:
    if not MerchantMember.objects.filter(
        user_id=getattr(actor, "pk", 0), merchant_id=merchant_id, store__isnull=True
    ).exists():
        raise NotFound()


def _parse_units(value: Any, field: str) -> int:
    try:
        units = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationFailed.field(field, _("Enter a whole number."), code="invalid_number") from None
    if units < 0:
        raise ValidationFailed.field(field, _("Enter a number of zero or more."), code="negative")
    return units


def _parse_amount(value: Any, field: str) -> Decimal:
    try:
        amount = money(str(value).strip())
    except (ValueError, InvalidOperation):
        raise ValidationFailed.field(field, _("Enter an amount like 19.90."), code="invalid_amount") from None
    if amount < ZERO:
        raise ValidationFailed.field(field, _("Enter an amount of zero or more."), code="negative")
    return amount


def _parse_day(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed.field(field, _("Enter a date like 2026-01-31."), code="invalid_date") from None


def tally_record(*, actor: Any, merchant_id: int, day: Any, units: Any, amount: Any, note: str = "") -> Tally:
    """商家記錄銷售情況: the merchant's own count for one day (recording again replaces it)."""
    _require_merchant_admin(actor, merchant_id)
    day_, units_, amount_ = _parse_day(day, "day"), _parse_units(units, "units"), _parse_amount(amount, "amount")
    if day_ > local_date():
        raise ValidationFailed.field("day", _("This day is in the future."), code="future_day")
    with transaction.atomic():
        tally, _created = Tally.objects.update_or_create(
            merchant_id=merchant_id,
            day=day_,
            defaults={"units": units_, "amount": amount_, "note": note[:200], "recorded_by": actor},
        )
        audit("tally.record", actor=actor, obj=tally, units=units_, amount=amount_)
    return tally


def tally_import(*, actor: Any, merchant_id: int, filename: str, content: bytes) -> int:
    """Upload a CSV or Excel file with columns day, units, amount[, note]; all rows or none."""
    _require_merchant_admin(actor, merchant_id)
    rows: list[list[Any]]
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        except Exception:
            raise ValidationFailed.field("file", _("This is not an Excel file."), code="bad_file") from None
        rows = [list(r) for r in sheet.iter_rows(values_only=True)] if sheet is not None else []
    elif filename.lower().endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed.field("file", _("Save the CSV file as UTF-8."), code="bad_encoding") from None
        rows = list(csv.reader(io.StringIO(text)))
    else:
        raise ValidationFailed.field("file", _("Upload a .csv or .xlsx file."), code="bad_file_type")
    rows = [r for r in rows if any(c not in (None, "") for c in r)]
    if rows and str(rows[0][0]).strip().lower() in ("day", "date", "日期"):
        rows = rows[1:]
    if not rows:
        raise ValidationFailed.field("file", _("The file has no rows."), code="empty_file")
    with transaction.atomic():
        for i, row in enumerate(rows, start=1):
            if len(row) < 3:
                raise ValidationFailed.field(
                    "file", _("Row %(n)d needs day, units and amount.") % {"n": i}, code="bad_row"
                )
            try:
                tally_record(
                    actor=actor,
                    merchant_id=merchant_id,
                    day=row[0],
                    units=row[1],
                    amount=row[2],
                    note=str(row[3] or "") if len(row) > 3 else "",
                )
            except ValidationFailed as exc:
                detail = "; ".join(m for msgs in exc.errors.values() for m in msgs)
                raise ValidationFailed.field(
                    "file", _("Row %(n)d: %(error)s") % {"n": i, "error": detail}, code="bad_row"
                ) from exc
    return len(rows)


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    platform_units: int
    platform_amount: Decimal
    merchant_units: int | None
    merchant_amount: Decimal | None
    dispute_id: int | None

    @property
    def differs(self) -> bool:
        return self.merchant_units is not None and (
            self.merchant_units != self.platform_units or self.merchant_amount != self.platform_amount
        )


def reconciliation(*, merchant_id: int, start: dt.date, end: dt.date) -> list[DayRow]:
    """與團購網購買核對: per day, the platform's verifications (undone ones left out) beside the
    merchant's tally; days on which either has something."""
    from django.db.models.functions import TruncDate

    from tuangou.vouchers.models import Redemption

    since, until = _bounds(start, end)
    platform = {
        r["day"]: (r["t_units"] or 0, money(r["t_amount"] or ZERO))
        for r in Redemption.objects.filter(
            merchant_id=merchant_id, undone_at__isnull=True, verified_at__gte=since, verified_at__lt=until
        )
        .annotate(day=TruncDate("verified_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(t_units=Sum("units"), t_amount=Sum("amount"))
    }
    tallies = {t.day: t for t in Tally.objects.filter(merchant_id=merchant_id, day__gte=start, day__lte=end)}
    disputes = dict(
        Dispute.objects.filter(
            merchant_id=merchant_id, day__gte=start, day__lte=end, state=Dispute.State.OPEN
        ).values_list("day", "pk")
    )
    days = sorted(set(platform) | set(tallies))
    return [
        DayRow(
            day=d,
            platform_units=platform.get(d, (0, ZERO))[0],
            platform_amount=platform.get(d, (0, ZERO))[1],
            merchant_units=tallies[d].units if d in tallies else None,
            merchant_amount=tallies[d].amount if d in tallies else None,
            dispute_id=disputes.get(d),
        )
        for d in days
    ]


def dispute_open(*, actor: Any, merchant_id: int, day: Any, comment: str) -> Dispute:
    """The merchant disputes a day whose figures differ; one open dispute per day."""
    _require_merchant_admin(actor, merchant_id)
    day_ = _parse_day(day, "day")
    if not comment.strip():
        raise ValidationFailed.field("comment", _("Say what is wrong."), code="required")
    [row] = reconciliation(merchant_id=merchant_id, start=day_, end=day_) or [None]  # type: ignore[list-item]
    if row is None or not row.differs:
        raise Conflict(_("The figures of this day agree; there is nothing to dispute."), code="no_difference")
    if row.dispute_id:
        raise Conflict(_("This day is already disputed."), code="dispute_open")
    with transaction.atomic():
        dispute = Dispute.objects.create(
            merchant_id=merchant_id,
            day=day_,
            platform_units=row.platform_units,
            platform_amount=row.platform_amount,
            merchant_units=row.merchant_units or 0,
            merchant_amount=row.merchant_amount or ZERO,
            opened_by=actor,
        )
        DisputeComment.objects.create(dispute=dispute, author=actor, text=comment.strip())
        audit("dispute.open", actor=actor, obj=dispute)
    return dispute


def _visible_dispute(actor: Any, dispute_id: int) -> Dispute:
    from tuangou.core.ownership import get_visible

    return get_visible(Dispute.objects.all(), actor, pk=dispute_id)


def dispute_comment(*, actor: Any, dispute_id: int, text: str) -> DisputeComment:
    dispute = _visible_dispute(actor, dispute_id)
    if not text.strip():
        raise ValidationFailed.field("text", _("Write a comment."), code="required")
    if dispute.state != Dispute.State.OPEN:
        raise Conflict(_("This dispute is resolved."), code="dispute_resolved")
    comment = DisputeComment.objects.create(dispute=dispute, author=actor, text=text.strip())
    audit("dispute.comment", actor=actor, obj=dispute)
    return comment


def dispute_resolve(*, actor: Any, dispute_id: int, resolution: str) -> Dispute:
    """An operator closes the dispute with what was found and done."""
    require_role(actor, Role.OPERATOR)
    dispute = _visible_dispute(actor, dispute_id)
    if not resolution.strip():
        raise ValidationFailed.field("resolution", _("Say how it was resolved."), code="required")
    with transaction.atomic():
        if not Dispute.objects.filter(pk=dispute.pk, state=Dispute.State.OPEN).update(
            state=Dispute.State.RESOLVED, resolved_by=actor, resolved_at=timezone.now(), resolution=resolution.strip()
        ):
            raise Conflict(_("This dispute is resolved."), code="dispute_resolved")
        DisputeComment.objects.create(dispute=dispute, author=actor, text=resolution.strip())
        audit("dispute.resolve", actor=actor, obj=dispute)
    dispute.refresh_from_db()
    return dispute
