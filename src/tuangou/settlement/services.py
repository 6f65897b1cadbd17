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
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.accounts.roles import Role
from tuangou.core.audit import audit
from tuangou.core.errors import Conflict, NotFound, ValidationFailed
from tuangou.core.money import ZERO, MoneyField, money
from tuangou.core.ownership import has_role, require_role
from tuangou.core.time import local_date
from tuangou.core.workflow.engine import transition
from tuangou.merchants.models import Agreement, Merchant, MerchantMember
from tuangou.settlement.models import Dispute, DisputeComment, Statement, StatementLine, Tally
from tuangou.settlement.process import STATEMENT

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

    Verified basis: every voucher used in the period and not yet settled goes on it and becomes
    ``settled`` (it can no longer be undone). Sold basis: every voucher sold in the period, and
    as refunds every settled sale refunded in the period.
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
        # A new statement starts at the end of the cycle; drafting it is the first transition.
        statement = Statement.objects.create(
            merchant=merchant,
            period_start=period_start,
            period_end=period_end,
            basis=basis,
            number=f"ST{period_end:%Y%m%d}-{merchant.pk:05d}-{timezone.now():%H%M%S%f}",
            commission_kind=terms.kind,
            commission_rate=terms.rate,
            commission_per_person=terms.per_person,
        )
        _add_lines(statement, terms)
        _total(statement)
        statement = _transition(statement, "draft", actor=actor)
    return statement


def _add_lines(statement: Statement, terms: Terms) -> None:
    """The statement's lines, one per voucher, written in SQL (``INSERT … SELECT`` from the
    vouchers); the commission is then set per group of lines with the same deal, units and
    amount (a GROUP BY over the lines, `commission_for` once per group, one UPDATE per chunk of
    groups), so a line's commission is exactly what `commission_for` gives for its voucher."""
    from tuangou.vouchers.models import Voucher
    from tuangou.vouchers.services import vouchers_settle_used

    since, until = _bounds(statement.period_start, statement.period_end)
    mine = Voucher.objects.filter(merchant_id=statement.merchant_id)
    if statement.basis == Statement.Basis.VERIFIED:
        settled = vouchers_settle_used(
            merchant_id=statement.merchant_id, since=since, until=until, statement_number=statement.number
        )
        _insert_lines(statement, StatementLine.Kind.SALE, "used_at", until, ids=settled)
    else:
        on_sale_lines = StatementLine.objects.filter(kind=StatementLine.Kind.SALE).values("voucher")
        sold = mine.filter(issued_at__gte=since, issued_at__lt=until).exclude(pk__in=on_sale_lines)
        refunded = mine.filter(
            state="refunded", closed_at__gte=since, closed_at__lt=until, pk__in=on_sale_lines
        ).exclude(pk__in=StatementLine.objects.filter(kind=StatementLine.Kind.REFUND).values("voucher"))
        _insert_lines(statement, StatementLine.Kind.SALE, "issued_at", until, chosen=sold)
        _insert_lines(statement, StatementLine.Kind.REFUND, "closed_at", until, chosen=refunded)
    _set_commission(statement, terms)


def _insert_lines(
    statement: Statement,
    kind: str,
    at: str,
    until: dt.datetime,
    *,
    ids: list[int] | None = None,
    chosen: Any = None,
) -> None:
    """``INSERT INTO lines … SELECT … FROM vouchers`` for the vouchers `ids` or the queryset
    `chosen`, in voucher key order; the line's time is the voucher's `at` (else `until`)."""
    from tuangou.vouchers.models import Voucher

    lines, vouchers = StatementLine._meta.db_table, Voucher._meta.db_table
    qn = connection.ops.quote_name
    # identifiers from the models' metadata, values as parameters
    columns = f"statement_id, kind, voucher_id, order_id, deal_id, units, amount, commission, {qn('at')}"
    head = (
        f"INSERT INTO {qn(lines)} ({columns}) "  # noqa: S608
        f"SELECT %s, %s, v.id, v.order_id, v.deal_id, v.units, v.amount, 0, COALESCE(v.{qn(at)}, %s) "
        f"FROM {qn(vouchers)} v WHERE "
    )
    base: list[Any] = [statement.pk, kind, connection.ops.adapt_datetimefield_value(until)]
    with connection.cursor() as cursor:
        if chosen is not None:
            sub, params = chosen.values("pk").query.get_compiler(connection=connection).as_sql()
            cursor.execute(f"{head}v.id IN ({sub}) ORDER BY v.id", [*base, *params])
        elif ids and connection.vendor == "postgresql":
            cursor.execute(f"{head}v.id = ANY(%s) ORDER BY v.id", [*base, list(ids)])
        elif ids:
            step = max(1, min(5000, (connection.features.max_query_params or 999) - 10))
            for i in range(0, len(ids), step):
                chunk = ids[i : i + step]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"{head}v.id IN ({marks}) ORDER BY v.id", [*base, *chunk])


def _set_commission(statement: Statement, terms: Terms, *, chunk: int = 100) -> None:
    from tuangou.deals.models import Deal

    groups = list(statement.lines.values_list("deal_id", "units", "amount").distinct().order_by())
    deals = Deal.objects.in_bulk({g[0] for g in groups})
    owed = [
        (deal_id, units, amount, commission_for(amount=money(amount), units=units, deal=deals[deal_id], terms=terms))
        for deal_id, units, amount in groups
    ]
    owed = [g for g in owed if g[3] != ZERO]
    for i in range(0, len(owed), chunk):
        part = owed[i : i + chunk]
        statement.lines.filter(deal_id__in={g[0] for g in part}).update(
            commission=Case(
                *(When(deal_id=d, units=u, amount=a, then=Value(c)) for d, u, a, c in part),
                default=F("commission"),
                output_field=MoneyField(),
            )
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


def _ledger() -> Any:
    from tuangou.ledger import services as ledger

    return ledger


def _payments() -> Any:
    from tuangou.payments import services as payments

    return payments


def statement_approve(*, actor: Any, statement_id: int) -> Statement:
    """The operator approves: the statement's money leaves escrow for the merchant's payable,
    less the platform's commission — one balanced ledger transaction per order, idempotent."""
    require_role(actor, Role.OPERATOR)
    statement = _get(statement_id)
    ledger = _ledger()
    with transaction.atomic():
        statement = _transition(statement, "approve", actor=actor, approved_at=timezone.now(), approved_by=actor)
        groups = (
            statement.lines.values("order_id", "kind")
            .annotate(t_amount=Sum("amount"), t_commission=Sum("commission"), n=Count("pk"))
            .order_by("order_id", "kind")
        )
        for g in groups:
            amount, commission = money(g["t_amount"]), money(g["t_commission"])
            sign = Decimal(1) if g["kind"] == StatementLine.Kind.SALE else Decimal(-1)
            legs = [
                (ledger.ESCROW, sign * amount),
                (ledger.merchant(statement.merchant_id), -sign * (amount - commission)),
                (ledger.COMMISSION, -sign * commission),
            ]
            if amount != ZERO:
                ledger.ledger_post(
                    key=f"statement:{statement.pk}:order:{g['order_id']}:{g['kind']}",
                    kind="settlement",
                    order_id=g["order_id"],
                    legs=legs,
                    memo=statement.number,
                )
    return statement


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
    """The statement as an .xlsx: a summary sheet and one row per voucher."""
    from openpyxl import Workbook

    wb = Workbook()
    summary = wb.active
    summary.title = str(_("Statement"))
    rows: list[tuple[str, Any]] = [
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
    for label, value in rows:
        summary.append([str(label), value])
    lines = wb.create_sheet(str(_("Lines")))
    lines.append(
        [
            str(x)
            for x in (
                _("Kind"),
                _("Time"),
                _("Deal"),
                _("Order"),
                _("Voucher"),
                _("Units"),
                _("Amount"),
                _("Commission"),
            )
        ]
    )
    for line in statement.lines.select_related("deal", "order", "voucher").order_by("at", "pk"):
        lines.append(
            [
                line.kind,
                timezone.localtime(line.at).strftime("%Y-%m-%d %H:%M"),
                line.deal.title,
                line.order.number,
                line.voucher.code[-4:],
                line.units,
                line.amount,
                line.commission,
            ]
        )
    for sheet in (summary, lines):
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, Decimal):
                    cell.number_format = "#,##0.00"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


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
