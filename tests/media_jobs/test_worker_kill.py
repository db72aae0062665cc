"""A real Celery worker on Redis, SIGKILLed in the middle of a job: the sweep recovers the job, which
then runs exactly once to its end (the killed worker's message, redelivered later, is a no-op)."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from media_jobs.models import MediaJob
from media_jobs.services import job_create, jobs_reap_stale
from persona_platform.celery import app as celery_app
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY_TIMEOUT = 8  # above the worker's hard time limit, as settings insist

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL and Redis shared with a worker process (CI sets DATABASE_URL and REDIS_URL)",
    ),
]


def worker_env(tmp_path) -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_TASK_SOFT_TIME_LIMIT": "5",
        "CELERY_TASK_TIME_LIMIT": "6",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "persona_platform", "worker", "--pool", "prefork",
         "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def job_state(job_id: int) -> tuple[str, int]:
    return tuple(MediaJob.objects.filter(pk=job_id).values_list("status", "attempts").get())


@pytest.fixture
def real_broker():
    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()  # no messages from earlier runs
    yield
    celery_app.conf.task_always_eager = True


def test_a_job_whose_worker_is_killed_is_recovered_and_runs_once(tmp_path, real_broker):
    env = worker_env(tmp_path)
    log = tmp_path / "worker.log"
    workspace = factories.workspace_create()
    first = start_worker(env, log)
    second = None
    try:
        job = job_create(workspace=workspace, kind="noop", params={"seconds": 3})
        wait_for(lambda: job_state(job.pk) == ("processing", 1), 60, "the first worker to start the job")

        os.killpg(first.pid, signal.SIGKILL)  # the whole worker, pool child included: like a lost machine
        first.wait(timeout=10)
        time.sleep(4)  # longer than the job: had anything survived, it would have finished by now
        assert job_state(job.pk) == ("processing", 1)

        later = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
        assert jobs_reap_stale(now=later) == {"requeued": 1, "failed": 0}
        second = start_worker(env, log)
        wait_for(lambda: job_state(job.pk)[0] == "ready", 60, "the recovered job to finish")
        assert job_state(job.pk) == ("ready", 2)

        # The killed worker's message is still unacknowledged in Redis. Once its visibility timeout
        # passes it is restored to the queue (workers do this every few minutes; here the test does it
        # at once) and the live worker gets it again: its claim finds the job finished and does nothing.
        with celery_app.connection_for_write() as conn:
            channel = conn.default_channel
            assert channel.client.hlen("unacked") == 1
            for tag in channel.client.hkeys("unacked"):  # what the visibility timeout does, without the wait
                channel.qos.restore_by_tag(tag, channel.client)

        def deliveries(event: str) -> int:
            return len(re.findall(rf"Task media_jobs\.job_run\[[0-9a-f-]+\] {event}", log.read_text()))

        # Three deliveries in all (the killed one, the sweep's, the restored one), two that finished.
        wait_for(lambda: deliveries("received") == 3 and deliveries("succeeded") == 2, 60, "the restored message")
        assert job_state(job.pk) == ("ready", 2)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
    job.refresh_from_db()
    assert job.result == {"slept": 3.0} and job.error == ""
