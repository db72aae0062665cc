from django.apps import AppConfig


class CharactersConfig(AppConfig):
    name = "characters"
    verbose_name = "Persons and voices"

    def ready(self) -> None:
        # Django's hook for connecting receivers once the app registry is ready.
        from characters import signals  # noqa: F401
