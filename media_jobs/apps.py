from django.apps import AppConfig


class MediaJobsConfig(AppConfig):
    name = "media_jobs"
    verbose_name = "Media jobs"

    def ready(self) -> None:
        # Django's hook for registering things once the app registry is ready: the tasks, so that
        # every process (web ones too) can send them by name.
        from media_jobs import tasks  # noqa: F401
