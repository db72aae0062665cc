from django.apps import AppConfig


class CharactersConfig(AppConfig):
    name = "characters"
    verbose_name = "Persons and voices"

    def ready(self) -> None:
        from characters import signals  # noqa: F401
