import pytest
from django.contrib.auth.models import Group

from tuangou.accounts import services
from tuangou.accounts.models import ApiToken, OneTimeCode, User
from tuangou.accounts.roles import ROLE_PERMISSIONS, Role
from tuangou.core.errors import AuthenticationFailed, RateLimited, ValidationFailed
from tuangou.messaging.models import OutboxMessage

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _code(mobile: str) -> str:
    return OutboxMessage.objects.filter(to=mobile).latest("created_at").params["code"]


def test_every_role_is_a_group_with_its_permissions(roles):
    for role in Role:
        group = Group.objects.get(name=role.value)
        have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert have == ROLE_PERMISSIONS[role], role


def test_register_login_by_code_and_reset(roles, settings, django_capture_on_commit_callbacks):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "otp:mobile": (10, 60)}
    with django_capture_on_commit_callbacks(execute=True):
        services.otp_request(mobile="13700000001", purpose="register", ip="1.1.1.1")
    user = services.user_register(
        mobile="13700000001", password="a-long-passphrase-7", code=_code("13700000001"), ip="1.1.1.1"
    )
    assert user.groups.filter(name="member").exists()
    assert user.check_password("a-long-passphrase-7")

    services.otp_request(mobile="13700000001", purpose="login", ip="1.1.1.2")
    assert services.login_code(mobile="13700000001", code=_code("13700000001"), ip="1.1.1.2") == user

    services.otp_request(mobile="13700000001", purpose="reset", ip="1.1.1.3")
    services.api_token_create(user=user)
    services.password_reset(mobile="13700000001", code=_code("13700000001"), password="new-passphrase-88", ip="1.1.1.3")
    user.refresh_from_db()
    assert user.check_password("new-passphrase-88")
    assert ApiToken.objects.filter(user=user).count() == 0  # tokens die with the old password


def test_codes_go_only_where_they_make_sense(member):
    # no registration code for a number that is taken, no login code for an unknown number
    services.otp_request(mobile=member.mobile, purpose="register", ip="1.1.1.1")
    services.otp_request(mobile="13700000009", purpose="login", ip="1.1.1.1")
    assert OutboxMessage.objects.count() == 0


def test_wrong_codes_are_limited(member):
    services.otp_request(mobile=member.mobile, purpose="login", ip="2.2.2.2")
    for _ in range(5):
        with pytest.raises(ValidationFailed) as info:
            services.login_code(mobile=member.mobile, code="000000x", ip=f"3.3.3.{_}")
        assert "code" in info.value.errors
    real = _code(member.mobile)
    with pytest.raises(ValidationFailed) as info:  # too many wrong tries: even the right code is dead
        services.otp_verify(mobile=member.mobile, purpose="login", code=real)
    assert info.value.code == "otp_expired"


def test_code_requests_are_rate_limited_per_number(member):
    services.otp_request(mobile=member.mobile, purpose="login", ip="4.4.4.4")
    with pytest.raises(RateLimited):
        services.otp_request(mobile=member.mobile, purpose="login", ip="4.4.4.5")
    assert OneTimeCode.objects.filter(mobile=member.mobile).count() == 1


def test_password_logins_are_rate_limited(member):
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            services.login_password(mobile=member.mobile, password="wrong", ip="5.5.5.5")
    with pytest.raises(RateLimited) as info:
        services.login_password(mobile=member.mobile, password=PASSWORD, ip="5.5.5.6")
    assert "minute" in str(info.value.message) or "分鐘" in str(info.value.message)


def test_registration_validates_fields_and_changes_nothing(roles):
    with pytest.raises(ValidationFailed) as info:
        services.user_register(mobile="1234", password="a-long-passphrase-7", code="1", ip="6.6.6.6")
    assert list(info.value.errors) == ["mobile"]
    with pytest.raises(ValidationFailed) as info:
        services.user_register(mobile="13700000002", password="123", code="1", ip="6.6.6.6")
    assert list(info.value.errors) == ["password"]
    assert User.objects.count() == 0
