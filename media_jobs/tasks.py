"""Celery entry points. Thin: each takes ids and calls a service; the MediaJob row is the result."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from media_jobs.engines.base import EngineError

logger = logging.getLogger(__name__)


def _retry_countdown(retries: int) -> int:
    return 30 * 2**retries


@shared_task(bind=True, name="media_jobs.job_run", max_retries=3, acks_late=True)
def job_run(self, job_id: int) -> None:
    """Run one media job. Delivering it twice is harmless: only the worker that claims it does the work."""
    from media_jobs.services import job_execute, job_fail, job_requeue

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


@shared_task(name="media_jobs.jobs_reap_stale")
def jobs_reap_stale() -> dict:
    from media_jobs.services import jobs_reap_stale as reap

    return reap()


@shared_task(name="media_jobs.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> None:
    from media_jobs.webhooks import webhook_deliver as deliver

    deliver(delivery_id=delivery_id)


@shared_task(name="media_jobs.webhooks_deliver_due")
def webhooks_deliver_due() -> int:
    from media_jobs.webhooks import webhooks_deliver_due as deliver_due

    return deliver_due()
