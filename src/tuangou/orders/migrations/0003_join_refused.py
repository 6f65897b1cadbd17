"""orders_join_refused(code): raises, for the one statement of a join on PostgreSQL (ADR 0017
addendum): a guard of the statement that fails makes the whole statement fail, so nothing of it
stays. Nothing on other databases (their join is several statements in a transaction)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION orders_join_refused(code text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'orders_join_refused:' || code;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS orders_join_refused(text)"


def _run(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_alter_order_status")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
