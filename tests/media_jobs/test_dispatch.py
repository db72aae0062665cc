"""Jobs that cannot be lost: a broker outage delays a job but never loses it, and a job whose worker
process died is taken back at once, by the redelivered message or by the sweep, and runs once."""

import socket
import subprocess
from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone
from kombu.exceptions import OperationalError

from characters.models import SpeakingProfile
from media_jobs import services
from media_jobs.models import Heartbeat, MediaJob
from media_jobs.tasks import jobs_dispatch_pending, jobs_reap_stale

pytestmark = pytest.mark.django_db


@pytest.fixture
def persona(workspace):
    return SpeakingProfile.objects.create(workspace=workspace, name="Narrator")


@pytest.fixture
def broker_down(monkeypatch):
    """Publishing any job's message fails, as it does with the broker unreachable."""
    task = current_app.tasks[services.JOB_RUN_TASK]
    calls = []

    def unreachable(*args, **kwargs):
        calls.append(args)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(task, "delay", unreachable)
    return calls


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_with_the_broker_down_the_api_answers_201_and_the_job_waits_queued(
    api_client, persona, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/v1/speech", {"persona_id": str(persona.pk), "text": "Hello there.", "name": "Hi"}, format="json"
        )

    assert response.status_code == 201, response.content
    job = MediaJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.dispatched_at) == ("queued", None) and len(broker_down) == 1


def test_the_dispatcher_sends_the_waiting_job_once_the_broker_is_back(
    workspace, broker_down, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(workspace=workspace, kind="noop", params={})
    MediaJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(seconds=10))

    assert jobs_dispatch_pending() == {"sent": 0, "failed": 1}  # still down: it stays queued
    monkeypatch.undo()  # the broker is back
    assert jobs_dispatch_pending() == {"sent": 1, "failed": 0}

    job.refresh_from_db()
    assert job.status == "ready" and job.attempts == 1
    assert jobs_dispatch_pending() == {"sent": 0, "failed": 0}  # nothing is sent twice


def test_a_job_sent_a_moment_ago_is_left_to_its_own_dispatch(
    workspace, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.job_create(workspace=workspace, kind="noop", params={})

    assert jobs_dispatch_pending() == {"sent": 0, "failed": 0}


def test_a_dispatched_job_waiting_too_long_is_sent_again(workspace, settings, django_capture_on_commit_callbacks):
    """A broker that lost its messages (Redis restarted without persistence) does not strand the job."""
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_create(workspace=workspace, kind="noop", params={})
    MediaJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - timedelta(seconds=settings.JOB_REDISPATCH_SECONDS + 1)
    )

    assert jobs_dispatch_pending() == {"sent": 1, "failed": 0}
    job.refresh_from_db()
    assert job.status == "ready"


def orphan(workspace, *, attempts: int = 1, started_seconds_ago: int = 5) -> MediaJob:
    """A job `processing` under a worker process of this machine that has died."""
    job = MediaJob.objects.create(workspace=workspace, kind="noop", params={})
    MediaJob.objects.filter(pk=job.pk).update(
        status="processing",
        attempts=attempts,
        started_at=timezone.now() - timedelta(seconds=started_seconds_ago),
        claimed_by=f"{socket.gethostname()}:{dead_pid()}",
    )
    return job


def test_the_redelivered_message_of_a_killed_worker_child_takes_its_job_back(workspace):
    job = orphan(workspace)

    claimed = services.job_claim(job_id=job.pk)

    assert claimed is not None and claimed.attempts == 2 and claimed.claimed_by == services.process_identity()
    assert services.job_claim(job_id=job.pk) is None  # a live claimant keeps its job


def test_a_job_held_by_a_live_process_or_another_machine_is_not_taken(workspace):
    live = orphan(workspace)
    MediaJob.objects.filter(pk=live.pk).update(claimed_by=services.process_identity())
    remote = orphan(workspace)
    MediaJob.objects.filter(pk=remote.pk).update(claimed_by="another-host:1")

    assert services.job_claim(job_id=live.pk) is None
    assert services.job_claim(job_id=remote.pk) is None
    assert jobs_reap_stale() == {"requeued": 0, "failed": 0}


def test_the_sweep_reruns_a_job_whose_process_died_without_waiting_for_the_time_limit(
    workspace, django_capture_on_commit_callbacks
):
    job = orphan(workspace)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_reap_stale() == {"requeued": 1, "failed": 0}
    assert jobs_reap_stale() == {"requeued": 0, "failed": 0}  # its effect happens once

    job.refresh_from_db()
    assert job.status == "ready" and job.attempts == 2


def test_a_job_whose_worker_keeps_dying_fails_after_its_attempts(workspace):
    job = orphan(workspace, attempts=services.MAX_ATTEMPTS)

    assert services.job_claim(job_id=job.pk) is None

    job.refresh_from_db()
    assert job.status == "failed" and "killed or out of memory" in job.error


def test_after_a_broker_restart_every_queued_job_it_held_is_sent_again(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    """Redis without persistence forgets its queue when it restarts: the jobs it held are sent at once,
    not after JOB_REDISPATCH_SECONDS."""
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_create(workspace=workspace, kind="noop", params={})
    MediaJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now() - timedelta(seconds=5))
    monkeypatch.setattr(services, "broker_epoch", lambda: "run-1")
    Heartbeat.objects.create(name="broker", seen_at=timezone.now(), detail="run-1")  # seen by an earlier sweep
    assert jobs_dispatch_pending() == {"sent": 0, "failed": 0}  # the same start: its messages are there

    monkeypatch.setattr(services, "broker_epoch", lambda: "run-2")  # restarted, empty
    assert jobs_dispatch_pending() == {"sent": 1, "failed": 0}
    assert jobs_dispatch_pending() == {"sent": 0, "failed": 0}  # one sweep acts on one restart

    job.refresh_from_db()
    assert job.status == "ready" and job.attempts == 1


def test_a_broker_never_seen_before_gets_the_queued_jobs_again(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    """Nothing says a broker first seen now kept the queue of the one before it (the first sweep after a
    deployment may follow a restart): the jobs are sent again, and the extra message costs one refused claim."""
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_create(workspace=workspace, kind="noop", params={})
    MediaJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now() - timedelta(seconds=5))
    monkeypatch.setattr(services, "broker_epoch", lambda: "run-1")

    assert jobs_dispatch_pending() == {"sent": 1, "failed": 0}
    assert jobs_dispatch_pending() == {"sent": 0, "failed": 0}


def test_the_broker_epoch_is_redis_run_id_or_empty(settings):
    epoch = services.broker_epoch()

    if settings.CELERY_BROKER_URL.startswith("redis"):
        assert len(epoch) == 40  # Redis's run_id: 40 hex characters
    else:
        assert epoch == ""  # the filesystem broker keeps its messages across restarts
