from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

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

if settings.DEBUG:  # pragma: no cover - media in development only
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

__all__ = ["i18n_patterns", "urlpatterns"]
