"""Core data: the audit log, the site's settings and its cities."""

from __future__ import annotations

import copy
import time
from typing import Any, ClassVar

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import Conflict


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: Any) -> int:
        raise Conflict(_("The audit log is append-only."), code="audit_append_only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise Conflict(_("The audit log is append-only."), code="audit_append_only")


class AuditLog(models.Model):
    """審計日誌: who did what to which object, when. Rows are only ever added.

    Updates and deletes are refused by the model and, on PostgreSQL, by a trigger.
    """

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT
    )
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise Conflict(_("The audit log is append-only."), code="audit_append_only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise Conflict(_("The audit log is append-only."), code="audit_append_only")


class SiteSettings(models.Model):
    """站點設置: one row. Site name and the filing numbers shown in every page's footer (S8 備案)."""

    name = models.CharField(_("site name"), max_length=80, default="團購")
    tagline = models.CharField(_("tagline"), max_length=200, blank=True)
    icp_number = models.CharField(_("ICP filing number"), max_length=80, blank=True)
    public_security_number = models.CharField(_("public security filing number"), max_length=80, blank=True)
    service_phone = models.CharField(_("customer service phone"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("site settings")
        verbose_name_plural = _("site settings")

    # `current()` is read on every page render and for every SMS: each process keeps the row for
    # CACHE_SECONDS. Saving or deleting it through the model forgets it in this process at once
    # (and again when the transaction commits); other processes see an edit within CACHE_SECONDS.
    # Only committed data is kept: not a row read inside a transaction that wrote the settings
    # itself (it may still roll back). A queryset update() or raw SQL bypasses all this.
    CACHE_SECONDS: ClassVar[float] = 30.0
    _cached: ClassVar[tuple[float, int, SiteSettings] | None] = None  # (expires, generation, row)
    _generation: ClassVar[int] = 0

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self._forget_now_and_on_commit()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        result = super().delete(*args, **kwargs)
        self._forget_now_and_on_commit()
        return result

    @classmethod
    def current(cls) -> SiteSettings:
        """The site's settings (created with defaults on first use); a copy the caller may change."""
        cached = cls._cached
        if cached is not None and cached[0] > time.monotonic() and cached[1] == cls._generation:
            return copy.copy(cached[2])
        generation = cls._generation
        obj = cls.objects.order_by("pk").first()
        if obj is None:
            obj = cls.objects.create()
            generation = cls._generation  # the row just created (kept only once committed)
        if generation == cls._generation and not _settings_written_in_transaction():
            cls._cached = (time.monotonic() + cls.CACHE_SECONDS, generation, copy.copy(obj))
        return obj

    @classmethod
    def forget(cls, **_signal: Any) -> None:
        """Drop this process's copy (also a post_migrate receiver: a test database flush)."""
        cls._generation += 1
        cls._cached = None

    def _forget_now_and_on_commit(self) -> None:
        SiteSettings.forget()
        transaction.on_commit(SiteSettings.forget, using=self._state.db)


def _settings_written_in_transaction() -> bool:
    """Whether the open transaction saved or deleted the settings (its forget() awaits the commit)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return False
    return any(func == SiteSettings.forget for _sids, func, _robust in connection.run_on_commit)


models.signals.post_migrate.connect(SiteSettings.forget, dispatch_uid="tuangou.core.SiteSettings.forget")


class City(models.Model):
    """城市: deals are sold per city."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=40)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.name


# The workflow engine's transition log lives with the engine; importing it here registers it
# with the core app (one table for every process).
from tuangou.core.workflow.models import TransitionLog  # noqa: E402, F401
