"""The process engine: declarations, their validation, the registry and the renderers.

Domains import what they declare with from here::

    from tuangou.core.workflow import Process, Lane, Start, End, Task, Decision, Transition

The Django parts (the transition log, the engine, the step statistics) live in
`tuangou.core.workflow.models`, `.engine` and `.stats`, imported only where needed so that a
declaration stays plain Python.
"""

from .declaration import (
    OWNER,
    SYSTEM,
    Decision,
    Document,
    End,
    Label,
    Lane,
    Node,
    Process,
    Route,
    Start,
    Task,
    Transition,
)
from .registry import ProcessNotFound, all_processes, autodiscover, get, register
from .validate import ProcessDeclarationError, validate

__all__ = [
    "OWNER",
    "SYSTEM",
    "Decision",
    "Document",
    "End",
    "Label",
    "Lane",
    "Node",
    "Process",
    "ProcessDeclarationError",
    "ProcessNotFound",
    "Route",
    "Start",
    "Task",
    "Transition",
    "all_processes",
    "autodiscover",
    "get",
    "register",
    "validate",
]
