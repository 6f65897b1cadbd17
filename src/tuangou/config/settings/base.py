"""Settings shared by every mode. Values that differ between installs come from `config.env`."""

from __future__ import annotations

import dj_database_url
from django.utils.translation import gettext_lazy as _

from tuangou.config.env import BASE_DIR, VAR_DIR, env_bool, env_int, env_list, env_str

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or ""
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "tuangou.core",
    "tuangou.accounts",
    "tuangou.messaging",
    "tuangou.merchants",
    "tuangou.deals",
    "tuangou.orders",
    "tuangou.catalog",
    "tuangou.salesdesk",
    "tuangou.ledger",
    "tuangou.payments",
    "tuangou.vouchers",
    "tuangou.settlement",
    "tuangou.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tuangou.core.middleware.SiteLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tuangou.config.urls"
WSGI_APPLICATION = "tuangou.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "tuangou.web.context_processors.site",
            ],
        },
    }
]

# Database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tuangou.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the in-process job threads and the web threads share
    # one file without "database is locked" on upgrade from a read to a write lock.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Prepared statements (ADR 0019): PostgreSQL plans a statement once per connection instead of on
# every call (planning costs about three times the execution of the short queries here). Off
# behind a pooler in transaction mode (PgBouncer < 1.21), which cannot keep them.
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_SERVER_SIDE_BINDING", True
):
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis is optional: cache, rate limits, locks and the Celery broker when it is set.
REDIS_URL = env_str("REDIS_URL") or ""
if REDIS_URL:
    # Django's Redis cache with one client per connection pool (not one per call: ADR 0013).
    CACHES = {
        "default": {
            "BACKEND": "tuangou.core.microcache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tuangou",
        },
        # Pages and API lists rendered for anonymous visitors, kept a few seconds (ADR 0013).
        "pages": {
            "BACKEND": "tuangou.core.microcache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tuangou-pages",
        },
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tuangou"},
        "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tuangou-pages"},
    }

# Background jobs: "celery" (scaled: Redis broker, separate workers and beat) or "embedded"
# (a thread pool and a clock inside the web process). Business code only calls core.jobs.
JOBS_MODE = env_str("JOBS_MODE") or ("celery" if REDIS_URL else "embedded")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "tuangou"
CELERY_TIMEZONE = env_str("TIME_ZONE", "Asia/Shanghai")
EMBEDDED_JOB_THREADS = env_int("EMBEDDED_JOB_THREADS", 2)
# Uploaded media (deal images and videos) under MEDIA_URL: served by the site itself in the
# embedded mode (one process, files under MEDIA_ROOT), by the reverse proxy or an object store
# when scaled (see docs/adr/0009-deal-media-uploads.md).
SERVE_MEDIA = env_bool("SERVE_MEDIA", JOBS_MODE == "embedded")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"

LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", _("Traditional Chinese")), ("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "tuangou_language"
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai") or "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Accounts: one-time codes and rate limits (counts per window in seconds).
OTP_TTL_SECONDS = env_int("OTP_TTL_SECONDS", 300)
OTP_MAX_ATTEMPTS = 5
RATE_LIMITS = {
    "login:mobile": (5, 900),
    "login:ip": (30, 900),
    "otp:mobile": (1, 60),
    "otp:mobile:hour": (5, 3600),
    "otp:ip": (20, 3600),
    "register:ip": (10, 3600),
}

# Messaging: which provider delivers SMS ("console" by default: logged and shown in the back office).
SMS_PROVIDER = env_str("SMS_PROVIDER", "console") or "console"

# Payments (issue 5): enabled providers, the sandbox's behaviour, Alipay and WeChat Pay credentials.
PAYMENT_PROVIDERS = env_list("PAYMENT_PROVIDERS", ["sandbox", "balance"])
PAYMENT_PUBLIC_URL = env_str("PAYMENT_PUBLIC_URL", "") or ""  # https://… base of notify/return URLs
PAYMENT_RECONCILE_AFTER = env_int("PAYMENT_RECONCILE_AFTER", 300)  # seconds before querying a pending one
SANDBOX_GATEWAY_KEY = env_str("SANDBOX_GATEWAY_KEY", "") or ""  # HMAC key; derived from SECRET_KEY if empty
SANDBOX_NOTIFY_DELAY = env_int("SANDBOX_NOTIFY_DELAY", 0)
SANDBOX_DUPLICATE_RATE = env_int("SANDBOX_DUPLICATE_PERCENT", 0) / 100
SANDBOX_REFUNDS_FAIL = env_bool("SANDBOX_REFUNDS_FAIL", False)
ALIPAY = {k: env_str(f"ALIPAY_{k}", "") or "" for k in ("APP_ID", "SELLER_ID", "APP_PRIVATE_KEY", "PUBLIC_KEY")}
ALIPAY["GATEWAY_URL"] = env_str("ALIPAY_GATEWAY_URL", "") or "https://openapi.alipay.com/gateway.do"
WECHATPAY = {
    k: env_str(f"WECHATPAY_{k}", "") or ""
    for k in (
        "APP_ID",
        "MCH_ID",
        "MCH_PRIVATE_KEY",
        "MCH_SERIAL",
        "API_V3_KEY",
        "PLATFORM_PUBLIC_KEY",
        "PLATFORM_SERIAL",
    )
}
WECHATPAY["BASE_URL"] = env_str("WECHATPAY_BASE_URL", "") or "https://api.mch.weixin.qq.com"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"leave_out_conflicts": {"()": "tuangou.core.errors.LeaveOutConflicts"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # a 409 answers about the state (sold out…): not one WARNING line per refused buyer
        "django.request": {"filters": ["leave_out_conflicts"]},
    },
}

# Orders: how long an unpaid order holds its stock; whether the storefront offers the built-in
# "pay now" stand-in (demo only, until the payments issue's sandbox gateway plugs in).
ORDERS_PAYMENT_MINUTES = env_int("ORDERS_PAYMENT_MINUTES", 15)
ORDERS_DEMO_PAY = env_bool("ORDERS_DEMO_PAY", False)
