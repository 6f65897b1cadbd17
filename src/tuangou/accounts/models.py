"""Accounts keyed by mobile number, one-time codes and API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tuangou.accounts.mobile import normalize_mobile


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, mobile: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(mobile=normalize_mobile(mobile), **extra)
        if extra.get("email"):
            user.email = self.normalize_email(extra["email"])
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, mobile: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(mobile, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """會員與員工: everyone signs in with a mainland mobile number (stored as 11 digits)."""

    mobile = models.CharField(_("mobile number"), max_length=11, unique=True)
    email = models.EmailField(_("e-mail"), blank=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=60, blank=True)
    is_active = models.BooleanField(_("active"), default=True)  # type: ignore[misc]
    is_staff = models.BooleanField(_("may use the Django admin"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    language = models.CharField(_("language"), max_length=10, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "mobile"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["mobile"]

    def __str__(self) -> str:
        return self.name or self.mobile

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        return models.Q() if has_role(user, Role.OPERATOR) else models.Q(pk=user.pk)


class OneTimeCode(models.Model):
    """簡訊驗證碼: a six-digit code sent by SMS; only its hash is kept."""

    class Purpose(models.TextChoices):
        LOGIN = "login", _("sign in")
        REGISTER = "register", _("registration")
        RESET = "reset", _("password reset")

    mobile = models.CharField(_("mobile number"), max_length=11, db_index=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    used_at = models.DateTimeField(pgettext_lazy("time", "used"), null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [models.Index(fields=["mobile", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.mobile} {self.purpose}"


class ApiToken(models.Model):
    """A bearer token for API clients. Only the SHA-256 of the key is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.user} {self.name}"
