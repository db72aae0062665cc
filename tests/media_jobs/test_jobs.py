"""The job lifecycle through the service and the Celery task (eager), with stand-in runners."""

from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from media_jobs import services
from media_jobs.engines.base import EngineError
from media_jobs.kinds import JobOutput, job_kinds
from media_jobs.models import MediaJob
from media_jobs.tasks import job_run
from tests.helpers import replace_runner, stored_files

pytestmark = pytest.mark.django_db

NOOP = "noop"


@pytest.fixture
def runner(monkeypatch):
    """Replace the no-op runner with a scripted one: each call pops the next step."""
    steps: list = []
    calls: list[int] = []

    def scripted(*, job, work_dir: Path, progress):
        calls.append(job.pk)
        progress(50)
        step = steps.pop(0) if steps else "file"
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(job)
        path = work_dir / "out.txt"
        path.write_text(f"job {job.pk}")
        return JobOutput(path=path, extension="txt", result={"ok": True})

    replace_runner(monkeypatch, NOOP, scripted)
    scripted.steps, scripted.calls = steps, calls
    return scripted


def create(workspace, capture, **kwargs) -> MediaJob:
    with capture(execute=True):
        job = services.job_create(workspace=workspace, kind=NOOP, params={}, **kwargs)
    job.refresh_from_db()
    return job


def test_a_job_runs_to_ready_with_its_file(workspace, runner, media_root, django_capture_on_commit_callbacks):
    job = create(workspace, django_capture_on_commit_callbacks, name="first")

    assert (job.status, job.progress, job.attempts, job.error) == ("ready", 100, 1, "")
    assert job.result == {"ok": True}
    assert job.result_file.name.startswith("jobs/noop/") and job.result_file.name.endswith(".txt")
    assert job.result_file.read() == f"job {job.pk}".encode()
    assert job.started_at <= job.finished_at


def test_the_task_is_sent_only_after_commit(workspace, runner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.job_create(workspace=workspace, kind=NOOP, params={})

    assert job.status == "queued" and runner.calls == [] and len(callbacks) == 1


def test_running_the_task_twice_does_the_work_once(workspace, runner, django_capture_on_commit_callbacks):
    job = create(workspace, django_capture_on_commit_callbacks)

    job_run.delay(job.pk)

    job.refresh_from_db()
    assert runner.calls == [job.pk] and job.attempts == 1 and job.status == "ready"


def test_a_retryable_error_then_success_ends_ready(workspace, runner, django_capture_on_commit_callbacks):
    runner.steps.append(EngineError("provider busy", retryable=True))

    job = create(workspace, django_capture_on_commit_callbacks)

    assert job.status == "ready" and job.attempts == 2 and runner.calls == [job.pk, job.pk]


def test_retryable_errors_give_up_after_the_retries(workspace, runner, django_capture_on_commit_callbacks):
    runner.steps.extend([EngineError("busy", retryable=True) for _ in range(5)])

    job = create(workspace, django_capture_on_commit_callbacks)

    assert job.status == "failed" and job.error == "busy" and job.attempts == 4


def test_a_permanent_error_fails_with_its_message(workspace, runner, django_capture_on_commit_callbacks):
    runner.steps.append(EngineError("The text is empty."))

    job = create(workspace, django_capture_on_commit_callbacks)

    assert (job.status, job.error, job.attempts) == ("failed", "The text is empty.", 1)
    assert job.finished_at is not None


def test_an_unexpected_crash_fails_without_leaking_internals(workspace, runner, django_capture_on_commit_callbacks):
    runner.steps.append(ZeroDivisionError("secret detail"))

    job = create(workspace, django_capture_on_commit_callbacks)

    assert job.status == "failed"
    assert job.error == "Internal error while running the job (ZeroDivisionError)."


def test_a_job_past_its_soft_time_limit_fails_clearly(workspace, runner, django_capture_on_commit_callbacks):
    runner.steps.append(SoftTimeLimitExceeded())

    job = create(workspace, django_capture_on_commit_callbacks)

    assert job.status == "failed" and "time limit" in job.error


def test_a_canceled_queued_job_never_runs(workspace, runner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.job_create(workspace=workspace, kind=NOOP, params={})
    services.job_cancel(job=job)

    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert job.status == "canceled" and runner.calls == []


def test_a_job_canceled_while_running_discards_its_output(
    workspace, runner, media_root, django_capture_on_commit_callbacks
):
    def cancel_midway(job):
        services.job_cancel(job=job)
        path = Path(media_root) / "tmp-output.txt"
        path.write_text("late")
        return JobOutput(path=path, extension="txt")

    runner.steps.append(cancel_midway)
    before = set(stored_files(media_root)) | {"tmp-output.txt"}

    job = create(workspace, django_capture_on_commit_callbacks)

    assert job.status == "canceled" and not job.result_file
    assert set(stored_files(media_root)) == before


def test_canceling_a_finished_job_is_a_conflict(workspace, runner, django_capture_on_commit_callbacks):
    job = create(workspace, django_capture_on_commit_callbacks)

    with pytest.raises(services.JobNotCancelable):
        services.job_cancel(job=job)


def test_a_failed_job_can_be_retried(workspace, runner, django_capture_on_commit_callbacks):
    runner.steps.append(EngineError("bad luck"))
    job = create(workspace, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.job_retry(job=job)

    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == ("ready", "", 2)


def test_the_sweep_reruns_a_job_whose_worker_died(workspace, runner, settings, django_capture_on_commit_callbacks):
    job = MediaJob.objects.create(
        workspace=workspace, kind=NOOP, status="processing", attempts=1,
        started_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120),
    )  # fmt: skip
    fresh = MediaJob.objects.create(
        workspace=workspace, kind=NOOP, status="processing", attempts=1, started_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.jobs_reap_stale()

    job.refresh_from_db()
    fresh.refresh_from_db()
    assert outcome == {"requeued": 1, "failed": 0}
    assert (job.status, job.attempts) == ("ready", 2)
    assert fresh.status == "processing"


def test_the_sweep_fails_a_job_that_keeps_killing_its_worker(workspace, settings):
    job = MediaJob.objects.create(
        workspace=workspace, kind=NOOP, status="processing", attempts=services.MAX_ATTEMPTS,
        started_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120),
    )  # fmt: skip

    assert services.jobs_reap_stale() == {"requeued": 0, "failed": 1}

    job.refresh_from_db()
    assert job.status == "failed" and "killed or out of memory" in job.error


def test_deleting_a_job_deletes_its_file(workspace, runner, media_root, django_capture_on_commit_callbacks):
    job = create(workspace, django_capture_on_commit_callbacks)
    name = job.result_file.name

    with django_capture_on_commit_callbacks(execute=True):
        services.job_delete(job=job)

    assert name not in stored_files(media_root)
    assert not MediaJob.objects.filter(pk=job.pk).exists()


def test_an_unknown_kind_fails_clearly(workspace, django_capture_on_commit_callbacks, monkeypatch):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.job_create(workspace=workspace, kind="lora_training", params={})
    monkeypatch.delitem(job_kinds(), "lora_training")  # a worker whose settings don't register the kind
    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert job.status == "failed" and "cannot run lora_training jobs yet" in job.error


def test_the_real_noop_engine_runs(workspace, django_capture_on_commit_callbacks):
    job = create(workspace, django_capture_on_commit_callbacks)

    assert job.status == "ready" and job.result == {"slept": 0.0} and not job.result_file
