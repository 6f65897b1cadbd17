from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesdeskConfig(AppConfig):
    name = "tuangou.salesdesk"
    label = "salesdesk"
    verbose_name = _("Group-buy sales desk")
