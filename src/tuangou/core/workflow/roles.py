"""The role codes a lane may name.

Staff roles are the project's groups (`tuangou.accounts.roles.Role`); ``customer`` is the
external party of the sales desk, who has no account of their own there.
"""

from __future__ import annotations

EXTERNAL_ROLES: frozenset[str] = frozenset({"customer"})


def known_roles() -> frozenset[str]:
    """Every role code a process may use as a lane."""
    try:
        from tuangou.accounts.roles import Role
    except ImportError:  # the accounts app is not there yet (phase 1); keep the agreed list
        staff = {
            "member",
            "merchant",
            "clerk",
            "bd_rep",
            "operator",
            "sales_rep",
            "sales_dept",
            "finance",
            "purchasing",
            "specialist",
        }
    else:
        staff = {str(r) for r in Role.values}
    return frozenset(staff) | EXTERNAL_ROLES
