"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in every app."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")

app = Celery("persona_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def db_connections_tidy(task=None, **kwargs) -> None:
    """What Django does around each request: drop connections past CONN_MAX_AGE or in error, and
    health-check a reused one on its first query. Not for eager tasks: they run inside the caller's
    transaction, on the caller's connection."""
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
