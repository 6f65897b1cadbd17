"""The back office's navigation: each entry names the roles that see it. Later domains add entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from tuangou.accounts.roles import BACK_OFFICE_ROLES, Role
from tuangou.core.ownership import has_role


@dataclass(frozen=True)
class NavItem:
    title: Any
    url_name: str
    roles: frozenset[str]


NAV: list[NavItem] = [
    NavItem(_("Dashboard"), "web:backoffice", frozenset(BACK_OFFICE_ROLES)),
    NavItem(_("Outbox"), "web:outbox", frozenset({Role.OPERATOR})),
    NavItem(_("Master data (admin)"), "admin:index", frozenset({Role.OPERATOR})),
    NavItem(_("Deal review"), "web:deal_review", frozenset({Role.OPERATOR})),
    NavItem(_("Deals"), "web:deal_list", frozenset({Role.OPERATOR, Role.MERCHANT})),
    NavItem(_("Team buys report"), "web:team_report", frozenset({Role.OPERATOR})),
    NavItem(_("Orders of my deals"), "web:merchant_orders", frozenset({Role.MERCHANT, Role.OPERATOR})),
    NavItem(_("Sales desk"), "web:salesdesk", frozenset({Role.SALES_REP, Role.SALES_DEPT})),
    NavItem(_("Payments"), "web:finance_payments", frozenset({Role.FINANCE})),
    NavItem(_("Refunds"), "web:finance_refunds", frozenset({Role.FINANCE})),
    NavItem(_("Ledger and audit"), "web:finance_ledger", frozenset({Role.FINANCE})),
    NavItem(_("Invoice requests"), "web:finance_invoices", frozenset({Role.FINANCE})),
    NavItem(_("Counter (verify vouchers)"), "web:portal_counter", frozenset({Role.MERCHANT, Role.CLERK})),
    NavItem(
        _("Settlement statements"), "web:portal_statements", frozenset({Role.MERCHANT, Role.OPERATOR, Role.FINANCE})
    ),
    NavItem(_("Reconciliation"), "web:portal_reconciliation", frozenset({Role.MERCHANT})),
    NavItem(_("Mini-site"), "web:portal_site", frozenset({Role.MERCHANT})),
    NavItem(_("BD pipeline"), "web:bd_pipeline", frozenset({Role.BD_REP, Role.OPERATOR})),
    NavItem(_("Business processes"), "web:processes", frozenset(BACK_OFFICE_ROLES)),
]


def add(item: NavItem) -> None:
    NAV.append(item)


def back_office_nav(user: Any) -> list[dict[str, Any]]:
    if not getattr(user, "is_authenticated", False):
        return []
    return [{"title": item.title, "url": reverse(item.url_name)} for item in NAV if has_role(user, *item.roles)]
