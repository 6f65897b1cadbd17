"""The transition log: one table for every process (流程記錄).

Each row is one allowed transition of one object: which process, from which state to which,
by which action, who did it and when, the note and the documents attached. Rows are only
ever added. A row that moves an object *to* a step starts a visit; the object's next row
(whose `from_state` is that step) ends it and records when it began and how long it lasted.
`ProcessPosition` keeps, per object, the step it is at now and since when.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import Conflict


class TransitionLogQuerySet(models.QuerySet["TransitionLog"]):
    def update(self, **kwargs: Any) -> int:
        raise Conflict(_("The transition log is append-only."), code="transition_log_append_only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise Conflict(_("The transition log is append-only."), code="transition_log_append_only")

    def for_object(self, obj: models.Model) -> TransitionLogQuerySet:
        return self.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


class TransitionLog(models.Model):
    """流程記錄: one transition of one object in a declared process. Append-only."""

    process = models.CharField(_("process"), max_length=64)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(_("object id"))
    from_state = models.CharField(_("from"), max_length=40)
    to_state = models.CharField(_("to"), max_length=40)
    action = models.CharField(_("action"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty when the platform itself (its clock) performed the transition."),
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    # When the object entered `from_state` (the time of its previous transition in this process)
    # and how long it stayed there, written by the engine under the row lock. They make the
    # step statistics aggregates over indexes instead of a window over every object's history.
    entered_at = models.DateTimeField(_("entered the step at"), null=True, blank=True)
    waited = models.FloatField(_("seconds at the step"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    documents = models.JSONField(_("documents"), default=dict, blank=True)

    objects = TransitionLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("transition")
        verbose_name_plural = _("transition log")
        ordering = ["at", "id"]
        indexes = [
            # one object's path, and the LEAD() window of the step statistics
            models.Index(
                fields=["process", "content_type", "object_id", "at", "id"],
                name="wf_log_object_path",
            ),
            # visits entering each step (and how many of them before a cut-off)
            models.Index(fields=["process", "to_state", "at"], name="wf_log_step"),
            # visits leaving each step, in order of time spent: percentiles without a sort
            # (entered_at as a key column, not INCLUDE: SQLite has no covering indexes)
            models.Index(fields=["process", "from_state", "waited", "entered_at"], name="wf_log_step_left"),
        ]

    def __str__(self) -> str:
        return f"{self.process} #{self.object_id}: {self.from_state} → {self.to_state} ({self.action})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise Conflict(_("The transition log is append-only."), code="transition_log_append_only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise Conflict(_("The transition log is append-only."), code="transition_log_append_only")


class ProcessPosition(models.Model):
    """流程位置: where each object is in its process now, and since when (one row per object).

    Written by the engine with every transition, under the object's row lock. It answers "how
    many wait at each step now, and how many of them too long" by reading the objects that
    wait, not the whole history.
    """

    process = models.CharField(_("process"), max_length=64)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(_("object id"))
    state = models.CharField(_("step"), max_length=40)
    since = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("process position")
        verbose_name_plural = _("process positions")
        constraints = [
            models.UniqueConstraint(fields=["process", "content_type", "object_id"], name="wf_position_one_per_object")
        ]
        indexes = [models.Index(fields=["process", "state", "since"], name="wf_position_step")]

    def __str__(self) -> str:
        return f"{self.process} #{self.object_id}: {self.state} since {self.since:%Y-%m-%d %H:%M}"
