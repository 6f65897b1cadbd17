"""SiteSettings.current(): read once per process for a short while, an edit visible at once."""

import pytest
from django.db import transaction

from tests.statements import Statements
from tuangou.core.models import SiteSettings


@pytest.fixture
def fresh():
    SiteSettings.forget()
    yield
    SiteSettings.forget()


@pytest.mark.django_db(transaction=True)
def test_read_once_then_kept_and_an_edit_is_visible_at_once(fresh):
    SiteSettings.current()
    with Statements() as queries:
        assert SiteSettings.current().name == "團購"
        assert SiteSettings.current().name == "團購"
    assert queries.on(SiteSettings._meta.db_table) == []

    site = SiteSettings.current()
    site.name = "好團"
    assert SiteSettings.current().name == "團購"  # a caller's unsaved change is its own
    site.save()
    assert SiteSettings.current().name == "好團"

    with transaction.atomic():  # as the admin saves
        site = SiteSettings.current()
        site.icp_number = "滬ICP備1號"
        site.save()
        assert SiteSettings.current().icp_number == "滬ICP備1號"
    assert SiteSettings.current().icp_number == "滬ICP備1號"
    with Statements() as queries:
        SiteSettings.current()
    assert queries.on(SiteSettings._meta.db_table) == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_edit_is_not_kept(fresh):
    assert SiteSettings.current().name == "團購"
    with pytest.raises(RuntimeError), transaction.atomic():
        site = SiteSettings.current()
        site.name = "回滾"
        site.save()
        assert SiteSettings.current().name == "回滾"
        raise RuntimeError
    assert SiteSettings.current().name == "團購"
    assert SiteSettings.objects.get().name == "團購"


@pytest.mark.django_db(transaction=True)
def test_kept_for_cache_seconds_then_read_again(fresh, monkeypatch):
    SiteSettings.current()
    SiteSettings.objects.update(name="別處改的")  # as another process would (no save() here)
    assert SiteSettings.current().name == "團購"
    monkeypatch.setattr(SiteSettings, "CACHE_SECONDS", 0.0)
    SiteSettings.forget()
    SiteSettings.current()
    assert SiteSettings.current().name == "別處改的"


@pytest.mark.django_db(transaction=True)
def test_a_page_render_reads_no_settings_once_kept(fresh, client):
    client.get("/")
    with Statements() as queries:
        response = client.get("/")
    assert response.status_code == 200
    assert queries.on(SiteSettings._meta.db_table) == []
    site = SiteSettings.current()
    site.icp_number = "滬ICP備12345678號-1"
    site.save()
    assert "滬ICP備12345678號-1" in client.get("/").content.decode()


@pytest.mark.django_db
def test_inside_the_tests_transaction_every_read_sees_the_database(fresh):
    site = SiteSettings.current()  # created in this (never committed) transaction: not kept
    site.name = "測試"
    site.save()
    assert SiteSettings.current().name == "測試"
    assert SiteSettings._cached is None
