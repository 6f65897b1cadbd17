"""Production settings: refuse to start without a secret key, with DEBUG on, or without hosts."""

from django.core.exceptions import ImproperlyConfigured

from tuangou.config.env import env_bool, env_int
from tuangou.config.settings.base import *  # noqa: F403
from tuangou.config.settings.base import ALLOWED_HOSTS, DEBUG, SECRET_KEY

if not SECRET_KEY or len(SECRET_KEY) < 40:
    raise ImproperlyConfigured("SECRET_KEY must be set (at least 40 characters) in production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must not be on in production.")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the site's host names in production.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
