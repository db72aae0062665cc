"""Helpers the benchmarks share: the machine's CPU model, database administration, Piper's pitch uncapped."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from unittest import mock


def cpu_model() -> str:
    """The CPU's name as /proc/cpuinfo gives it ("unknown" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def admin_execute(server_url: str, *statements: str) -> list:
    """Run statements on the server's `postgres` database, outside any transaction (CREATE/DROP DATABASE)."""
    import psycopg

    rows = []
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
    return rows


@contextlib.contextmanager
def uncapped_pitch() -> Iterator[None]:
    """Piper applies every pitch shift as asked (-12 to 12), not capped where it stops being intelligible:
    for the benches that find where the caps belong, or that want a voice shifted by an exact amount."""
    from media_jobs.engines.speech import piper

    with (
        mock.patch.object(piper, "INTELLIGIBLE_PITCH", piper.PITCH_RANGE),
        mock.patch.object(piper, "PITCH_LIMITS_BY_SPEED", ((1.0, *piper.PITCH_RANGE),)),
    ):
        yield
