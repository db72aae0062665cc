"""Local voice clones: take a speaker's recordings, queue the job that measures them.

The samples are checked here (count, size, and with ffmpeg: audio, 1 s to 5 min each, not silent,
10 min together) so bad input is refused at once, before anything is stored. Then, in one
transaction, the samples are stored, the Voice row is created (provider local, no measurements yet)
and the voice_clone job is queued; if any step fails, nothing remains. The job (characters.jobs)
measures the samples, fills in the voice through `voice_clone_save`, makes it its person's voice and
deletes the samples.
"""

import logging
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from characters.models import Person, Voice
from characters.services.consent_policy import VOICE, likeness_require_consent
from media_jobs.engines import VOICE_CLONER, get_engine
from media_jobs.engines.base import EngineError, EngineUnavailable
from media_jobs.engines.voice_clone import MAX_SAMPLES, MIN_SAMPLES, load_samples
from media_jobs.models import MediaJob
from media_jobs.services import job_create
from persona_platform import fetch
from persona_platform.errors import InvalidInput, InvalidMedia, MediaTooLarge, ProviderUnavailable
from persona_platform.media import delete_file_on_commit, guarded_files, random_name

SAMPLES_DIR = "voice-samples"
VOICE_CLONE = "voice_clone"  # the job kind (characters.jobs)

logger = logging.getLogger(__name__)

# Leading bytes of common audio containers, only to give the stored file a fitting extension
# (ffmpeg decodes by content, not by name).
_MAGIC = ((b"RIFF", "wav"), (b"ID3", "mp3"), (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"\xff\xf2", "mp3"),
          (b"OggS", "ogg"), (b"fLaC", "flac"), (b"\x1a\x45\xdf\xa3", "webm"))  # fmt: skip


def _extension(data: bytes) -> str:
    for magic, extension in _MAGIC:
        if data.startswith(magic):
            return extension
    return "m4a" if data[4:8] == b"ftyp" else "bin"


def voice_samples_check(samples: list[bytes], *, field: str = "samples") -> None:
    """Count, size and real audio (1 s to 5 min, not silent), before anything is stored. `field` is the
    request field the samples came from, for the messages."""
    if not isinstance(samples, list | tuple) or not MIN_SAMPLES <= len(samples) <= MAX_SAMPLES:
        count = len(samples) if isinstance(samples, list | tuple) else 0
        raise InvalidInput(
            f"{field}: give {MIN_SAMPLES} to {MAX_SAMPLES} recordings (got {count}).",
            details={field: [f"Give {MIN_SAMPLES} to {MAX_SAMPLES} recordings."]},
        )
    for index, data in enumerate(samples):
        if not isinstance(data, bytes | bytearray) or not data:
            raise InvalidMedia(f"{field}[{index}]: is empty.")
        if len(data) > settings.MAX_MEDIA_BYTES:
            raise MediaTooLarge(
                f"{field}[{index}]: the file is {len(data) / 2**20:.1f} MB; "
                f"the limit is {settings.MAX_MEDIA_BYTES / 2**20:g} MB."
            )
    with tempfile.TemporaryDirectory(prefix="voice-samples-") as tmp:
        paths = []
        for index, data in enumerate(samples):
            path = Path(tmp) / f"sample-{index + 1}.{_extension(data)}"
            path.write_bytes(data)
            paths.append(path)
        try:
            load_samples(paths)
        except EngineError as exc:  # "sample N: ..." counts from 1, as a person would
            raise InvalidMedia(f"{field}: {exc}") from None


def voice_clone_start(
    *,
    workspace: Workspace,
    name: str,
    samples: list[bytes],
    person: Person | None = None,
    callback_url: str = "",
    provider: str | None = None,
    description: str = "",
    voice_settings: dict | None = None,
    field: str = "samples",
) -> tuple[Voice, MediaJob]:
    """A new local voice and the queued job that measures it from `samples` (decoded audio files).

    Without a person the clone is a library voice of the workspace. The person starts speaking with
    the voice only once the job has succeeded.
    """
    provider = provider or (Voice.Provider.ELEVENLABS if settings.ELEVENLABS_API_KEY else Voice.Provider.LOCAL)
    if provider not in (Voice.Provider.LOCAL, Voice.Provider.ELEVENLABS):
        raise InvalidInput(f"provider: cannot clone with {provider!r}.", details={"provider": ["Unsupported."]})
    if person is not None and person.workspace_id != workspace.pk:
        raise InvalidInput("person: not found in this workspace.", details={"person": ["Not found."]})
    likeness_require_consent(workspace=workspace, person=person, kinds=(VOICE,), what="A voice clone")
    voice_samples_check(samples, field=field)
    with guarded_files() as files, transaction.atomic():
        voice = Voice(
            workspace=workspace,
            person=person,
            name=name,
            provider=provider,
            description=description,
            settings=voice_settings or {},
        )
        voice.full_clean(exclude=["workspace", "person", "provider_voice_id"])
        stored = [files.save(random_name(SAMPLES_DIR, _extension(data)), bytes(data)) for data in samples]
        voice.save()  # provider_voice_id stays "" until the job has measured the samples
        job = job_create(
            workspace=workspace,
            kind=VOICE_CLONE,
            params={"voice_id": voice.pk, "sample_files": stored, "provider": provider},
            person_id=person.pk if person is not None else None,
            name=f"Voice clone: {name}"[:200],
            callback_url=callback_url,
        )
    return voice, job


def voice_clones_delete_at_provider(*, person: Person) -> None:
    """Delete the person's provider-made voice clones where they live (ElevenLabs keeps a voice until told);
    local clones are rows and files only. A provider that fails is a 503, with nothing deleted here, so the
    client can try again; one whose key is gone is logged for the operator, and the deletion goes on."""
    for voice in Voice.objects.filter(person=person, provider=Voice.Provider.ELEVENLABS).exclude(provider_voice_id=""):
        try:
            get_engine(VOICE_CLONER, voice.provider).delete_voice(voice_id=voice.provider_voice_id)
        except EngineUnavailable as exc:
            logger.warning(
                "voice %s: %s voice %s left in place: %s", voice.pk, voice.provider, voice.provider_voice_id, exc
            )
        except EngineError as exc:
            raise ProviderUnavailable(
                f"The voice clone {voice.name!r} could not be deleted at {voice.provider} ({exc}). Nothing was "
                "deleted; try again."
            ) from None


def voice_clone_pending(*, person: Person) -> MediaJob | None:
    """The character's latest voice clone job while it is not ready (queued, processing, or failed or
    canceled, so a client polling the voice learns that it will not come); None once the newest clone
    is ready and is the voice the character speaks with."""
    job = MediaJob.objects.filter(person=person, kind=VOICE_CLONE).order_by("-created_at", "-id").first()
    if job is None or job.status == MediaJob.Status.READY:
        return None
    return job


def voice_samples_delete(*, voice: Voice) -> None:
    """Delete, once the surrounding transaction commits, the sample files still stored for `voice`.

    Samples only exist while a clone job has not finished (the job deletes them); call this when a
    voice is deleted, e.g. from a post_delete signal on Voice, so a queued job leaves nothing behind.
    """
    jobs = MediaJob.objects.filter(workspace_id=voice.workspace_id, kind=VOICE_CLONE, params__voice_id=voice.pk)
    for params in jobs.values_list("params", flat=True):
        for name in params.get("sample_files") or []:
            delete_file_on_commit(str(name))


TRAINING_AUDIO_PATH = re.compile(r"/(voices/training/[A-Za-z0-9_-]+\.(?:wav|mp3))$")


def samples_fetch(*, urls: list[str], field: str = "sample_urls") -> list[bytes]:
    """The recordings at public URLs, fetched safely (checked as audio by voice_clone_start)."""
    return [
        fetch.fetch_url(url, field=f"{field}[{index}]", max_bytes=settings.MAX_MEDIA_BYTES, accept="audio/*").content
        for index, url in enumerate(urls)
    ]


def training_sample(*, workspace: Workspace, url: str, field: str) -> bytes:
    """The audio at a training URL: one of this workspace's own voice recordings, read from storage,
    or a public URL fetched by the safe fetch helper."""
    match = TRAINING_AUDIO_PATH.search(urlsplit(url).path)
    if match:
        voice = Voice.objects.filter(workspace=workspace, training_audio=match.group(1)).first()
        if voice is not None:
            with voice.training_audio.open("rb") as handle:
                return handle.read()
    return fetch.fetch_url(url, field=field, max_bytes=settings.MAX_MEDIA_BYTES, accept="audio/*").content


def voice_samples_discard(names: list[str]) -> None:
    """Delete stored samples now: the clone has used them, or will never run."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # a leftover file is no reason to fail the job; the name is in the job's params
            logger.warning("could not delete voice sample %s", name, exc_info=True)


def voice_clone_discard(*, voice_id: int | None, sample_names: list[str]) -> None:
    """After a final failure: the samples go, and so does the voice if it was never measured."""
    if voice_id is not None:
        Voice.objects.filter(pk=voice_id, measurements={}).delete()
    voice_samples_discard(sample_names)


def voice_clone_save(*, job: MediaJob, voice: Voice, provider: str, provider_voice_id: str, measurements=None) -> bool:
    """Write the clone onto the voice and make it its person's voice, unless the job was canceled or the
    voice deleted meanwhile (False)."""
    fields = {"provider": provider, "provider_voice_id": provider_voice_id}
    if measurements is not None:
        fields["measurements"] = measurements
    with transaction.atomic():
        if not MediaJob.objects.select_for_update().filter(pk=job.pk, status=MediaJob.Status.PROCESSING).exists():
            return False
        if not Voice.objects.filter(pk=voice.pk).update(**fields):
            return False
        if voice.person_id:
            Person.objects.filter(pk=voice.person_id).update(voice=voice, updated_at=timezone.now())
    return True
