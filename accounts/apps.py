from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, keys and credits"

    def ready(self) -> None:
        # Django's hook for connecting receivers once the app registry is ready.
        from accounts import signals  # noqa: F401
