"""The job lifecycle: create, claim, run, finish, fail, retry, cancel, reap. The row is the truth.

Every state change is a conditional UPDATE from the states it may leave, so two workers (or a
worker and a cancel) can never both move a job: whoever loses the race sees 0 rows and stops.
"""

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Workspace
from characters.models import Person
from media_jobs.models import MediaJob
from media_jobs.runners import ABANDON, COMPLETE, runner_for
from persona_platform.errors import Conflict, InvalidInput
from persona_platform.media import delete_file_on_commit, guarded_files, random_name

logger = logging.getLogger(__name__)

Status = MediaJob.Status
ACTIVE = (Status.QUEUED, Status.PROCESSING)
# A job still `processing` this long after it started has lost its worker: the hard time limit
# would have stopped the task long before.
STALE_MARGIN = timedelta(seconds=60)
MAX_ATTEMPTS = 3


class JobNotCancelable(Conflict):
    pass


def _enqueue(job_id: int) -> None:
    from media_jobs.tasks import job_run as job_run_task

    transaction.on_commit(lambda: job_run_task.delay(job_id))


def _notify(job_id: int) -> None:
    """Final states send the signed webhook once, when the job asked for one; failed and canceled
    jobs also clear away what their kind had started (runners.ABANDON), ready ones complete it
    (runners.COMPLETE)."""
    job = MediaJob.objects.get(pk=job_id)
    if job.status in (Status.FAILED, Status.CANCELED) and job.kind in ABANDON:
        transaction.on_commit(lambda: ABANDON[job.kind](job))
    if job.status == Status.READY and job.kind in COMPLETE:
        COMPLETE[job.kind](job)
    if job.callback_url and job.is_final:
        from media_jobs.webhooks import webhook_enqueue

        webhook_enqueue(job=job)


def job_create(
    *,
    workspace: Workspace,
    kind: str,
    params: dict,
    person: Person | None = None,
    name: str = "",
    callback_url: str = "",
    input_data: bytes | None = None,
    input_extension: str = "bin",
) -> MediaJob:
    """A queued job whose task is sent once the row is committed (never a task for a missing row).

    `input_data` is a file the job works from (a driving video): stored with the row, or not at all.
    """
    if callback_url:
        from media_jobs.webhooks import callback_url_validate

        callback_url = callback_url_validate(callback_url)
    with guarded_files() as files, transaction.atomic():
        job = MediaJob(
            workspace=workspace, person=person, kind=kind, params=params, name=name, callback_url=callback_url
        )
        if input_data is not None:
            job.input_file.name = files.save(random_name(f"jobs/inputs/{kind}", input_extension), input_data)
        job.full_clean(exclude=["workspace", "person", "callback_url", "input_file"])
        job.save()
        _enqueue(job.pk)
    return job


def job_claim(*, job_id: int) -> MediaJob | None:
    """queued → processing; None if another worker has it, it was canceled, or it has finished."""
    claimed = MediaJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.PROCESSING, started_at=timezone.now(), attempts=F("attempts") + 1, progress=0,
        updated_at=timezone.now(),
    )  # fmt: skip
    return MediaJob.objects.get(pk=job_id) if claimed else None


def job_progress(*, job_id: int, progress: int) -> None:
    MediaJob.objects.filter(pk=job_id, status=Status.PROCESSING).update(
        progress=max(0, min(99, progress)), updated_at=timezone.now()
    )


def job_execute(*, job_id: int) -> MediaJob | None:
    """Claim, run the kind's runner, store its file, mark ready. Delivering the task twice is harmless."""
    job = job_claim(job_id=job_id)
    if job is None:
        return None
    runner = runner_for(job.kind)
    with tempfile.TemporaryDirectory(prefix=f"job{job.pk}-") as work_dir:
        output = runner(
            job=job, work_dir=Path(work_dir), progress=lambda pct: job_progress(job_id=job.pk, progress=pct)
        )
        stored = ""
        if output.path is not None:
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


def job_fail(*, job_id: int, error: str) -> bool:
    """Any active state → failed, with a message the API shows; False if the job had already ended."""
    failed = MediaJob.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=Status.FAILED, error=error[:2000], finished_at=timezone.now(), updated_at=timezone.now()
    )
    if failed:
        logger.info("job %s failed: %s", job_id, error)
        _notify(job_id)
    return bool(failed)


def job_requeue(*, job_id: int, error: str) -> bool:
    """processing → queued, before a retry of the same task picks it up again."""
    return bool(
        MediaJob.objects.filter(pk=job_id, status=Status.PROCESSING).update(
            status=Status.QUEUED, error=f"Retrying after: {error}"[:2000], updated_at=timezone.now()
        )
    )


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


@transaction.atomic
def job_retry(*, job: MediaJob) -> MediaJob:
    """failed or canceled → queued again (operators, from the admin)."""
    retried = MediaJob.objects.filter(pk=job.pk, status__in=(Status.FAILED, Status.CANCELED)).update(
        status=Status.QUEUED, error="", progress=0, finished_at=None, started_at=None, updated_at=timezone.now()
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


def jobs_reap_stale(*, now=None) -> dict:
    """Find `processing` jobs whose worker died (SIGKILL, OOM, a lost machine) and run them again,
    or fail them after MAX_ATTEMPTS. The claim makes a late redelivery of the old message harmless."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) - STALE_MARGIN
    requeued = failed = 0
    for job in MediaJob.objects.filter(status=Status.PROCESSING, started_at__lt=cutoff).only("pk", "attempts"):
        if job.attempts >= MAX_ATTEMPTS:
            failed += job_fail(
                job_id=job.pk,
                error=f"The worker stopped while running this job {job.attempts} times (killed or out of memory).",
            )
            continue
        with transaction.atomic():
            if job_requeue(job_id=job.pk, error="the worker running it stopped"):
                _enqueue(job.pk)
                requeued += 1
    if requeued or failed:
        logger.warning("reaped stale jobs: %s requeued, %s failed", requeued, failed)
    return {"requeued": requeued, "failed": failed}


PREVIEW_SCRIPT_CHARS = 300


def _require_portrait(person: Person) -> None:
    if not person.photo:
        raise InvalidInput(f"{person.name} has no photo to animate; add a portrait first.")


def talking_head_start(
    *,
    person: Person,
    script: str,
    kind: str = MediaJob.Kind.TALKING_HEAD,
    name: str = "",
    callback_url: str = "",
    preview: bool = False,
) -> MediaJob:
    """A job that makes the person say the script: speech in its voice, then its photo speaking.
    A preview renders small and fast, for a short script."""
    script = script.strip()
    if not script:
        raise InvalidInput("script: may not be blank.")
    if preview and len(script) > PREVIEW_SCRIPT_CHARS:
        raise InvalidInput(
            f"script: a preview speaks at most {PREVIEW_SCRIPT_CHARS} characters; this is {len(script)}."
        )
    _require_portrait(person)
    return job_create(
        workspace=person.workspace,
        kind=kind,
        person=person,
        name=name,
        params={"script": script, "preview": preview},
        callback_url=callback_url,
    )


def speech_start(
    *, person: Person, text: str, audio_format: str = "wav", name: str = "", callback_url: str = ""
) -> MediaJob:
    """A job that speaks the text in the person's voice, with the person's voice settings."""
    text = text.strip()
    if not text:
        raise InvalidInput("text: may not be blank.")
    return job_create(
        workspace=person.workspace,
        kind=MediaJob.Kind.SPEECH,
        person=person,
        name=name,
        params={"text": text, "format": audio_format, "person_voice": True},
        callback_url=callback_url,
    )


def motion_transfer_start(
    *, person: Person, video: bytes, field: str = "video", name: str = "", callback_url: str = "", preview: bool = False
) -> MediaJob:
    """A job that moves the person's face as the face in the driving video moves, with its sound.
    The video is probed first, so what is queued is a real video within the limits."""
    from characters.services.videos import probed_video, video_shows_face

    _require_portrait(person)
    with probed_video(video, field=field) as (path, info):
        if not video_shows_face(path):
            raise InvalidInput(f"{field}: no face was found in the first seconds of the driving video.")
    return job_create(
        workspace=person.workspace,
        kind=MediaJob.Kind.MOTION_TRANSFER,
        person=person,
        name=name,
        params={
            "preview": preview,
            "driving_video": {
                "duration": round(info.duration, 3),
                "width": info.width,
                "height": info.height,
                "has_audio": info.audio_codec is not None,
            },
        },
        callback_url=callback_url,
        input_data=video,
        input_extension=info.container,
    )
