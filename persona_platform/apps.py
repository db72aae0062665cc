from django.apps import AppConfig


class PersonaPlatformConfig(AppConfig):
    name = "persona_platform"
    verbose_name = "Persona Platform"

    def ready(self) -> None:
        from persona_platform.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
