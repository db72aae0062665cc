"""The job lifecycle: create, claim, run, finish, fail, retry, cancel, reap. The row is the truth.

Every state change is a conditional UPDATE from the states it may leave, so two workers (or a
worker and a cancel) can never both move a job: whoever loses the race sees 0 rows and stops.
"""

import logging
import os
import socket
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Workspace
from media_jobs.kinds import job_kind
from media_jobs.models import Heartbeat, MediaJob
from media_jobs.provenance import sign as provenance_sign
from media_jobs.webhooks import callback_url_validate, webhook_enqueue
from persona_platform.errors import Conflict
from persona_platform.media import delete_file_on_commit, guarded_files, random_name

logger = logging.getLogger(__name__)

Status = MediaJob.Status
ACTIVE = (Status.QUEUED, Status.PROCESSING)
# A job still `processing` this long after it started has lost its worker: the hard time limit
# would have stopped the task long before.
STALE_MARGIN = timedelta(seconds=60)
MAX_ATTEMPTS = 3
JOB_RUN_TASK = "media_jobs.job_run"
DISPATCH_GRACE_SECONDS = 2
DISPATCH_BATCH = 500


class JobNotCancelable(Conflict):
    pass


class JobNotRetryable(Conflict):
    pass


def _enqueue(job_id: int) -> None:
    """Dispatch once the row is committed. The queued row without `dispatched_at` is the intent: if the
    broker cannot take the message now, jobs_dispatch_pending sends it later."""
    transaction.on_commit(lambda: job_dispatch(job_id=job_id))


def job_dispatch(*, job_id: int) -> bool:
    """Hand a queued job to the broker, by the task's name (media_jobs.tasks imports this module, not
    the other way round), and note that it did; False when the broker is unreachable."""
    try:
        current_app.tasks[JOB_RUN_TASK].delay(job_id)
    except Exception as exc:  # broker down or refusing: the row stays queued for the dispatcher
        logger.warning("job %s not dispatched yet (%s: %s)", job_id, type(exc).__name__, exc)
        return False
    MediaJob.objects.filter(pk=job_id, status=Status.QUEUED).update(dispatched_at=timezone.now())
    return True


def broker_epoch() -> str:
    """Which start of the broker this is: Redis's `run_id`, which every restart changes. Empty for a broker
    that keeps its messages across restarts (the filesystem one), or that cannot be asked."""
    try:
        with current_app.connection_for_read() as connection:
            client = getattr(connection.default_channel, "client", None)
            return str(client.info("server")["run_id"]) if client is not None else ""
    except Exception:  # unreachable: the dispatch below fails and says so
        return ""


def broker_restarted(*, epoch: str, now: datetime) -> bool:
    """Whether the broker has restarted since the last sweep saw it, and so may have lost every message it
    held (Redis without persistence). A broker never seen before counts as restarted: nothing says its queue
    survived, and a second message for a job costs one refused claim. Only the sweep that records the new
    start answers True."""
    if not epoch:
        return False
    seen, created = Heartbeat.objects.get_or_create(name="broker", defaults={"seen_at": now, "detail": epoch})
    if created:
        return True
    if seen.detail == epoch:
        return False
    return bool(Heartbeat.objects.filter(name="broker", detail=seen.detail).update(detail=epoch, seen_at=now))


def jobs_dispatch_pending(*, now: datetime | None = None) -> dict:
    """Send every queued job the broker never took, and every one that has waited past
    JOB_REDISPATCH_SECONDS since it was sent (a broker that lost its messages), or that was sent before the
    broker restarted. A second message for a job is harmless: only one worker's claim succeeds."""
    now = now or timezone.now()
    fresh = now - timedelta(seconds=DISPATCH_GRACE_SECONDS)  # its own on_commit dispatch may be under way
    sent_long_ago = Q(dispatched_at__lt=now - timedelta(seconds=settings.JOB_REDISPATCH_SECONDS))
    if broker_restarted(epoch=broker_epoch(), now=now):
        logger.warning("the broker restarted: sending every queued job again")
        sent_long_ago = Q(dispatched_at__isnull=False)
    pending = MediaJob.objects.filter(status=Status.QUEUED).filter(
        Q(dispatched_at__isnull=True, updated_at__lt=fresh) | sent_long_ago
    )
    sent = failed = 0
    for job_id in pending.order_by("created_at").values_list("pk", flat=True)[:DISPATCH_BATCH]:
        if job_dispatch(job_id=job_id):
            sent += 1
        else:
            failed += 1
            break  # the broker is down: the next sweep tries again
    if sent or failed:
        logger.warning("dispatched %s pending job(s); the broker refused %s", sent, failed)
    return {"sent": sent, "failed": failed}


def _notify(job_id: int) -> None:
    """Final states send the signed webhook once, when the job asked for one; failed and canceled
    jobs also clear away what their kind had started (`JobKind.abandon`), ready ones complete it
    (`JobKind.complete`)."""
    job = MediaJob.objects.get(pk=job_id)
    kind = job_kind(job.kind)
    if job.status in (Status.FAILED, Status.CANCELED) and kind.abandon is not None:
        abandon = kind.abandon
        transaction.on_commit(lambda: abandon(job))
    if job.status == Status.READY and kind.complete is not None:
        kind.complete(job)
    if job.callback_url and job.is_final:
        webhook_enqueue(job=job)


def job_create(
    *,
    workspace: Workspace,
    kind: str,
    params: dict,
    person_id: int | None = None,
    name: str = "",
    callback_url: str = "",
    input_data: bytes | None = None,
    input_extension: str = "bin",
) -> MediaJob:
    """A queued job whose task is sent once the row is committed (never a task for a missing row).

    `input_data` is a file the job works from (a driving video): stored with the row, or not at all.
    """
    if callback_url:
        callback_url = callback_url_validate(callback_url)
    with guarded_files() as files, transaction.atomic():
        job = MediaJob(
            workspace=workspace, person_id=person_id, kind=kind, params=params, name=name, callback_url=callback_url
        )
        if input_data is not None:
            job.input_file.name = files.save(random_name(f"jobs/inputs/{kind}", input_extension), input_data)
        job.full_clean(exclude=["workspace", "person", "callback_url", "input_file"])
        job.save()
        _enqueue(job.pk)
    return job


def process_identity() -> str:
    """`host:pid` of this process, as recorded on the jobs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claimant_is_gone(claimed_by: str) -> bool:
    """Whether the process that claimed a job ran on this machine and has since died (SIGKILL, OOM).
    A claimant on another machine is never judged from here: the time limit covers it."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


def job_claim(*, job_id: int) -> MediaJob | None:
    """queued → processing; None if another worker has it, it was canceled, or it has finished.

    A job still `processing` under a process that has died on this machine is taken over at once (the
    broker redelivers the message of a killed worker child), unless it has used up its attempts."""
    now = timezone.now()
    claim = {"status": Status.PROCESSING, "started_at": now, "attempts": F("attempts") + 1, "progress": 0,
             "claimed_by": process_identity(), "updated_at": now}  # fmt: skip
    if MediaJob.objects.filter(pk=job_id, status=Status.QUEUED).update(**claim):
        return MediaJob.objects.get(pk=job_id)
    orphan = MediaJob.objects.filter(pk=job_id, status=Status.PROCESSING).only("claimed_by", "attempts").first()
    if orphan is None or not claimant_is_gone(orphan.claimed_by):
        return None
    if orphan.attempts >= MAX_ATTEMPTS:
        job_fail(job_id=job_id, error=_worker_stopped(orphan.attempts))
        return None
    taken = MediaJob.objects.filter(pk=job_id, status=Status.PROCESSING, claimed_by=orphan.claimed_by).update(**claim)
    return MediaJob.objects.get(pk=job_id) if taken else None


def _worker_stopped(attempts: int) -> str:
    return f"The worker stopped while running this job {attempts} times (killed or out of memory)."


def job_progress(*, job_id: int, progress: int) -> None:
    MediaJob.objects.filter(pk=job_id, status=Status.PROCESSING).update(
        progress=max(0, min(99, progress)), updated_at=timezone.now()
    )


def job_execute(*, job_id: int) -> MediaJob | None:
    """Claim, run the kind's runner, sign and store its file, mark ready. Delivering the task twice is harmless.

    Generated media is signed (C2PA) before it is stored: a file that cannot be signed fails the job
    (provenance.SigningFailed) and nothing is stored."""
    job = job_claim(job_id=job_id)
    if job is None:
        return None
    run = job_kind(job.kind).run
    with tempfile.TemporaryDirectory(prefix=f"job{job.pk}-") as work_dir:
        output = run(job=job, work_dir=Path(work_dir), progress=lambda pct: job_progress(job_id=job.pk, progress=pct))
        stored = ""
        if output.path is not None:
            if output.claim is not None:
                provenance_sign(output.path, fmt=output.extension, claim=output.claim)
            with output.path.open("rb") as handle:
                stored = default_storage.save(random_name(f"jobs/{job.kind}", output.extension), File(handle))
    finished = MediaJob.objects.filter(pk=job.pk, status=Status.PROCESSING).update(
        status=Status.READY, progress=100, result_file=stored, result=output.result, error="",
        finished_at=timezone.now(), updated_at=timezone.now(),
    )  # fmt: skip
    if not finished:  # canceled (or reaped) while running: the work is discarded
        if stored:
            default_storage.delete(stored)
        return MediaJob.objects.get(pk=job.pk)
    _notify(job.pk)
    return MediaJob.objects.get(pk=job.pk)


def job_wait(*, job: MediaJob, seconds: float, interval: float = 0.1) -> MediaJob:
    """The job once it has ended, or as it is after `seconds` (for a caller that can answer either way)."""
    deadline = time.monotonic() + seconds
    job.refresh_from_db()
    while not job.is_final and time.monotonic() < deadline:
        time.sleep(interval)
        job.refresh_from_db()
    return job


def job_fail(*, job_id: int, error: str) -> bool:
    """Any active state → failed, with a message the API shows; False if the job had already ended."""
    failed = MediaJob.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=Status.FAILED, error=error[:2000], finished_at=timezone.now(), updated_at=timezone.now()
    )
    if failed:
        logger.info("job %s failed: %s", job_id, error)
        _notify(job_id)
    return bool(failed)


def job_requeue(*, job_id: int, error: str, claimed_by: str | None = None) -> bool:
    """processing → queued, before a retry of the same task picks it up again. With `claimed_by`, only
    if that process still holds it (the sweep must not take a job another worker has just taken over)."""
    jobs = MediaJob.objects.filter(pk=job_id, status=Status.PROCESSING)
    if claimed_by is not None:
        jobs = jobs.filter(claimed_by=claimed_by)
    return bool(jobs.update(status=Status.QUEUED, error=f"Retrying after: {error}"[:2000], updated_at=timezone.now()))


def job_cancel(*, job: MediaJob) -> MediaJob:
    """queued or processing → canceled. A running engine finishes its step, and its output is discarded."""
    canceled = MediaJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
        status=Status.CANCELED, finished_at=timezone.now(), updated_at=timezone.now()
    )
    if not canceled:
        job.refresh_from_db()
        raise JobNotCancelable(f"The job has already ended ({job.status}).")
    _notify(job.pk)
    job.refresh_from_db()
    return job


def job_retry_refusal(*, job: MediaJob) -> str:
    """Why the job cannot be run again ("" when it can): it has not ended badly, the file it works from is
    gone, or its kind says what it needed is gone (`JobKind.retry_refusal`: a clone whose samples were deleted)."""
    if job.status not in (Status.FAILED, Status.CANCELED):
        return f"Only a failed or canceled job can be retried; this one is {job.status}."
    if job.input_file and not default_storage.exists(job.input_file.name):
        return "The file this job worked from has been deleted: start a new job instead."
    refusal = job_kind(job.kind).retry_refusal
    return refusal(job) if refusal is not None else ""


@transaction.atomic
def job_retry(*, job: MediaJob) -> MediaJob:
    """failed or canceled → queued again (operators, from the admin); JobNotRetryable says why not."""
    refusal = job_retry_refusal(job=job)
    if refusal:
        raise JobNotRetryable(refusal)
    retried = MediaJob.objects.filter(pk=job.pk, status__in=(Status.FAILED, Status.CANCELED)).update(
        status=Status.QUEUED,
        error="",
        progress=0,
        finished_at=None,
        started_at=None,
        dispatched_at=None,
        updated_at=timezone.now(),
    )
    if retried:
        _enqueue(job.pk)
    job.refresh_from_db()
    return job


def job_rename(*, job: MediaJob, name: str) -> MediaJob:
    job.name = name
    job.full_clean(exclude=["workspace", "person", "callback_url"])
    job.save(update_fields=["name", "updated_at"])
    return job


@transaction.atomic
def job_delete(*, job: MediaJob) -> None:
    """Delete the row and, once that has committed, its file. A running job is canceled first."""
    MediaJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(status=Status.CANCELED)
    delete_file_on_commit(job.result_file.name)
    delete_file_on_commit(job.input_file.name)
    job.delete()


def jobs_reap_stale(*, now: datetime | None = None) -> dict:
    """Find `processing` jobs whose worker died (SIGKILL, OOM, a lost machine) and run them again,
    or fail them after MAX_ATTEMPTS. A claimant that died on this machine is seen at once; one on another
    machine, once the hard time limit has passed. The claim makes a late redelivery of the old message
    harmless, and each step is conditional, so two sweeps never both act on a job."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) - STALE_MARGIN
    suspects = MediaJob.objects.filter(status=Status.PROCESSING).filter(
        Q(started_at__lt=cutoff) | Q(claimed_by__startswith=f"{socket.gethostname()}:")
    )
    requeued = failed = 0
    for job in suspects.only("pk", "attempts", "started_at", "claimed_by"):
        if job.started_at and job.started_at >= cutoff and not claimant_is_gone(job.claimed_by):
            continue
        if job.attempts >= MAX_ATTEMPTS:
            failed += job_fail(job_id=job.pk, error=_worker_stopped(job.attempts))
            continue
        with transaction.atomic():
            if job_requeue(job_id=job.pk, error="the worker running it stopped", claimed_by=job.claimed_by):
                MediaJob.objects.filter(pk=job.pk).update(dispatched_at=None)
                _enqueue(job.pk)
                requeued += 1
    if requeued or failed:
        logger.warning("reaped stale jobs: %s requeued, %s failed", requeued, failed)
    return {"requeued": requeued, "failed": failed}
