from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from media_jobs import health
from media_jobs.heartbeats import heartbeat_record
from media_jobs.models import Heartbeat, MediaJob

pytestmark = pytest.mark.django_db

HEALTHY = {
    "status": "ok", "database": "ok", "broker": "ok", "storage": "ok", "worker": "ok", "beat": "ok",
    "oldest_queued_seconds": None, "provenance": {"signing": "local development certificate"},
    "live": {"processes": [], "sessions": 0},
}  # fmt: skip


@pytest.fixture(autouse=True)
def alive(settings):
    """The worker and beat have just said they are alive, and /healthz requires them to be."""
    settings.HEALTH_REQUIRES_WORKERS = True
    heartbeat_record(name="worker")
    heartbeat_record(name="beat")


def test_healthz_reports_database_broker_storage_worker_and_beat():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == HEALTHY


def test_healthz_is_503_naming_the_failing_part(monkeypatch):
    def broken():
        raise ConnectionError("broker down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {**HEALTHY, "status": "error", "broker": "error: ConnectionError"}


@pytest.mark.parametrize("component", ["worker", "beat"])
def test_healthz_is_503_when_the_worker_or_beat_has_been_silent(component, settings):
    Heartbeat.objects.filter(name=component).update(
        seen_at=timezone.now() - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 30)
    )

    response = Client().get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body[component].startswith("silent for ")
    assert int(body[component].split()[2]) >= settings.HEARTBEAT_STALE_SECONDS + 30


def test_a_component_never_heard_from_is_starting_only_while_the_server_is_new(monkeypatch, settings):
    Heartbeat.objects.filter(name="beat").delete()
    monkeypatch.setattr(health, "STARTED_AT", timezone.now() - timedelta(seconds=5))

    assert Client().get("/healthz").json()["beat"] == "starting"  # the server started moments ago

    monkeypatch.setattr(health, "STARTED_AT", timezone.now() - timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS + 1))
    response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["beat"] == "never seen"


def test_healthz_reports_how_long_the_oldest_queued_job_has_waited(workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="noop")
    MediaJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=42))

    waited = Client().get("/healthz").json()["oldest_queued_seconds"]

    assert 42 <= waited < 60


def test_without_background_processes_required_a_silent_worker_is_reported_but_not_fatal(settings):
    settings.HEALTH_REQUIRES_WORKERS = False
    Heartbeat.objects.all().delete()

    response = Client().get("/healthz")

    assert response.status_code == 200 and response.json()["worker"] in ("starting", "never seen")


def test_healthz_needs_no_key_and_only_answers_get():
    assert Client().post("/healthz").status_code == 405
