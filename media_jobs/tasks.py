"""Celery entry points. Thin: each takes ids and calls a service; the MediaJob row is the result."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import beat_init, worker_ready
from django.conf import settings

from media_jobs import webhooks
from media_jobs.engines.base import EngineError
from media_jobs.heartbeats import heartbeats_start
from media_jobs.services import job_execute, job_fail, job_requeue
from media_jobs.services import jobs_dispatch_pending as jobs_pending_dispatch
from media_jobs.services import jobs_reap_stale as jobs_stale_reap
from persona_platform import logs

logger = logging.getLogger(__name__)


def _retry_countdown(retries: int) -> int:
    return 30 * 2**retries


@shared_task(bind=True, name="media_jobs.job_run", max_retries=3, acks_late=True)
def job_run(self, job_id: int) -> None:
    """Run one media job. Delivering it twice is harmless: only the worker that claims it does the work.
    Every line logged meanwhile names the job (persona_platform.logs)."""
    token = logs.bind(job_id=job_id)
    try:
        job_execute(job_id=job_id)
    except SoftTimeLimitExceeded:
        job_fail(job_id=job_id, error=f"The job ran past its time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s.")
    except EngineError as exc:
        if exc.retryable and self.request.retries < self.max_retries:
            job_requeue(job_id=job_id, error=str(exc))
            raise self.retry(exc=exc, countdown=_retry_countdown(self.request.retries)) from exc
        job_fail(job_id=job_id, error=str(exc))
    except Exception as exc:
        logger.exception("job %s crashed", job_id)
        job_fail(job_id=job_id, error=f"Internal error while running the job ({type(exc).__name__}).")
    finally:
        logs.unbind(token)


@shared_task(name="media_jobs.jobs_reap_stale")
def jobs_reap_stale() -> dict:
    return jobs_stale_reap()


@shared_task(name="media_jobs.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> None:
    webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="media_jobs.webhooks_deliver_due")
def webhooks_deliver_due() -> int:
    return webhooks.webhooks_deliver_due()


@shared_task(name="media_jobs.jobs_dispatch_pending")
def jobs_dispatch_pending() -> dict:
    return jobs_pending_dispatch()


@worker_ready.connect(dispatch_uid="media_jobs.worker_heartbeat")
def worker_heartbeat(**kwargs) -> None:
    """The worker's main process says it is alive (children come and go; the main process restarts them)."""
    heartbeats_start(name="worker")


@beat_init.connect(dispatch_uid="media_jobs.beat_heartbeat")
def beat_heartbeat(**kwargs) -> None:
    heartbeats_start(name="beat")
