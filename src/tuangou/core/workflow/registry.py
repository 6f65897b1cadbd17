"""Where declared processes are found by name.

Each domain's ``process.py`` calls `register(PROCESS)` at import time. `autodiscover()` imports
the ``process`` module of every installed app; the lookups below call it once, so a process
is found whether or not anything imported its module first.
"""

from __future__ import annotations

import threading

from .declaration import Process
from .validate import validate

_processes: dict[str, Process] = {}
_lock = threading.Lock()
_discovered = False


class ProcessNotFound(LookupError):
    pass


def register(process: Process) -> Process:
    """Validate and register `process`; returns it so a module can write ``P = register(...)``.

    Registering the same declaration again (a module imported twice) is harmless; two
    different processes with one name are an error.
    """
    validate(process)
    with _lock:
        existing = _processes.get(process.name)
        if existing is not None and _shape(existing) != _shape(process):
            raise ValueError(f"two different processes are named {process.name!r}")
        _processes[process.name] = process
    return process


def _shape(process: Process) -> tuple[object, ...]:
    """What makes two declarations the same process (labels are lazy: not compared)."""
    return (
        tuple((n.name, n.lane, type(n).__name__) for n in process.iter_nodes()),
        tuple((t.source, t.target, t.action, t.by) for t in process.transitions),
    )


def unregister(name: str) -> None:
    """Forget a process (tests that register throwaway declarations)."""
    with _lock:
        _processes.pop(name, None)


def autodiscover() -> None:
    global _discovered
    if _discovered:
        return
    from django.apps import apps

    if not apps.ready:
        return
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("process")
    _discovered = True


def get(name: str) -> Process:
    autodiscover()
    try:
        return _processes[name]
    except KeyError:
        raise ProcessNotFound(name) from None


def all_processes() -> list[Process]:
    """Every registered process, sorted by name (deterministic output everywhere)."""
    autodiscover()
    return [_processes[name] for name in sorted(_processes)]
