"""Signs of life from the background processes, so that /healthz can tell a silent worker or beat
from a live one instead of guessing.

The worker's and beat's main processes each run a small thread that writes its row every
HEARTBEAT_SECONDS; when the process dies, the writes stop. /healthz compares the last write with
HEARTBEAT_STALE_SECONDS.
"""

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from media_jobs.models import Heartbeat
from media_jobs.selectors import job_oldest_queued
from media_jobs.services import process_identity

logger = logging.getLogger(__name__)

COMPONENTS = ("worker", "beat")


def heartbeat_record(*, name: str) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "detail": process_identity()[:200]}
    )


def heartbeats_start(*, name: str) -> threading.Thread:
    """Write `name`'s heartbeat now and then every HEARTBEAT_SECONDS, from a daemon thread of this process."""

    def beat() -> None:
        stop = threading.Event()
        while True:
            try:
                close_old_connections()
                heartbeat_record(name=name)
            except Exception as exc:  # the database is away for a moment: try again on the next beat
                logger.warning("heartbeat %s not written: %s", name, exc)
            stop.wait(settings.HEARTBEAT_SECONDS)

    thread = threading.Thread(target=beat, name=f"heartbeat-{name}", daemon=True)
    thread.start()
    return thread


def liveness(*, now: datetime | None = None, started_at: datetime | None = None) -> dict[str, str]:
    """`ok` or `silent for N s` per component. A component not heard from yet is `starting` until
    HEARTBEAT_STALE_SECONDS after `started_at` (this web process's start)."""
    now = now or timezone.now()
    stale = timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS)
    seen = dict(Heartbeat.objects.filter(name__in=COMPONENTS).values_list("name", "seen_at"))
    states = {}
    for name in COMPONENTS:
        if name in seen:
            silent = (now - seen[name]).total_seconds()
            states[name] = "ok" if silent <= stale.total_seconds() else f"silent for {int(silent)} s"
        elif started_at is not None and now - started_at <= stale:
            states[name] = "starting"
        else:
            states[name] = "never seen"
    return states


def oldest_queued_seconds(*, now: datetime | None = None) -> float | None:
    """How long the oldest queued job has waited, or None when nothing waits."""
    oldest = job_oldest_queued()
    return None if oldest is None else round(((now or timezone.now()) - oldest.created_at).total_seconds(), 1)
