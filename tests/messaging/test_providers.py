"""Aliyun and Tencent SMS adapters against local stand-ins that verify their signatures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.messaging.standins import aliyun as aliyun_standin
from tests.messaging.standins import tencent as tencent_standin
from tests.messaging.standins.base import StandIn
from tuangou.messaging.providers import PROVIDERS, get_provider
from tuangou.messaging.providers.aliyun import AliyunSmsProvider
from tuangou.messaging.providers.http import SmsProviderError, parse_templates
from tuangou.messaging.providers.tencent import TencentSmsProvider

PARAMS = {"code": "1234 5678 9012 3", "deal": "火鍋雙人餐", "until": "2026-12-31"}


@pytest.fixture
def aliyun_server() -> Iterator[StandIn]:
    with aliyun_standin.server() as server:
        yield server


@pytest.fixture
def tencent_server() -> Iterator[StandIn]:
    with tencent_standin.server() as server:
        yield server


def _aliyun(server: StandIn, secret: str = aliyun_standin.ACCESS_KEY_SECRET) -> AliyunSmsProvider:
    return AliyunSmsProvider(
        access_key_id=aliyun_standin.ACCESS_KEY_ID,
        access_key_secret=secret,
        sign_name="團購網",
        endpoint=server.url,
        templates="voucher_issued=SMS_100001:code|deal|until",
    )


def _tencent(server: StandIn, secret: str = tencent_standin.SECRET_KEY) -> TencentSmsProvider:
    return TencentSmsProvider(
        secret_id=tencent_standin.SECRET_ID,
        secret_key=secret,
        sdk_app_id="1400000000",
        sign_name="團購網",
        endpoint=server.url,
        templates="voucher_issued=200001:deal|code|until",
    )


def test_both_are_registered() -> None:
    assert PROVIDERS["aliyun"] is AliyunSmsProvider
    assert PROVIDERS["tencent"] is TencentSmsProvider
    assert get_provider("aliyun").name == "aliyun"


def test_aliyun_sends_a_signed_request(aliyun_server: StandIn) -> None:
    result = _aliyun(aliyun_server).send(to="13800000000", text="…", template="voucher_issued", params=PARAMS)
    assert result.provider_ref == "biz-1"
    [received] = aliyun_server.received
    assert received["PhoneNumbers"] == "13800000000"
    assert received["SignName"] == "團購網"
    assert received["TemplateCode"] == "SMS_100001"
    assert json.loads(received["TemplateParam"]) == PARAMS


def test_aliyun_wrong_secret_is_refused_by_the_service(aliyun_server: StandIn) -> None:
    with pytest.raises(SmsProviderError) as info:
        _aliyun(aliyun_server, secret="wrong").send(
            to="13800000000", text="…", template="voucher_issued", params=PARAMS
        )
    assert info.value.code == "SignatureDoesNotMatch"
    assert aliyun_server.received == []
    assert aliyun_server.rejected == ["SignatureDoesNotMatch"]


def test_tencent_sends_a_signed_request(tencent_server: StandIn) -> None:
    result = _tencent(tencent_server).send(to="13800000000", text="…", template="voucher_issued", params=PARAMS)
    assert result.provider_ref == "serial-1"
    [payload] = tencent_server.received
    assert payload["PhoneNumberSet"] == ["+8613800000000"]
    assert payload["SmsSdkAppId"] == "1400000000"
    assert payload["TemplateId"] == "200001"
    assert payload["TemplateParamSet"] == ["火鍋雙人餐", "1234 5678 9012 3", "2026-12-31"]


def test_tencent_wrong_secret_is_refused_by_the_service(tencent_server: StandIn) -> None:
    with pytest.raises(SmsProviderError) as info:
        _tencent(tencent_server, secret="wrong").send(
            to="13800000000", text="…", template="voucher_issued", params=PARAMS
        )
    assert info.value.code == "AuthFailure.SignatureFailure"
    assert tencent_server.received == []


def test_unmapped_template_and_missing_credentials_fail_clearly(tencent_server: StandIn) -> None:
    with pytest.raises(SmsProviderError, match="otp_login"):
        _tencent(tencent_server).send(to="13800000000", text="…", template="otp_login", params={})
    with pytest.raises(SmsProviderError, match="not configured"):
        TencentSmsProvider(secret_id="", secret_key="", sdk_app_id="", sign_name="", templates="").send(
            to="1", text="", template="x", params={}
        )


def test_unreachable_service_is_a_retryable_error() -> None:
    provider = AliyunSmsProvider(
        access_key_id="a",
        access_key_secret="b",
        sign_name="c",
        endpoint="http://127.0.0.1:9",
        templates="voucher_issued=SMS_1",
    )
    with pytest.raises(SmsProviderError) as info:
        provider.send(to="1", text="", template="voucher_issued", params={})
    assert info.value.code == "network"


def test_template_mapping_is_parsed_and_checked() -> None:
    parsed = parse_templates("a=SMS_1:x|y; b=2")
    assert parsed["a"].id == "SMS_1" and parsed["a"].params == ("x", "y")
    assert parsed["b"].params == ()
    with pytest.raises(ValueError, match="name=ID"):
        parse_templates("broken")


@pytest.mark.django_db
def test_outbox_delivers_through_a_cloud_provider(
    aliyun_server: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tuangou.messaging import services
    from tuangou.messaging.models import OutboxMessage

    monkeypatch.setitem(PROVIDERS, "aliyun", lambda: _aliyun(aliyun_server))
    settings.SMS_PROVIDER = "aliyun"  # type: ignore[attr-defined]
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(
            to="13800000001",
            template="voucher_issued",
            params={"deal": "D", "code": "C", "password_text": "", "valid_from": "a", "valid_until": "b", "until": "b"},
        )
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.provider == "aliyun" and message.provider_ref == "biz-1"
