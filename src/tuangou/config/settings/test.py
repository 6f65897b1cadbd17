"""Settings for the test suite: SQLite in memory unless DATABASE_URL points at PostgreSQL."""

import os

import dj_database_url

from tuangou.config.settings.base import *  # noqa: F403
from tuangou.config.settings.base import CACHES
from tuangou.config.settings.base import DATABASES as _BASE_DATABASES

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnop"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only

_url = os.environ.get("DATABASE_URL")
if _url:
    DATABASES = {"default": dj_database_url.parse(_url)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # the production connection options (prepared statements, ADR 0019) under test too
        DATABASES["default"]["OPTIONS"] = _BASE_DATABASES["default"].get("OPTIONS", {})
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "TEST": {"NAME": ""},
        }
    }
# Jobs run in the test process right after the transaction that queued them commits.
JOBS_MODE = os.environ.get("JOBS_MODE", "eager")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SERVE_MEDIA = True  # uploaded media through tuangou.web.views.media, as in the embedded mode
STATIC_ROOT = None  # type: ignore[assignment]  # whitenoise serves from the finders in tests
# No page microcache (ADR 0013) unless a test turns it on: a test reads its own writes at once.
CACHES = {**CACHES, "pages": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
