"""S1 團購業務銷售工作流程 — the group-buy sales flow, as the seed's first answer tells it.

接訂單 → 登記建檔 → 向團購部下訂單 → 團購部登記後開票發貨 → 客戶收貨簽字確認 →
回款銷帳 → 銷售業務備案 → 團購部備案

What the seed says, and where it sits below:

- The rep (團購業務) who takes an order fills in the channel sales register (團購渠道銷售登記表)
  *at once* ("第一時間"), so registering has a short time limit.
- The order goes to the department in writing; phone or SMS is the exception
  ("原則上是書面訂單.特殊情況可以電話或簡訊下訂單"): a decision whose exceptional outcome needs a
  note. The rep who places the order owns it and answers for the money.
- The department (團購部) registers the order, invoices and ships. The owner normally picks up
  and delivers; another rep may as a recorded exception — that is data on the order (提貨人),
  not a different path, so the owner *or* any rep may record the delivery.
- The customer or a person they name signs for the goods (簽收). A delivery may be partial;
  the rest is shipped later, so the flow loops back to the department.
- Cash is collected on signing; periodic-settlement customers pay by the contract date. Money
  may come in several parts, so collecting loops until the order is paid in full.
- With the money in, the department writes the order off (銷帳) — the seed's "回款銷帳" is two
  lanes' work, collecting (rep) and writing off (department), so it is two tasks here. The
  time an order waits at write-off is cash collected but not yet handed over.
- The rep then files the collection in the register (銷售業務備案) and the department records
  product sales and the rep's performance (團購部備案, 業績登記).

The states are the values of the sales-desk order's ``state`` field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _

from tuangou.core.workflow import (
    OWNER,
    Decision,
    Document,
    End,
    Lane,
    Process,
    Start,
    Task,
    Transition,
    register,
)

REP = "sales_rep"
DEPT = "sales_dept"
CUSTOMER = "customer"


def is_owner(order: Any, user: Any) -> bool:
    """The rep who placed the order owns it; the rep picking it up (提貨人) acts for them."""
    user_id = getattr(user, "pk", None)
    return user_id is not None and user_id in (
        getattr(order, "owner_id", None),
        getattr(order, "picker_id", None),
    )


SALES_ORDER = register(
    Process(
        name="sales_order",
        title=_("Group-buy sales order"),
        description=_(
            "A bulk order taken by a group-buy sales rep, from the customer's order to the "
            "department's performance records (seed answer 1)."
        ),
        owner=is_owner,
        data_stores=("salesdesk.Order",),
        lanes=(
            Lane(REP, _("Group-buy sales rep")),
            Lane(DEPT, _("Group-buy department")),
            Lane(CUSTOMER, _("Customer"), external=True),
        ),
        documents=(
            Document("register", _("Sales register")),
            Document("written_order", _("Written order")),
            Document("invoice", _("Invoice"), to=CUSTOMER),
            Document("delivery_note", _("Delivery note"), to=CUSTOMER),
            Document("receipt_signed", _("Signed receipt")),
            Document("payment_voucher", _("Payment voucher"), to=CUSTOMER),
            Document("write_off", _("Write-off record")),
            Document("performance", _("Performance record")),
        ),
        start=Start("new", _("Customer orders"), CUSTOMER),
        tasks=(
            Task("taking", _("Take the order"), REP),
            Task(
                "registering",
                _("Register and file"),
                REP,
                documents=("register",),
                time_limit=timedelta(hours=2),
            ),
            Task("placing", _("Place the order with the department"), REP, documents=("written_order",)),
            Task(
                "dispatching",
                _("Department registers, invoices and ships"),
                DEPT,
                documents=("invoice", "delivery_note"),
                time_limit=timedelta(days=2),
            ),
            Task(
                "signing",
                _("Customer receives and signs"),
                CUSTOMER,
                documents=("receipt_signed",),
                time_limit=timedelta(days=3),
            ),
            Task("collecting", _("Collect payment"), REP, documents=("payment_voucher",)),
            Task(
                "writing_off",
                _("Hand over and write off"),
                DEPT,
                documents=("write_off",),
                time_limit=timedelta(days=1),
            ),
            Task("rep_filing", _("Sales rep files the order"), REP, documents=("register",)),
            Task("dept_filing", _("Department files the order"), DEPT, documents=("performance",)),
        ),
        decisions=(
            Decision("order_channel", _("How is it placed?"), REP),
            Decision("delivered_all", _("All delivered?"), CUSTOMER),
            Decision("paid_in_full", _("Paid in full?"), REP),
        ),
        ends=(End("closed", _("Order filed"), DEPT),),
        transitions=(
            Transition("new", "taking", "receive", by=(REP,), title=_("Receive the order")),
            Transition("taking", "registering", "take", by=(OWNER,), title=_("Take the order")),
            Transition("registering", "placing", "register", by=(OWNER,), title=_("Register")),
            Transition("placing", "order_channel"),
            Transition(
                "order_channel",
                "dispatching",
                "place_written",
                by=(OWNER,),
                title=_("In writing"),
            ),
            Transition(
                "order_channel",
                "dispatching",
                "place_by_phone",
                by=(OWNER,),
                title=_("By phone or SMS (exception)"),
                note_required=True,
            ),
            Transition("dispatching", "signing", "dispatch", by=(DEPT,), title=_("Invoice and ship")),
            Transition("signing", "delivered_all"),
            Transition(
                "delivered_all",
                "dispatching",
                "sign_partial",
                by=(OWNER,),
                title=_("Partly delivered"),
            ),
            Transition(
                "delivered_all",
                "collecting",
                "sign",
                by=(OWNER,),
                title=_("All delivered"),
            ),
            Transition("collecting", "paid_in_full"),
            Transition(
                "paid_in_full",
                "collecting",
                "collect_partial",
                by=(OWNER,),
                title=_("Part paid"),
            ),
            Transition(
                "paid_in_full",
                "writing_off",
                "collect",
                by=(OWNER,),
                title=_("Paid in full"),
            ),
            Transition("writing_off", "rep_filing", "write_off", by=(DEPT,), title=_("Write off")),
            Transition("rep_filing", "dept_filing", "file", by=(OWNER,), title=_("File in the register")),
            Transition("dept_filing", "closed", "record_performance", by=(DEPT,), title=_("Record performance")),
        ),
    )
)
