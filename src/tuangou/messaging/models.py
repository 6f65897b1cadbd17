"""訊息發件箱: every SMS (and later e-mail and in-site message) is a row here first."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OutboxMessage(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.SMS)
    to = models.CharField(_("recipient"), max_length=120, db_index=True)
    template = models.CharField(_("template"), max_length=60)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    provider_ref = models.CharField(_("provider reference"), max_length=120, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(pgettext_lazy("time", "sent"), null=True, blank=True)
    # Messages such as one-time codes are shown in the back office only while the console
    # provider is in use; `sensitive` keeps them out of any other listing.
    sensitive = models.BooleanField(_("contains a secret"), default=False)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel}:{self.to} {self.template} ({self.status})"

    @classmethod
    def owned_by(cls, user: Any) -> models.Q:
        from tuangou.accounts.roles import Role
        from tuangou.core.ownership import has_role

        if has_role(user, Role.OPERATOR):
            return models.Q()
        return models.Q(to=getattr(user, "mobile", None), sensitive=False)
