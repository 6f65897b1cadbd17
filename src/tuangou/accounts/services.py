"""Accounts: registration, sign-in by password or one-time code, password reset, API tokens, roles.

Every rule a user can trip over raises an AppError naming the field, and changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tuangou.accounts.mobile import normalize_mobile
from tuangou.accounts.models import ApiToken, OneTimeCode, User
from tuangou.accounts.roles import ROLE_PERMISSIONS, Role
from tuangou.core import ratelimit
from tuangou.core.audit import audit
from tuangou.core.errors import AuthenticationFailed, ValidationFailed
from tuangou.core.rows import Columns
from tuangou.messaging.services import message_send


def clean_mobile(value: str, *, field: str = "mobile") -> str:
    try:
        return normalize_mobile(value)
    except ValidationError as exc:
        raise ValidationFailed.field(field, exc.messages[0], code="invalid_mobile") from exc


def _clean_password(password: str, user: User | None = None, *, field: str = "password") -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(errors={field: exc.messages}, code="weak_password") from exc


def _code_hash(mobile: str, purpose: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{mobile}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def otp_request(*, mobile: str, purpose: str, ip: str, language: str | None = None) -> OneTimeCode:
    """Send a six-digit code by SMS. Limited per number (1 a minute, 5 an hour) and per IP.

    For sign-in and reset the number must belong to an account; for registration it must not.
    The reply does not reveal which: the code is simply not sent (no account enumeration).
    """
    mobile = clean_mobile(mobile)
    if purpose not in OneTimeCode.Purpose.values:
        raise ValidationFailed.field("purpose", _("Unknown purpose."))
    ratelimit.hit("otp:ip", ip)
    ratelimit.hit("otp:mobile", mobile)
    ratelimit.hit("otp:mobile:hour", mobile)
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        otp = OneTimeCode.objects.create(
            mobile=mobile,
            purpose=purpose,
            code_hash=_code_hash(mobile, purpose, code),
            expires_at=timezone.now() + timedelta(seconds=settings.OTP_TTL_SECONDS),
        )
        exists = User.objects.filter(mobile=mobile, is_active=True).exists()
        should_send = exists if purpose != OneTimeCode.Purpose.REGISTER else not exists
        if should_send:
            message_send(
                to=mobile,
                template=f"otp_{purpose}",
                params={"code": code, "minutes": settings.OTP_TTL_SECONDS // 60},
                language=language,
            )
    return otp


def otp_verify(*, mobile: str, purpose: str, code: str, field: str = "code") -> None:
    """Consume the newest unexpired code for (mobile, purpose); each code works once and allows
    a limited number of wrong guesses."""
    code = (code or "").strip()
    with transaction.atomic():
        otp = (
            OneTimeCode.objects.select_for_update()
            .filter(mobile=mobile, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now())
            .order_by("-created_at", "-pk")
            .first()
        )
        if otp is None or otp.attempts >= settings.OTP_MAX_ATTEMPTS:
            raise ValidationFailed.field(
                field, _("The code has expired. Please request a new one."), code="otp_expired"
            )
        if not hmac.compare_digest(otp.code_hash, _code_hash(mobile, purpose, code)):
            OneTimeCode.objects.filter(pk=otp.pk).update(attempts=F("attempts") + 1)
            wrong = ValidationFailed.field(field, _("The code is not correct."), code="otp_wrong")
        else:
            OneTimeCode.objects.filter(pk=otp.pk).update(used_at=timezone.now())
            return
    raise wrong


def user_register(
    *, mobile: str, password: str, code: str, name: str = "", email: str = "", ip: str = "", language: str = ""
) -> User:
    """會員註冊: a mobile number proved by an SMS code, and a password."""
    ratelimit.hit("register:ip", ip)
    mobile = clean_mobile(mobile)
    if User.objects.filter(mobile=mobile).exists():
        raise ValidationFailed.field("mobile", _("This mobile number is already registered."), code="mobile_taken")
    _clean_password(password, User(mobile=mobile, name=name, email=email))
    otp_verify(mobile=mobile, purpose=OneTimeCode.Purpose.REGISTER, code=code)
    with transaction.atomic():
        user = User.objects.create_user(mobile, password, name=name, email=email, language=language)
        user.groups.add(Group.objects.get(name=Role.MEMBER))
        audit("account.registered", actor=user, obj=user, ip=ip)
    return user


def login_password(*, mobile: str, password: str, ip: str, request: Any = None) -> User:
    """Sign in by password. Rate-limited per number and per IP; the error never says which part
    was wrong."""
    mobile = clean_mobile(mobile)
    ratelimit.hit("login:ip", ip)
    ratelimit.hit("login:mobile", mobile)
    user = authenticate(request, mobile=mobile, password=password)
    if user is None:
        raise AuthenticationFailed(_("Mobile number or password is not correct."), code="bad_credentials")
    ratelimit.reset("login:mobile", mobile)
    audit("account.login", actor=user, obj=user, ip=ip, method="password")
    return user  # type: ignore[return-value]


def login_code(*, mobile: str, code: str, ip: str) -> User:
    """Sign in by SMS code."""
    mobile = clean_mobile(mobile)
    ratelimit.hit("login:ip", ip)
    ratelimit.hit("login:mobile", mobile)
    otp_verify(mobile=mobile, purpose=OneTimeCode.Purpose.LOGIN, code=code)
    user = User.objects.filter(mobile=mobile, is_active=True).first()
    if user is None:  # a code is never sent to an unknown number, so this is only a guess
        raise ValidationFailed.field("code", _("The code is not correct."), code="otp_wrong")
    audit("account.login", actor=user, obj=user, ip=ip, method="code")
    return user


def password_reset(*, mobile: str, code: str, password: str, ip: str) -> User:
    """Reset a forgotten password with a code sent to the account's number."""
    mobile = clean_mobile(mobile)
    user = User.objects.filter(mobile=mobile, is_active=True).first()
    _clean_password(password, user)
    otp_verify(mobile=mobile, purpose=OneTimeCode.Purpose.RESET, code=code)
    if user is None:
        raise ValidationFailed.field("code", _("The code is not correct."), code="otp_wrong")
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        ApiToken.objects.filter(user=user).delete()
        audit("account.password_reset", actor=user, obj=user, ip=ip)
    return user


def _token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str = "") -> str:
    """Issue a bearer token; the key is returned once and only its hash is kept."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=_token_hash(key), name=name[:60])
    return key


@dataclass(frozen=True)
class Alongside:
    """A read that rides on the bearer token's statement, one round trip instead of two
    (`api_token_user_with`): its select list, its ``LEFT JOIN``s (only left joins: the token's
    rows must stay as they are; they may name the token's user as ``u.id``; aliases other than
    ``t``, ``u``, ``ug``, ``g``) and the joins' parameters, in order. Its strings are built once
    per process, as the rest of the statement."""

    columns: str
    joins: str
    params: tuple[Any, ...]


@functools.cache
def _token_user_sql(columns: str = "", joins: str = "") -> tuple[str, Columns, Columns]:
    """The statement behind `api_token_user` and the columns it selects (core.rows): the
    token's id and last use, the group's name, the user's columns, and `columns` of `joins`
    (an `Alongside`).

    One row per group of the user (one row with a NULL group when there is none), times the
    rows of `joins`."""
    qn = connection.ops.quote_name
    token = Columns.of(ApiToken, "t", only=("last_used_at",))
    user = Columns.of(User, "u")
    membership = User.groups.through._meta
    sql = (
        f"SELECT {token.sql}, g.{qn('name')}, {user.sql}{', ' if columns else ''}{columns}"  # noqa: S608 - names from _meta, quoted
        f" FROM {qn(ApiToken._meta.db_table)} t"
        f" JOIN {qn(User._meta.db_table)} u ON u.{qn('id')} = t.{qn('user_id')}"
        f" LEFT JOIN {qn(membership.db_table)} ug ON ug.{qn('user_id')} = u.{qn('id')}"
        f" LEFT JOIN {qn(Group._meta.db_table)} g ON g.{qn('id')} = ug.{qn('group_id')}"
        f"{' ' if joins else ''}{joins}"
        f" WHERE t.{qn('key_hash')} = %s"
    )
    return sql, token, user


def api_token_user(key: str) -> User | None:
    """The active user owning the bearer token `key`, or None (unknown or revoked key, inactive user).

    Runs on every API request, so it is one plain parametrised statement rather than an ORM
    query (building the querysets and their SQL cost about 2 ms of CPU, more than the rest of a
    small request): the token's id and last use, the user's columns and the user's role names,
    which are cached on the user as `core.ownership.roles_of` does, so a role check costs no
    further query. The last use is written at most every 5 minutes."""
    return api_token_user_with(key, None)[0]


def api_token_user_with(key: str, alongside: Alongside | None) -> tuple[User | None, list[tuple[Any, ...]]]:
    """`api_token_user`, with the rows of `alongside` read in the same statement (its columns
    of each row, in the order of its joins; none when there is no such active user). A request
    that reads something of its own right after the token (a join reads the deal and the
    member's Idempotency-Key, ADR 0017) saves a round trip."""
    sql, token_columns, user_columns = _token_user_sql(*((alongside.columns, alongside.joins) if alongside else ()))
    params = [*alongside.params, _token_hash(key)] if alongside else [_token_hash(key)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None, []
    token_id, last_used_at = token_columns.values(rows[0])
    group = len(token_columns.names)
    user: User = user_columns.instance(rows[0], group + 1)
    if not user.is_active:
        return None, []
    now = timezone.now()
    if last_used_at is None or now - last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    user._tuangou_roles = frozenset(row[group] for row in rows if row[group] is not None)  # type: ignore[attr-defined]
    if alongside is None:
        return user, []
    start, first = group + 1 + len(user_columns.names), rows[0][group]
    return user, [row[start:] for row in rows if row[group] == first]  # each group repeats them


def roles_sync() -> None:
    """Create one group per role and give it exactly the permissions ROLE_PERMISSIONS lists."""
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        wanted = ROLE_PERMISSIONS.get(role, set())
        perms = []
        for label in sorted(wanted):
            app_label, codename = label.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)


def user_grant_role(*, user: User, role: str) -> None:
    user.groups.add(Group.objects.get(name=Role(role).value))
    if hasattr(user, "_tuangou_roles"):
        del user._tuangou_roles
