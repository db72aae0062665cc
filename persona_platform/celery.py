"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in every app."""

import os
from contextvars import Token

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from persona_platform import logs

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


_log_tokens: dict[str, Token] = {}  # task id → the log context to restore when the task ends


@before_task_publish.connect
def request_id_send(headers=None, **kwargs) -> None:
    """A task sent while a request is handled carries its request id, so the job's lines name it too."""
    if headers is not None and logs.current("request_id"):
        headers["request_id"] = logs.current("request_id")


@task_prerun.connect
def task_log_context_bind(task_id=None, task=None, **extra) -> None:
    """Every line a task writes carries the id of the request that sent it (a job's task adds its job id)."""
    sent = getattr(task.request, "request_id", None) or (getattr(task.request, "headers", None) or {}).get("request_id")
    _log_tokens[task_id] = logs.bind(
        request_id=sent or logs.current("request_id")
    )  # an eager task runs inside the request


@task_postrun.connect
def task_log_context_unbind(task_id=None, **extra) -> None:
    token = _log_tokens.pop(task_id, None)
    if token is not None:
        logs.unbind(token)
