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
