"""The roles of PRODUCT.md section 1. Each is a Django group of the same name with permissions."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MEMBER = "member", _("Member")
    MERCHANT = "merchant", _("Merchant")
    CLERK = "clerk", _("Merchant clerk")
    BD_REP = "bd_rep", _("BD sales rep")
    OPERATOR = "operator", _("Operator")
    SALES_REP = "sales_rep", _("Group-buy sales rep")
    SALES_DEPT = "sales_dept", _("Group-buy department clerk")
    FINANCE = "finance", _("Finance")
    PURCHASING = "purchasing", _("Purchasing / planning / warehouse")
    SPECIALIST = "specialist", _("Store group-buy specialist")


# Lanes of processes that are parties outside the platform's staff, not groups of users.
# "system" is the platform itself: its clock moves deals on time with no user behind the action.
EXTERNAL_LANES = {"customer": _("Customer"), "supplier": _("Supplier"), "system": _("Platform (clock)")}

# Model permissions per role as "app_label.codename". Later domains add theirs here: one table
# to read when asking "what may a finance user do?".
ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.MEMBER: set(),
    Role.MERCHANT: {"deals.view_deal", "merchants.view_merchant", "merchants.view_store"},
    Role.CLERK: {"merchants.view_store"},
    Role.BD_REP: {"merchants.view_merchant", "merchants.add_merchant", "merchants.change_merchant"},
    Role.OPERATOR: {
        "core.view_sitesettings",
        "core.change_sitesettings",
        "core.view_city",
        "core.add_city",
        "core.change_city",
        "core.view_auditlog",
        "deals.view_category",
        "deals.add_category",
        "deals.change_category",
        "deals.view_deal",
        "deals.change_deal",
        "deals.view_team",
        "deals.view_dealtier",
        "orders.view_order",
        "merchants.view_merchant",
        "merchants.change_merchant",
        "merchants.view_store",
        "messaging.view_outboxmessage",
        "accounts.view_user",
    },
    Role.SALES_REP: {
        "salesdesk.view_order",
        "salesdesk.view_customer",
        "salesdesk.add_customer",
        "catalog.view_product",
    },
    Role.SALES_DEPT: {
        "salesdesk.view_order",
        "salesdesk.view_customer",
        "salesdesk.add_customer",
        "salesdesk.change_customer",
        "catalog.view_product",
        "catalog.add_product",
        "catalog.change_product",
        "catalog.view_pricelist",
        "catalog.add_pricelist",
        "catalog.change_pricelist",
    },
    Role.FINANCE: {
        "core.view_auditlog",
        "payments.view_payment",
        "payments.view_refund",
        "payments.change_refund",
        "payments.view_invoicerequest",
        "payments.change_invoicerequest",
        "ledger.view_account",
        "ledger.view_ledgertransaction",
    },
    Role.PURCHASING: set(),
    Role.SPECIALIST: set(),
}

ROLE_PERMISSIONS[Role.CLERK] |= {"vouchers.view_voucher", "vouchers.view_redemption"}
ROLE_PERMISSIONS[Role.MERCHANT] |= {"vouchers.view_voucher", "vouchers.view_redemption", "settlement.view_statement"}
ROLE_PERMISSIONS[Role.OPERATOR] |= {"vouchers.view_voucher", "settlement.view_statement", "settlement.view_dispute"}
ROLE_PERMISSIONS[Role.FINANCE] |= {"settlement.view_statement", "settlement.change_statement"}

# Roles that work in the back office (staff-side pages).
BACK_OFFICE_ROLES = {r for r in Role if r is not Role.MEMBER}
