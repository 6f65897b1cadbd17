"""Production settings refuse unsafe configurations; run in a fresh interpreter each time."""

import os
import subprocess
import sys

import pytest

CODE = "import django; django.setup(); print('started')"


def run(env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "tuangou.config.settings.production", "ALLOWED_HOSTS": "example.com"})
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_secret_key():
    result = run({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_debug():
    result = run({"SECRET_KEY": "x" * 50, "DEBUG": "1"})
    assert result.returncode != 0
    assert "DEBUG must not be on" in result.stderr


def test_production_starts_when_configured():
    result = run({"SECRET_KEY": "x" * 50, "DEBUG": "0"})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_boolean_variables_are_checked(value):
    result = run({"SECRET_KEY": "x" * 50, "DEBUG": value})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


SHOW_DB_OPTIONS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default'].get('OPTIONS', {}))"
)


def db_options(env_overrides):
    env = {"SECRET_KEY": "x" * 50, "DEBUG": "0", **env_overrides}
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}}
    base.update({"DJANGO_SETTINGS_MODULE": "tuangou.config.settings.production", "ALLOWED_HOSTS": "example.com"})
    base.update(env)
    result = subprocess.run(
        [sys.executable, "-c", SHOW_DB_OPTIONS], env=base, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_postgresql_uses_prepared_statements_unless_turned_off():
    """ADR 0019: server-side binding, prepared from a statement's second run; off for a pooler."""
    url = {"DATABASE_URL": "postgres://u:p@db.example.com:5432/tuangou"}
    assert db_options(url) == "{'server_side_binding': True, 'prepare_threshold': 2}"
    assert db_options({**url, "DATABASE_SERVER_SIDE_BINDING": "0"}) == "{}"
    assert "server_side_binding" not in db_options({})  # SQLite


@pytest.mark.postgres
def test_the_suite_runs_postgresql_with_prepared_statements(db):
    """The test settings keep production's connection options, so the whole suite runs with them:
    a statement run twice is prepared on the connection."""
    from django.db import connection

    from tuangou.accounts.models import User

    for _ in range(3):
        list(User.objects.filter(pk=-1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ['%"accounts_user"%'])
        (prepared,) = cursor.fetchone()
    assert prepared >= 1


def test_both_caches_on_redis_keep_one_client_per_pool():
    """ADR 0013: with REDIS_URL, "default" and "pages" are core.microcache.RedisCache."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(sorted({c['BACKEND'] for c in settings.CACHES.values()}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "tuangou.config.settings.production", "ALLOWED_HOSTS": "example.com"})
    env.update({"SECRET_KEY": "x" * 50, "DEBUG": "0", "REDIS_URL": "redis://cache.example.com:6379/0"})
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['tuangou.core.microcache.RedisCache']"
