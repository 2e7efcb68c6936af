from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from accounts.roles import marketer_group_sync

        # Permissions are created in post_migrate, so the group's grants are refreshed there too: models that
        # later migrations add are covered without another data migration.
        post_migrate.connect(marketer_group_sync, dispatch_uid="accounts.marketer_group_sync")
