from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "tuangou.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from tuangou.core import jobs

        jobs.autodiscover()
