"""The job-kind registry: what each kind of job does, registered by the app that owns it.

`media_jobs` runs jobs but knows no app above it. Each app describes its kinds in its own
`jobs.py` (a `JobKind` per kind) and settings list them by import string in `JOB_KINDS`, as
`ENGINE_CLASSES` lists engines. A new job kind is one `JobKind` in its app plus one line there.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from media_jobs.engines.base import EngineError
from media_jobs.provenance import ProvenanceClaim

if TYPE_CHECKING:
    from media_jobs.models import MediaJob

Progress = Callable[[int], None]


@dataclass(frozen=True)
class JobOutput:
    """What a runner hands back; the job service signs the file (when a claim says how it was made), stores it
    and marks the row ready."""

    path: Path | None  # the file to keep, or None for a job without media
    extension: str = ""
    content_type: str = ""
    result: dict = field(default_factory=dict)
    claim: ProvenanceClaim | None = None  # generated media: its C2PA manifest's persona, engine and consent


class Runner(Protocol):
    """Reads the job row (never writes its state), works in `work_dir`, reports progress 0-99."""

    def __call__(self, *, job: "MediaJob", work_dir: Path, progress: Progress) -> JobOutput: ...


JobHook = Callable[["MediaJob"], None]


@dataclass(frozen=True)
class JobKind:
    """One kind of job. `abandon` clears away what a failed or canceled job had started, however it
    ended (an engine error, retries exhausted, the sweep, a cancel); `complete` finishes what a ready
    job makes outside its row; `retry_refusal` says why an ended job cannot run again ("" if it can)."""

    name: str
    label: str
    run: Runner
    abandon: JobHook | None = None
    complete: JobHook | None = None
    retry_refusal: Callable[["MediaJob"], str] | None = None


@cache
def job_kinds() -> dict[str, JobKind]:
    """Every registered kind by name, imported on first use (after the app registry is ready)."""
    kinds = [import_string(path) for path in settings.JOB_KINDS]
    return {kind.name: kind for kind in kinds}


def job_kind(name: str) -> JobKind:
    try:
        return job_kinds()[name]
    except KeyError:
        raise EngineError(f"This platform cannot run {name} jobs yet.") from None


def job_kind_choices() -> list[tuple[str, str]]:
    """`MediaJob.kind` choices: whatever the apps registered."""
    return [(kind.name, kind.label) for kind in job_kinds().values()]
