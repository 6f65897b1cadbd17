"""Reads the surfaces share (pages, API, command line): diagrams by format, one object's path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models

from tuangou.accounts.roles import BACK_OFFICE_ROLES
from tuangou.core.errors import NotFound
from tuangou.core.ownership import get_visible, require_role

from .declaration import Process
from .engine import StateField
from .models import TransitionLog
from .registry import ProcessNotFound
from .registry import get as get_process
from .render_bpmn import render_bpmn
from .render_mermaid import render_mermaid
from .render_svg import Highlight, render_svg

#: format → (file extension, content type)
FORMATS: dict[str, tuple[str, str]] = {
    "svg": ("svg", "image/svg+xml; charset=utf-8"),
    "bpmn": ("bpmn", "application/xml; charset=utf-8"),
    "mermaid": ("mmd", "text/plain; charset=utf-8"),
}


def process_or_404(name: str) -> Process:
    try:
        return get_process(name)
    except ProcessNotFound:
        raise NotFound() from None


def diagram(process: Process, fmt: str, *, highlight: Highlight | None = None) -> str:
    if fmt == "svg":
        return render_svg(process, highlight=highlight)
    if fmt == "bpmn":
        return render_bpmn(process)
    if fmt == "mermaid":
        return render_mermaid(process)
    raise ValueError(f"unknown diagram format {fmt!r}; choose from {', '.join(FORMATS)}")


def governed(process: Process) -> tuple[type[models.Model], str] | None:
    """The model (and its field) whose state this process governs.

    A `StateField` bound to the process; failing that, a model named in ``data_stores`` with
    a field whose choices are exactly the process's states (a model not yet on StateField).
    """
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, StateField) and field.process_name == process.name:
                return model, field.attname
    states = set(process.states)
    for label in process.data_stores:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue
        for field in model._meta.concrete_fields:
            if field.choices and {str(c[0]) for c in field.flatchoices} == states:
                return model, field.attname
    return None


@dataclass
class Instance:
    """One object's path through its process."""

    process: Process
    obj: models.Model
    current: str
    steps: list[TransitionLog]

    @property
    def highlight(self) -> Highlight:
        return Highlight.from_steps(
            self.process, [(s.from_state, s.to_state, s.action) for s in self.steps], current=self.current
        )

    def svg(self) -> str:
        return render_svg(self.process, highlight=self.highlight)


def instance(process: Process, object_id: int, user: Any) -> Instance:
    """`object_id`'s path, for a back-office user who may see that object (404 otherwise)."""
    require_role(user, *BACK_OFFICE_ROLES)
    found = governed(process)
    if found is None:
        raise NotFound()
    model, attname = found
    manager = model._default_manager
    if hasattr(model, "owned_by"):
        obj = get_visible(manager.all(), user, pk=object_id)
    else:
        try:
            obj = manager.get(pk=object_id)
        except model.DoesNotExist:  # type: ignore[attr-defined]
            raise NotFound() from None
    steps = list(
        TransitionLog.objects.filter(
            process=process.name, content_type=ContentType.objects.get_for_model(model), object_id=obj.pk
        )
        .select_related("actor")
        .order_by("at", "id")
    )
    return Instance(process, obj, str(getattr(obj, attname)), steps)
