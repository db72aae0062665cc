"""The voice_clone job: measure the uploaded samples and fit the local voice to them.

params: {"voice_id": <Voice pk>, "sample_files": [storage names]} (see characters.services.voice_clones).
On success the Voice row gets its measurements, provider "local" and provider_voice_id "local_<pk>",
it becomes its person's speaking voice, and the sample files are deleted: a local clone needs only
what was measured, and recordings of someone's voice are not kept longer than that.

On a failure that a retry cannot fix (bad audio, a missing sample, a canceled job) the sample files
and the never-measured Voice row are deleted too, so a failed clone leaves nothing half-made behind;
the job's error says why. A retryable failure (an ffmpeg timeout) keeps both for the retry.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from media_jobs.engines.base import EngineError
from media_jobs.engines.speech.piper import VOICE_ID as PIPER_VOICE_ID
from media_jobs.engines.voice_clone import (
    LocalVoiceAnalyzer,
    clone_profile,
    clone_similarity,
    cosine_similarity,
    local_voice_base,
    local_voice_tempo_curve,
)
from media_jobs.models import MediaJob

if TYPE_CHECKING:
    from characters.models import Voice
    from media_jobs.runners import JobOutput, Progress

logger = logging.getLogger(__name__)


def _fetch_samples(names: list[str], work_dir: Path) -> list[Path]:
    """Copy the samples out of storage into the job's folder."""
    if not names:
        raise EngineError("The job has no sample files.", retryable=False)
    paths = []
    for number, name in enumerate(names, start=1):
        path = work_dir / f"sample-{number}{Path(name).suffix}"
        try:
            with default_storage.open(name, "rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        except FileNotFoundError as exc:
            raise EngineError(f"sample {number}: the file is no longer stored.", retryable=False) from exc
        except OSError as exc:  # storage unreachable: worth another try
            raise EngineError(f"sample {number}: could not be read from storage ({exc}).", retryable=True) from exc
        paths.append(path)
    return paths


def _delete_samples(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # a leftover file is no reason to fail the job; the name is in the job's params
            logger.warning("could not delete voice sample %s", name, exc_info=True)


def _discard(voice_id: int | None, names: list[str]) -> None:
    """After a final failure: the samples go, and so does the voice if it was never measured."""
    from characters.models import Voice

    if voice_id is not None:
        Voice.objects.filter(pk=voice_id, measurements={}).delete()
    _delete_samples(names)


def abandon(*, job: MediaJob) -> None:
    """The job ended failed or canceled: its samples go, and its voice too if it was never measured."""
    _discard(job.params.get("voice_id"), [str(name) for name in job.params.get("sample_files") or []])


def _save(*, job: MediaJob, voice: Voice, measurements: dict) -> bool:
    """Write the clone onto the voice and make it its person's voice, unless the job was canceled meanwhile."""
    from characters.models import Person, Voice

    with transaction.atomic():
        if not MediaJob.objects.select_for_update().filter(pk=job.pk, status=MediaJob.Status.PROCESSING).exists():
            return False
        updated = Voice.objects.filter(pk=voice.pk).update(
            provider=Voice.Provider.LOCAL, provider_voice_id=f"local_{voice.pk}", measurements=measurements
        )
        if not updated:  # deleted while the job ran
            return False
        if voice.person_id:
            Person.objects.filter(pk=voice.person_id).update(voice=voice, updated_at=timezone.now())
    return True


def run_voice_clone(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    from characters.models import Voice
    from media_jobs.runners import JobOutput

    names = [str(name) for name in job.params.get("sample_files") or []]
    voice = Voice.objects.filter(pk=job.params.get("voice_id"), workspace_id=job.workspace_id).first()
    if voice is None:
        _delete_samples(names)
        raise EngineError("The voice this clone was for has been deleted.", retryable=False)
    if job.params.get("provider") == Voice.Provider.ELEVENLABS:
        return _clone_with_elevenlabs(job=job, voice=voice, names=names, work_dir=work_dir, progress=progress)
    try:
        samples = _fetch_samples(names, work_dir)
        progress(10)
        measured = LocalVoiceAnalyzer().analyze(samples=samples)
        progress(40)
        base = local_voice_base()
        profile = clone_profile(measured, base, tempo_curve=local_voice_tempo_curve())
        progress(60)
        similarity = clone_similarity(measured, profile)
        progress(90)
        summary = {
            **measured.summary(),
            **profile,
            "engine": "piper",
            "engine_voice": PIPER_VOICE_ID,
            "base_median_pitch_hz": round(base.median_pitch_hz, 2),
            "base_speaking_rate": round(base.speaking_rate, 3),
            # cosine similarity of speaker embeddings: the fitted local voice vs the samples, and the
            # unfitted local voice vs the samples (1.0 = the same speaker)
            "similarity": round(similarity, 3),
            "base_similarity": round(cosine_similarity(measured.embedding, base.embedding), 3),
        }
        if not _save(job=job, voice=voice, measurements={**summary, "embedding": measured.embedding}):
            raise EngineError("The clone was canceled or its voice deleted before it finished.", retryable=False)
    except EngineError as exc:
        if not exc.retryable:
            _discard(voice.pk, names)
        raise
    except Exception:
        _discard(voice.pk, names)  # a crash is not retried either
        raise
    _delete_samples(names)
    return JobOutput(path=None, result={"voice_id": voice.pk, "provider_voice_id": f"local_{voice.pk}", **summary})


def _clone_with_elevenlabs(*, job: MediaJob, voice: Voice, names: list[str], work_dir: Path, progress: Progress):
    """ElevenLabs instant voice clone: the samples go to the provider, which answers with its voice id."""
    from characters.models import Person, Voice
    from media_jobs.engines import get_engine
    from media_jobs.runners import JobOutput

    try:
        samples = _fetch_samples(names, work_dir)
        progress(20)
        provider_voice_id = get_engine("speech", "elevenlabs").clone_voice(name=voice.name, samples=samples)
        with transaction.atomic():
            running = MediaJob.objects.select_for_update().filter(pk=job.pk, status=MediaJob.Status.PROCESSING)
            if not running.exists() or not Voice.objects.filter(pk=voice.pk).update(
                provider=Voice.Provider.ELEVENLABS, provider_voice_id=provider_voice_id
            ):
                raise EngineError("The clone was canceled or its voice deleted before it finished.")
            if voice.person_id:
                Person.objects.filter(pk=voice.person_id).update(voice=voice, updated_at=timezone.now())
    except EngineError as exc:
        if not exc.retryable:
            _discard(voice.pk, names)
        raise
    _delete_samples(names)
    return JobOutput(
        path=None, result={"voice_id": voice.pk, "provider": "elevenlabs", "provider_voice_id": provider_voice_id}
    )
