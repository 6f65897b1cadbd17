"""core.rows: a model's columns in a plain SELECT give the instance the ORM gives — Decimal,
JSON, aware datetimes and booleans converted by the backend's converters (SQLite returns them
as text and 0/1) —, `only` defers the rest, a LEFT JOIN that found nothing gives None, and
related objects kept as prefetched cost no further query. Runs on SQLite and, with
DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.deals.factories import make_deal, make_merchant
from tuangou.accounts.roles import Role
from tuangou.core.rows import Columns, keep_prefetched
from tuangou.deals.models import Deal, DealTier

pytestmark = pytest.mark.django_db

CHANNELS = ["wechat", {"group": "上海", "n": 2}]


@pytest.fixture
def deal(make_user: Any, operator: Any) -> Deal:
    merchant = make_merchant(admin=make_user(Role.MERCHANT))
    made = make_deal(merchant=merchant, operator=operator, tiers=[(10, "80.50"), (5, "90.00")])
    Deal.objects.filter(pk=made.pk).update(
        channels=CHANNELS, new_members_only=True, commission_rate=Decimal("12.50"), refund_anytime=False
    )
    return Deal.objects.get(pk=made.pk)


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _deal_sql(columns: Columns) -> str:
    return f"SELECT {columns.sql} FROM {Deal._meta.db_table} d WHERE d.id = %s"  # noqa: S608


def test_an_instance_of_every_column_is_the_one_the_orm_gives(deal: Deal) -> None:
    columns = Columns.of(Deal, "d")
    assert columns.names == tuple(f.attname for f in Deal._meta.concrete_fields)
    (row,) = _rows(_deal_sql(columns), [deal.pk])
    read = columns.instance(row, 0)
    assert isinstance(read, Deal) and not read._state.adding and read._state.db == "default"
    assert read.get_deferred_fields() == set()
    for field in Deal._meta.concrete_fields:
        value = getattr(read, field.attname)
        assert value == getattr(deal, field.attname), field.attname
        assert type(value) is type(getattr(deal, field.attname)), field.attname
    assert read.group_price == Decimal("99.00") and isinstance(read.group_price, Decimal)
    assert read.commission_rate == Decimal("12.50")
    assert read.channels == CHANNELS
    assert read.new_members_only is True and read.refund_anytime is False
    assert isinstance(read.starts_at, dt.datetime) and timezone.is_aware(read.starts_at)


def test_values_are_converted_from_where_the_columns_start(deal: Deal) -> None:
    columns = Columns.of(Deal, "d", only=("group_price", "channels", "ends_at", "new_members_only"))
    sql = f"SELECT 7, {columns.sql} FROM {Deal._meta.db_table} d WHERE d.id = %s"  # noqa: S608
    (row,) = _rows(sql, [deal.pk])
    assert columns.names == ("id", "group_price", "ends_at", "new_members_only", "channels")  # the model's order
    assert columns.values(row, 1) == [deal.pk, Decimal("99.00"), deal.ends_at, True, CHANNELS]


def test_only_defers_the_other_columns_and_the_key_is_always_read(deal: Deal, django_assert_num_queries: Any) -> None:
    columns = Columns.of(Deal, "d", only=("title", "group_price"))
    assert columns.names == ("id", "title", "group_price") and columns.pk == 0
    (row,) = _rows(_deal_sql(columns), [deal.pk])
    read = columns.instance(row, 0)
    assert read.pk == deal.pk and read.title == deal.title and read.group_price == Decimal("99.00")
    assert "channels" in read.get_deferred_fields() and "title" not in read.get_deferred_fields()
    with django_assert_num_queries(1):  # a deferred column is read on first access, as .only() does
        assert read.channels == CHANNELS


def test_a_left_join_that_found_nothing_gives_none(deal: Deal) -> None:
    d, t = Columns.of(Deal, "d", only=("title",)), Columns.of(DealTier, "t")
    sql = (
        f"SELECT {d.sql}, {t.sql} FROM {Deal._meta.db_table} d "  # noqa: S608
        f"LEFT JOIN {DealTier._meta.db_table} t ON t.deal_id = d.id AND t.threshold > %s "
        "WHERE d.id = %s ORDER BY t.threshold"
    )
    rows = _rows(sql, [0, deal.pk])
    tiers = [t.instance(row, len(d.names)) for row in rows]
    assert [(x.threshold, x.price) for x in tiers] == [(5, Decimal("90.00")), (10, Decimal("80.50"))]
    assert all(isinstance(x.price, Decimal) and x.deal_id == deal.pk for x in tiers)
    (row,) = _rows(sql, [100, deal.pk])
    assert d.instance(row, 0).pk == deal.pk and t.instance(row, len(d.names)) is None


def test_kept_objects_are_what_all_gives_without_a_query(deal: Deal, django_assert_num_queries: Any) -> None:
    read = Deal.objects.get(pk=deal.pk)
    tiers = list(DealTier.objects.filter(deal=deal).order_by("threshold"))
    stores = list(deal.stores.all())
    with django_assert_num_queries(0):
        keep_prefetched(read, "tiers", tiers)
        keep_prefetched(read, "stores", stores)  # a many-to-many
        assert list(read.tiers.all()) == tiers and list(read.stores.all()) == stores
        assert read.tier_list == sorted(tiers, key=lambda x: x.threshold)
    assert stores and tiers
