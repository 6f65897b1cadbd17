"""Bearer tokens: one statement per authenticated API request, and every refusal still refuses."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.statements import Statements
from tuangou.accounts import services
from tuangou.accounts.models import ApiToken
from tuangou.accounts.roles import Role

pytestmark = pytest.mark.django_db


def _get(client, path, key):
    with Statements() as queries:
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {key}")
    return response, queries.sql


def test_an_authenticated_api_call_reads_the_token_user_and_roles_in_one_statement(client, make_user):
    user = make_user(Role.MEMBER)
    services.user_grant_role(user=user, role=Role.MERCHANT)
    key = services.api_token_create(user=user)

    response, sql = _get(client, "/api/v1/me", key)  # first use: also records last_used_at
    assert response.status_code == 200
    assert len(sql) == 2 and "UPDATE" in sql[1].upper()

    response, sql = _get(client, "/api/v1/me", key)
    assert response.status_code == 200
    assert response.json()["roles"] == sorted([Role.MEMBER.value, Role.MERCHANT.value])
    assert response.json()["mobile"] == user.mobile
    assert len(sql) == 1, sql  # the token, the user and the user's roles; no write within 5 minutes


def test_a_user_without_roles_has_none(client, make_user):
    user = make_user(None)
    key = services.api_token_create(user=user)
    assert services.api_token_user(key) == user
    response, _sql = _get(client, "/api/v1/me", key)
    assert response.status_code == 200
    assert response.json()["roles"] == []


def test_the_user_is_built_with_proper_types(member):
    key = services.api_token_create(user=member)
    user = services.api_token_user(key)
    assert user is not None and user.pk == member.pk
    assert user.is_active is True and user.is_superuser is False
    assert user.date_joined == member.date_joined
    assert user.check_password("correct-horse-battery-9")
    assert not user._state.adding


def test_last_use_is_written_at_most_every_five_minutes(member):
    key = services.api_token_create(user=member)
    token = ApiToken.objects.get(user=member)
    assert token.last_used_at is None
    services.api_token_user(key)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    services.api_token_user(key)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=6))
    services.api_token_user(key)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=1)
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_unknown_revoked_and_inactive_are_refused(client, member):
    key = services.api_token_create(user=member)
    assert _get(client, "/api/v1/me", key)[0].status_code == 200

    assert services.api_token_user(key + "x") is None
    assert _get(client, "/api/v1/me", key + "x")[0].status_code == 401

    member.is_active = False
    member.save(update_fields=["is_active"])
    assert services.api_token_user(key) is None
    assert _get(client, "/api/v1/me", key)[0].status_code == 401

    member.is_active = True
    member.save(update_fields=["is_active"])
    ApiToken.objects.filter(user=member).delete()  # revoked (also what a password reset does)
    assert services.api_token_user(key) is None
    assert _get(client, "/api/v1/me", key)[0].status_code == 401


def test_a_token_authenticates_only_its_own_user(make_user):
    alice, bob = make_user(Role.MEMBER), make_user(Role.OPERATOR)
    key_a = services.api_token_create(user=alice)
    key_b = services.api_token_create(user=bob)
    user_a, user_b = services.api_token_user(key_a), services.api_token_user(key_b)
    assert user_a == alice and user_b == bob
    assert user_a._tuangou_roles == frozenset({Role.MEMBER.value})
    assert user_b._tuangou_roles == frozenset({Role.OPERATOR.value})
