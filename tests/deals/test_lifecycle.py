"""The deal life cycle: review, the clock in both running modes, tipping, failing, closing."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from tuangou.core import events, jobs
from tuangou.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tuangou.core.workflow.engine import history
from tuangou.deals import services
from tuangou.deals.models import Deal
from tuangou.orders import services as order_services

from .factories import join_and_pay

pytestmark = pytest.mark.django_db


def test_review_flow(deal_factory, merchant_admin, operator):
    deal = deal_factory(live=False)
    assert deal.status == "draft"
    with pytest.raises(Conflict):
        services.deal_approve(actor=operator, deal_id=deal.pk)
    services.deal_submit(actor=merchant_admin, deal_id=deal.pk)
    with pytest.raises(ValidationFailed) as exc:
        services.deal_reject(actor=operator, deal_id=deal.pk, reason="  ")
    assert "reason" in exc.value.errors
    deal = services.deal_reject(actor=operator, deal_id=deal.pk, reason="圖片太模糊")
    assert deal.status == "returned" and deal.rejection_reason == "圖片太模糊"
    services.deal_submit(actor=merchant_admin, deal_id=deal.pk)
    deal = services.deal_approve(actor=operator, deal_id=deal.pk)
    # Its start time has passed: approved → scheduled → live in one go.
    assert deal.status == "live"
    log = list(history(deal))
    assert [(t.action, t.from_state, t.to_state) for t in log] == [
        ("submit", "draft", "submitted"),
        ("reject", "submitted", "returned"),
        ("submit", "returned", "submitted"),
        ("approve", "submitted", "approved"),
        ("schedule", "approved", "scheduled"),
        ("start", "scheduled", "live"),
    ]
    assert log[1].note == "圖片太模糊" and log[1].actor == operator
    assert log[4].actor is None  # the platform's clock


def test_state_changes_only_through_the_engine(deal_factory):
    deal = deal_factory(live=False)
    with pytest.raises(Conflict):
        deal.status = "live"
    with pytest.raises(Conflict):  # clock-only actions cannot be performed by a person
        from tuangou.deals.process import DEAL

        services.state_transition(deal, DEAL, "start", actor=deal.created_by)


def test_only_operators_approve_and_only_owners_submit(deal_factory, merchant_admin, make_user):
    deal = deal_factory(live=False)
    stranger = make_user("merchant")
    with pytest.raises(NotFound):
        services.deal_submit(actor=stranger, deal_id=deal.pk)
    services.deal_submit(actor=merchant_admin, deal_id=deal.pk)
    with pytest.raises(Forbidden):
        services.deal_approve(actor=merchant_admin, deal_id=deal.pk)
    assert Deal.objects.get(pk=deal.pk).status == "submitted"


def test_scheduled_deal_starts_on_time_by_the_clock(deal_factory):
    start = timezone.now() + dt.timedelta(hours=1)
    deal = deal_factory(starts_at=start, ends_at=start + dt.timedelta(days=1))
    assert deal.status == "scheduled"
    services.deals_tick(now=start - dt.timedelta(seconds=1))
    assert Deal.objects.get(pk=deal.pk).status == "scheduled"
    services.deals_tick(now=start)
    assert Deal.objects.get(pk=deal.pk).status == "live"
    # Idempotent: a second tick (a second clock, a retry) finds nothing to do.
    assert services.deals_tick(now=start)["deals"] == 0


def test_tips_when_tipping_point_is_paid_and_publishes(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = deal_factory(tipping_point=2)
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        join_and_pay(deal, make_user())
        # A reservation alone does not count (S5: only payment counts).
        order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
        assert Deal.objects.get(pk=deal.pk).status == "live"
        join_and_pay(deal, make_user())
    deal.refresh_from_db()
    assert deal.status == "tipped" and deal.buyers == 2 and deal.sold_units == 2 and deal.reserved_units == 1
    assert ("deal.tipped", {"deal_id": deal.pk}) in seen


def test_fails_at_end_below_tipping_point_then_closes(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = deal_factory(tipping_point=3)
    join_and_pay(deal, make_user())
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        services.deals_tick(now=deal.ends_at)
    deal.refresh_from_db()
    assert deal.status == "closed" and deal.closed_at is not None
    names = [name for name, _ in seen]
    assert names == ["deal.failed", "deal.closed"]
    assert seen[1][1] == {"deal_id": deal.pk, "tipped": False, "final_unit_price": None}
    with events.capture() as again, django_capture_on_commit_callbacks(execute=True):
        services.deals_tick(now=deal.ends_at + dt.timedelta(minutes=5))
    assert again == []


def test_tipped_deal_closes_at_end(deal_factory, make_user, django_capture_on_commit_callbacks):
    deal = deal_factory(tipping_point=1)
    join_and_pay(deal, make_user())
    with events.capture() as seen, django_capture_on_commit_callbacks(execute=True):
        services.deals_tick(now=deal.ends_at)
    assert Deal.objects.get(pk=deal.pk).status == "closed"
    assert seen == [("deal.closed", {"deal_id": deal.pk, "tipped": True, "final_unit_price": "99.00"})]


def test_sold_out_closes_at_once(deal_factory, make_user):
    deal = deal_factory(stock=3, tipping_point=1, per_member_limit=3)
    join_and_pay(deal, make_user(), quantity=3)
    deal.refresh_from_db()
    assert deal.status == "closed" and deal.sold_units == 3


def test_joining_is_refused_outside_sale(deal_factory, make_user):
    deal = deal_factory(live=False)
    with pytest.raises(NotFound):
        order_services.deal_join(actor=make_user(), deal_id=deal.pk, quantity=1)
    live = deal_factory()
    services.deals_tick(now=live.ends_at)
    with pytest.raises(Conflict) as exc:
        order_services.deal_join(actor=make_user(), deal_id=live.pk, quantity=1)
    assert exc.value.code == "deal_not_on_sale"


@pytest.mark.django_db(transaction=True)
def test_clock_embedded_mode(deal_factory, settings):
    """The embedded runner (threads in the web process) runs the registered tick."""
    deal = deal_factory(tipping_point=5)
    Deal.objects.filter(pk=deal.pk).update(
        ends_at=timezone.now() - dt.timedelta(seconds=1), starts_at=timezone.now() - dt.timedelta(days=1)
    )
    runner = jobs.EmbeddedRunner(1)
    runner.start(clock=False)
    try:
        runner.submit("deals.tick", {})
        for _ in range(100):
            if Deal.objects.get(pk=deal.pk).status == "closed":
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    assert Deal.objects.get(pk=deal.pk).status == "closed"


def test_clock_celery_mode(deal_factory):
    """The same job as a Celery task (what `tuangou beat` schedules every 30 seconds)."""
    from tuangou.config.celery import app

    deal = deal_factory(tipping_point=5)
    Deal.objects.filter(pk=deal.pk).update(
        ends_at=timezone.now() - dt.timedelta(seconds=1), starts_at=timezone.now() - dt.timedelta(days=1)
    )
    assert "deals.tick" in jobs.beat_schedule()
    app.tasks["deals.tick"].apply()
    assert Deal.objects.get(pk=deal.pk).status == "closed"
