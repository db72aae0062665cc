"""Consent to use a person's likeness: challenge phrases, evidence, verification, revocation and the
workspace's policy (docs/CONSENT.md).

A consent is asked for a persona and a kind (voice, face or both). The person reads a fresh random
phrase aloud and uploads the recording; a job checks the words, the speaker and the face
(characters.services.consent_checks); what a likeness may do without one is
characters.services.consent_policy. Revoking deletes what the consent allowed: the voice clones, the
face embeddings and the LoRA, at the provider too.
"""

import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from characters.models import Consent, Person, Voice
from characters.services.consent_policy import CONSENTS_ROUTE, FACE, VOICE
from characters.services.lora import lora_delete
from characters.services.persons import person_require_editable
from characters.services.voice_clones import voice_clones_delete_at_provider
from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.video import InvalidVideo, probe_video
from media_jobs.models import MediaJob
from media_jobs.services import job_create
from persona_platform.errors import Conflict, InvalidInput, InvalidMedia, MediaTooLarge
from persona_platform.media import guarded_files, random_name

CONSENT_VERIFICATION = "consent_verification"  # the job kind (characters.jobs)

PHRASE_VALID_FOR = timedelta(hours=24)
MAX_EVIDENCE_SECONDS = 120
EVIDENCE_DIRECTORY = "consents/evidence"

# Common, distinct-sounding words in a fixed sentence shape, so a phrase reads naturally and a speech
# recognizer hears it reliably: 16**7, about 268 million phrases. Ten words, so one misheard word
# still passes the 90% rule (words a small recognizer often misheard were left out: docs/CONSENT.md).
_PHRASE_WORDS = [
    slot.split()
    for slot in """
funny happy golden little busy lucky purple yellow friendly careful quick clever tiny patient brave proud
sailors farmers dancers pirates students doctors children bakers singers tigers monkeys dolphins kittens teachers rabbits drivers
carry paint visit watch collect hold open count bake feed move keep wash lift cook check
seven twelve forty three ninety twenty fifty thirty several many two sixty nine hundred eighty five
apples windows bridges letters candles bottles pictures baskets rivers flowers stones blankets wagons lanterns pencils buckets
garden harbor village kitchen market forest station school valley island river library castle museum desert airport
morning evening Sunday Monday Friday summer winter weekend spring autumn night afternoon Tuesday holiday year month
""".strip().splitlines()
]


def challenge_phrase() -> str:
    """A fresh random sentence to read aloud, e.g. "Happy sailors paint seven bridges near the harbor every
    morning"."""
    adjective, subject, verb, amount, thing, place, time = (secrets.choice(words) for words in _PHRASE_WORDS)
    return f"{adjective.capitalize()} {subject} {verb} {amount} {thing} near the {place} every {time}."


# -- asking, evidence, verification --------------------------------------------------------------------


def consent_request(*, person: Person, kind: str, user: User | None = None) -> Consent:
    """A new consent waiting for its recording, with a phrase valid for 24 hours. The demo person is
    nobody's likeness: it takes none (403)."""
    person_require_editable(person=person)
    if kind not in Consent.Kind.values:
        raise InvalidInput(
            f"kind: must be one of {', '.join(Consent.Kind.values)}.", details={"kind": ["Not a consent kind."]}
        )
    return Consent.objects.create(
        workspace=person.workspace,
        person=person,
        kind=kind,
        phrase=challenge_phrase(),
        phrase_expires_at=timezone.now() + PHRASE_VALID_FOR,
        requested_by=user,
    )


def _evidence_probe(data: bytes, *, needs_video: bool, work_dir: Path) -> str:
    """The recording's content type, after checking it is real audio or video within the limits."""
    path = work_dir / "evidence"
    path.write_bytes(data)
    try:
        info = probe_video(path, max_duration=MAX_EVIDENCE_SECONDS)
    except InvalidVideo as exc:
        if needs_video:
            raise InvalidMedia(f"file: must be a video of the person's face reading the phrase: {exc}") from None
        return _audio_content_type(path)
    if info.audio_codec is None:
        raise InvalidMedia("file: the video has no sound; the phrase must be read aloud.")
    return "video/webm" if info.container == "webm" else "video/mp4"


def _audio_content_type(path: Path) -> str:
    """The content type of an audio recording: decodable, not empty, at most MAX_EVIDENCE_SECONDS."""
    try:
        samples, rate = decode_to_mono(path)
    except Exception:  # ffmpeg refuses anything that is not audio
        raise InvalidMedia("file: must be an audio or video recording of the phrase read aloud.") from None
    seconds = len(samples) / rate if rate else 0.0
    if seconds < 0.5:
        raise InvalidMedia("file: the recording is shorter than half a second.")
    if seconds > MAX_EVIDENCE_SECONDS:
        raise InvalidMedia(f"file: the recording is {seconds:.0f} s long; the limit is {MAX_EVIDENCE_SECONDS} s.")
    head = path.read_bytes()[:12]
    if head.startswith(b"RIFF"):
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith((b"ID3", b"\xff")):
        return "audio/mpeg"
    return "audio/mp4" if head[4:8] == b"ftyp" else "audio/webm"


def consent_evidence_submit(*, consent: Consent, data: bytes) -> Consent:
    """Store the recording and queue its verification. A consent takes one recording, within 24 hours of
    its phrase (409 after); nothing is stored for a recording that is refused."""
    if not data:
        raise InvalidMedia("file: is empty.")
    if len(data) > settings.MAX_CONSENT_EVIDENCE_BYTES:
        limit = settings.MAX_CONSENT_EVIDENCE_BYTES / 2**20
        raise MediaTooLarge(f"file: the recording is {len(data) / 2**20:.1f} MB; the limit is {limit:g} MB.")
    _require_awaiting(consent)
    with tempfile.TemporaryDirectory(prefix="consent-") as tmp:
        content_type = _evidence_probe(data, needs_video=consent.covers(FACE), work_dir=Path(tmp))
    extension = content_type.split("/")[1].replace("mpeg", "mp3")
    with guarded_files() as files, transaction.atomic():
        locked = Consent.objects.select_for_update().get(pk=consent.pk)
        _require_awaiting(locked)
        locked.evidence.name = files.save(random_name(EVIDENCE_DIRECTORY, extension), data)
        locked.evidence_content_type = content_type
        locked.status = Consent.Status.VERIFYING
        locked.job = job_create(
            workspace=locked.workspace,
            kind=CONSENT_VERIFICATION,
            person_id=locked.person_id,
            name=f"Consent {locked.pk}: {locked.get_kind_display()}",
            params={"consent_id": locked.pk},
        )
        locked.save(update_fields=["evidence", "evidence_content_type", "status", "job"])
    return locked


def _require_awaiting(consent: Consent) -> None:
    if consent.status != Consent.Status.AWAITING_EVIDENCE:
        raise Conflict(
            f"This consent's phrase was already used (the consent is {consent.status}): "
            f"request a new one with POST {CONSENTS_ROUTE}."
        )
    if consent.phrase_expires_at <= timezone.now():
        raise Conflict(f"This consent's phrase expired at {consent.phrase_expires_at:%Y-%m-%dT%H:%M:%SZ}: "
                       f"request a new one with POST {CONSENTS_ROUTE}.")  # fmt: skip


def consent_verification_finished(job: MediaJob) -> None:
    """The verification job is ready: the consent is verified, or rejected with the reasons found."""
    reasons = list(job.result.get("reasons", []))
    Consent.objects.filter(pk=job.params.get("consent_id"), status=Consent.Status.VERIFYING).update(
        status=Consent.Status.REJECTED if reasons else Consent.Status.VERIFIED,
        reasons=reasons,
        measurements=job.result.get("measurements", {}),
        verified_at=None if reasons else timezone.now(),
    )


def consent_verification_abandoned(job: MediaJob) -> None:
    """The verification job failed or was canceled: the consent is rejected, never left verifying."""
    reason = job.error or "The verification was canceled."
    Consent.objects.filter(pk=job.params.get("consent_id"), status=Consent.Status.VERIFYING).update(
        status=Consent.Status.REJECTED, reasons=[f"The recording could not be checked: {reason}"]
    )


# -- revocation -------------------------------------------------------------------------------------------


def consent_revoke(*, consent: Consent, user: User | None = None) -> Consent:
    """Revoke, and delete what the consent allowed unless another verified consent still covers it: the
    person's voice clones (at ElevenLabs too), its face embeddings, its LoRA (at the provider too).
    Outputs already made stay; their provenance reports the revocation."""
    if consent.status == Consent.Status.REVOKED:
        return consent
    person = Person.objects.select_related("voice").get(pk=consent.person_id)
    still_covered = [c for c in person.consents.all() if c.status == Consent.Status.VERIFIED and c.pk != consent.pk]
    # Provider deletions come first: one that fails for now is a 503 and nothing is revoked yet.
    if consent.covers(VOICE) and not any(c.covers(VOICE) for c in still_covered):
        _voice_clones_delete(person)
    if consent.covers(FACE) and not any(c.covers(FACE) for c in still_covered):
        _face_likeness_delete(person)
    Consent.objects.filter(pk=consent.pk).update(
        status=Consent.Status.REVOKED, revoked_at=timezone.now(), revoked_by=user
    )
    consent.refresh_from_db()
    return consent


def _voice_clones_delete(person: Person) -> None:
    voice_clones_delete_at_provider(person=person)
    Person.objects.filter(pk=person.pk, voice__person=person).update(voice=None)
    for voice in Voice.objects.filter(person=person):
        voice.delete()


def _face_likeness_delete(person: Person) -> None:
    """The identity embeddings go (the photo's landmarks stay, so the record still shows where the face
    was); the LoRA is deleted here and at its provider."""
    Person.objects.filter(pk=person.pk).update(face=_without_embedding(person.face), identity_embedding=[])
    for image in [*person.reference_images.all(), *person.lora_training_images.all()]:
        image.face = _without_embedding(image.face)
        image.save(update_fields=["face"])
    if hasattr(person, "lora"):
        lora_delete(person=person)


def _without_embedding(face: dict) -> dict:
    return {**face, "embedding": None} if face else {}
