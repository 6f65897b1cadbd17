"""/api/v1/auth/… and /api/v1/me: tokens, registration, one-time codes."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from tuangou.accounts import services
from tuangou.accounts.models import OneTimeCode
from tuangou.api.schemas import ERRORS, ErrorOut
from tuangou.core.ownership import roles_of
from tuangou.core.ratelimit import client_ip

router = Router(tags=["accounts"])


class TokenIn(Schema):
    mobile: str = Field(examples=["13800000000"])
    password: str


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


class CodeIn(Schema):
    mobile: str
    purpose: OneTimeCode.Purpose


class CodeOut(Schema):
    sent: bool
    expires_at: datetime


class TokenByCodeIn(Schema):
    mobile: str
    code: str


class RegisterIn(Schema):
    mobile: str
    code: str
    password: str
    name: str = Field("", max_length=60)
    email: str = Field("", max_length=254)


class ResetIn(Schema):
    mobile: str
    code: str
    password: str


class MeOut(Schema):
    id: int
    mobile: str
    name: str
    email: str
    roles: list[str]


def _me(user: object) -> MeOut:
    return MeOut(
        id=user.pk,  # type: ignore[attr-defined]
        mobile=user.mobile,  # type: ignore[attr-defined]
        name=user.name,  # type: ignore[attr-defined]
        email=user.email,  # type: ignore[attr-defined]
        roles=sorted(roles_of(user)),
    )


@router.post("/auth/token", auth=None, response={201: TokenOut, **ERRORS}, summary="Get a token by password")
def token_by_password(request: HttpRequest, payload: TokenIn) -> Status:
    user = services.login_password(mobile=payload.mobile, password=payload.password, ip=client_ip(request))
    return Status(201, TokenOut(token=services.api_token_create(user=user, name="api")))


@router.post("/auth/code", auth=None, response={202: CodeOut, **ERRORS}, summary="Send a one-time code by SMS")
def code_request(request: HttpRequest, payload: CodeIn) -> Status:
    otp = services.otp_request(
        mobile=payload.mobile, purpose=payload.purpose, ip=client_ip(request), language=request.LANGUAGE_CODE
    )
    return Status(202, CodeOut(sent=True, expires_at=otp.expires_at))


@router.post("/auth/token/code", auth=None, response={201: TokenOut, **ERRORS}, summary="Get a token by SMS code")
def token_by_code(request: HttpRequest, payload: TokenByCodeIn) -> Status:
    user = services.login_code(mobile=payload.mobile, code=payload.code, ip=client_ip(request))
    return Status(201, TokenOut(token=services.api_token_create(user=user, name="api-code")))


@router.post("/auth/register", auth=None, response={201: MeOut, **ERRORS}, summary="Register a member")
def register(request: HttpRequest, payload: RegisterIn) -> Status:
    user = services.user_register(
        mobile=payload.mobile,
        password=payload.password,
        code=payload.code,
        name=payload.name,
        email=payload.email,
        ip=client_ip(request),
        language=request.LANGUAGE_CODE,
    )
    return Status(201, _me(user))


@router.post("/auth/password-reset", auth=None, response={204: None, **ERRORS}, summary="Reset a password by code")
def password_reset(request: HttpRequest, payload: ResetIn) -> Status:
    services.password_reset(mobile=payload.mobile, code=payload.code, password=payload.password, ip=client_ip(request))
    return Status(204, None)


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="The signed-in user")
def me(request: HttpRequest) -> MeOut:
    return _me(request.user)
