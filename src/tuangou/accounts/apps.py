from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "tuangou.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from tuangou.accounts.services import roles_sync

        post_migrate.connect(lambda **_: roles_sync(), dispatch_uid="tuangou-roles-sync", weak=False)
