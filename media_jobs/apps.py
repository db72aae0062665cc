from django.apps import AppConfig


class MediaJobsConfig(AppConfig):
    name = "media_jobs"
    verbose_name = "Media jobs"

    def ready(self) -> None:
        # Django's hook for registering things once the app registry is ready: the tasks, so that
        # every process (web ones too) can send them by name, and the deploy check of the signing certificate.
        from media_jobs import checks, tasks  # noqa: F401
        from media_jobs.provenance import signing_check

        # Every process signs or verifies outputs: a certificate or key that cannot sign (unreadable, not
        # matching, refused by C2PA) stops it here with a one-line reason, not at the first job.
        signing_check()
