"""The role codes a lane may name: the project's groups and the external parties."""

from __future__ import annotations

from tuangou.accounts.roles import EXTERNAL_LANES, Role


def known_roles() -> frozenset[str]:
    """Every role code a process may use as a lane (`Role` values and external parties)."""
    return frozenset(str(r) for r in Role.values) | frozenset(EXTERNAL_LANES)


def external_roles() -> frozenset[str]:
    return frozenset(EXTERNAL_LANES)
