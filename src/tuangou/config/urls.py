import re

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path, re_path

from tuangou.api import api
from tuangou.core.views import healthz
from tuangou.web.views.payments import sandbox_urlpatterns

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("sandbox-gateway/", include(sandbox_urlpatterns)),
    path("", include("tuangou.web.urls")),
]

if settings.DEBUG or settings.SERVE_MEDIA:
    # Uploaded media from the site itself (embedded mode); scaled sites serve it from the proxy.
    from tuangou.web.views.media import media_file

    _prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.insert(0, re_path(rf"^{_prefix}(?P<path>.+)$", media_file, name="media"))

__all__ = ["i18n_patterns", "urlpatterns"]
