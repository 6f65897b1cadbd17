import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from tuangou.core.audit import audit
from tuangou.core.errors import Conflict
from tuangou.core.models import AuditLog

pytestmark = pytest.mark.django_db


def test_audit_rows_are_append_only(member):
    row = audit("test.thing", actor=member, obj=member, ip="10.0.0.1", amount="1.00")
    assert row.object_type == "accounts.user"
    assert row.object_id == str(member.pk)
    row.action = "changed"
    with pytest.raises(Conflict):
        row.save()
    with pytest.raises(Conflict):
        row.delete()
    with pytest.raises(Conflict):
        AuditLog.objects.filter(pk=row.pk).update(action="x")
    with pytest.raises(Conflict):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=row.pk).action == "test.thing"


@pytest.mark.postgres
def test_database_refuses_changes_to_the_audit_log(member):
    row = audit("test.thing", actor=member)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditlog SET action = 'x' WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditlog WHERE id = %s", [row.pk])
