from django.apps import AppConfig


class PersonaPlatformConfig(AppConfig):
    name = "persona_platform"
    verbose_name = "Persona Platform"

    def ready(self) -> None:
        # Django's hook for registering things once the app registry is ready: the OpenAPI auth extension.
        from persona_platform.api import schema  # noqa: F401
