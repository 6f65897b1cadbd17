import pytest

from tuangou.accounts.models import ApiToken
from tuangou.messaging.models import OutboxMessage

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_token_by_password_then_me(api, make_user):
    user = make_user("operator", mobile="13800138000")
    response = api.post("/api/v1/auth/token", {"mobile": "+86 138-0013-8000", "password": PASSWORD})
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    assert ApiToken.objects.filter(user=user).count() == 1
    api.token = token
    me = api.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["mobile"] == "13800138000"
    assert me.json()["roles"] == ["operator"]


def test_wrong_password_is_401_with_stable_code(api, make_user):
    make_user(mobile="13800138001")
    response = api.post("/api/v1/auth/token", {"mobile": "13800138001", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    assert ApiToken.objects.count() == 0


def test_missing_field_names_the_field_in_the_users_language(api):
    response = api.post("/api/v1/auth/token", {"mobile": "13800138000"}, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == {"password": ["This field is required."]}
    response = api.post("/api/v1/auth/token", {"mobile": "13800138000"}, headers={"Accept-Language": "zh-hant"})
    assert response.json()["errors"]["password"] == ["這個欄位是必須的。"]


def test_bad_mobile_is_a_field_error(api):
    response = api.post("/api/v1/auth/token", {"mobile": "12345", "password": "x"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["mobile"]
    assert response.json()["code"] == "invalid_mobile"


def test_me_needs_auth(api):
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_register_by_code_over_the_api(api, roles, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post("/api/v1/auth/code", {"mobile": "13912345678", "purpose": "register"})
    assert sent.status_code == 202
    message = OutboxMessage.objects.get(to="13912345678")
    assert message.status == OutboxMessage.Status.SENT  # console provider, delivered after commit
    code = message.params["code"]
    created = api.post(
        "/api/v1/auth/register", {"mobile": "13912345678", "code": code, "password": "a-long-passphrase-7"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["roles"] == ["member"]
    # the code works once
    again = api.post("/api/v1/auth/register", {"mobile": "13912345679", "code": code, "password": "x-long-pass-77"})
    assert again.status_code == 400


def test_openapi_document(api):
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in doc["paths"]
    assert "/api/v1/me" in doc["paths"]
