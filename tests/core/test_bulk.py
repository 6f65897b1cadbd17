"""core.bulk.insert_one: a new row in one plain INSERT … RETURNING, as save() would write it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tuangou.core.bulk import insert_one
from tuangou.core.errors import Conflict
from tuangou.core.models import AuditLog, City
from tuangou.merchants.models import Prospect
from tuangou.merchants.process import PIPELINE

pytestmark = pytest.mark.django_db


def _columns(row: AuditLog) -> dict[str, object]:
    return {f.attname: getattr(row, f.attname) for f in AuditLog._meta.concrete_fields if not f.primary_key}


def test_a_row_is_written_as_save_writes_it_in_one_statement(member) -> None:
    made = [
        AuditLog(actor=member, action="test.one", object_type="x.y", object_id="7", ip="10.0.0.1", data={"n": 1})
        for _ in range(2)
    ]
    made[0].save()
    with CaptureQueriesContext(connection) as ctx:
        insert_one(made[1])
    assert len(ctx.captured_queries) == 1 and ctx.captured_queries[0]["sql"].startswith("INSERT")
    assert made[1].pk and made[1].pk != made[0].pk
    assert not made[1]._state.adding and made[1]._state.db == "default"
    saved, inserted = (AuditLog.objects.get(pk=row.pk) for row in made)
    assert abs(saved.at - inserted.at) < dt.timedelta(seconds=5)  # auto_now_add applied, as save() does
    saved.at = inserted.at
    assert _columns(saved) == _columns(inserted)
    assert inserted.data == {"n": 1} and inserted.actor_id == member.pk


def test_a_new_row_of_a_process_must_start_at_its_start(member) -> None:
    """The pre_save signal is sent: the workflow engine refuses a new row placed at a later step,
    before any SQL, and accepts one at the start."""
    city = City.objects.create(name="Test", slug="test-bulk")
    later = next(s for s in PIPELINE.states if s != PIPELINE.initial_state)
    with CaptureQueriesContext(connection) as ctx, pytest.raises(Conflict) as refused:
        insert_one(Prospect(name="Skipping ahead", city=city, rep=member, stage=later))
    assert refused.value.code == "transition_direct_change" and not ctx.captured_queries
    assert not Prospect.objects.exists()
    fresh = Prospect(name="At the start", city=city, rep=member)
    insert_one(fresh)
    assert Prospect.objects.get(pk=fresh.pk).stage == PIPELINE.initial_state
