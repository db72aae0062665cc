"""Which live processes exist and how busy they are, so a new conversation goes to one that has room.

Each `manage.py live` process writes its row every BEAT_SECONDS (its URL, sessions held, its limit); a row not
written for STALE_SECONDS belongs to a process that is gone. Rows live in the database, so embedded mode (no
Redis) and several machines work alike.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from knowledge.models import LiveProcess
from persona_platform.errors import DomainError


class LiveBusy(DomainError, kind="ServiceUnavailable", status=503):
    """Every live process (or this one) holds as many sessions as it can: try again after `retry_after`."""


BEAT_SECONDS = 2.0
STALE_SECONDS = 10.0
BUSY_RETRY_SECONDS = 10  # Retry-After when every live process is full


def live_process_beat(*, url: str, sessions: int, max_sessions: int) -> None:
    LiveProcess.objects.update_or_create(
        url=url, defaults={"sessions": sessions, "max_sessions": max_sessions, "seen_at": timezone.now()}
    )


def live_process_leave(*, url: str) -> None:
    LiveProcess.objects.filter(url=url).delete()


def _alive():
    return LiveProcess.objects.filter(seen_at__gte=timezone.now() - timedelta(seconds=STALE_SECONDS))


def live_process_pick() -> str:
    """The base URL of the least busy live process with room. With none heard from (a development set-up that
    starts it later), this host's LIVE_PUBLIC_URL; with all of them full, LiveBusy (503 with Retry-After)."""
    processes = list(_alive())
    if not processes:
        return settings.LIVE_PUBLIC_URL
    free = [process for process in processes if process.sessions < process.max_sessions]
    if not free:
        raise LiveBusy(
            "Every live process is holding as many conversations as it can; try again shortly.",
            retry_after=BUSY_RETRY_SECONDS,
        )
    return min(free, key=lambda process: (process.sessions / process.max_sessions, process.sessions)).url


def live_health() -> dict:
    """For /healthz: the live processes heard from lately and the sessions they hold."""
    processes = list(_alive().order_by("url"))
    return {
        "processes": [{"url": p.url, "sessions": p.sessions, "max_sessions": p.max_sessions} for p in processes],
        "sessions": sum(process.sessions for process in processes),
    }
