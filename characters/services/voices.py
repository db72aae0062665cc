"""Voices and speaking profiles: which engine speaks for a persona, and how."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.db import transaction

from accounts.models import Workspace
from characters.models import Person, SpeakingProfile, Voice
from characters.services.consent_policy import VOICE
from characters.services.persons import person_require_editable
from characters.services.provenance import provenance_claim
from media_jobs.engines import SPEECH_ENGINE, get_engine
from media_jobs.engines.base import EngineError, VoiceProfile
from media_jobs.engines.voice_clone import SAME_SPEAKER_SIMILARITY
from media_jobs.provenance import sign as provenance_sign
from persona_platform.errors import Conflict, InvalidInput
from persona_platform.media import random_name
from persona_platform.patch import UNSET, apply_sent

SPEED_RANGE, PITCH_RANGE = (0.5, 2.0), (-12.0, 12.0)
# A character's voice settings: ElevenLabs' four, and our speed and pitch (applied by every engine).
VOICE_SETTING_RANGES = {
    "stability": (0.0, 1.0),
    "similarity_boost": (0.0, 1.0),
    "style": (0.0, 1.0),
    "speed": SPEED_RANGE,
    "pitch": PITCH_RANGE,
}
PROVIDER_SETTINGS = ("stability", "similarity_boost", "style", "use_speaker_boost")


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def _check_voice_settings(*, speed: float, pitch: float) -> None:
    errors = {}
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        errors["voice_settings.speed"] = [f"Must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]}."]
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        errors["voice_settings.pitch"] = [f"Must be between {PITCH_RANGE[0]:g} and {PITCH_RANGE[1]:g} semitones."]
    if errors:
        raise InvalidInput(" ".join(f"{name}: {msgs[0]}" for name, msgs in errors.items()), details=errors)


@transaction.atomic
def speaking_profile_create(
    *,
    workspace: Workspace,
    name: str,
    description: str = "",
    speed: float = 1.0,
    pitch: float = 0.0,
    person: Person | None = None,
    voice: Voice | None = None,
) -> SpeakingProfile:
    profile = SpeakingProfile(
        workspace=workspace, name=name, description=description, speed=speed, pitch=pitch, person=person, voice=voice
    )
    return _speaking_profile_save(profile)


@transaction.atomic
def speaking_profile_update(
    *,
    profile: SpeakingProfile,
    name: str = UNSET,
    description: str = UNSET,
    speed: float = UNSET,
    pitch: float = UNSET,
) -> SpeakingProfile:
    """Change only what is given (PATCH)."""
    apply_sent(profile, name=name, description=description, speed=speed, pitch=pitch)
    return _speaking_profile_save(profile)


def _speaking_profile_save(profile: SpeakingProfile) -> SpeakingProfile:
    """Check the speed and pitch (the messages name `voice_settings.*`, as every dialect sends them) and save."""
    _check_voice_settings(speed=profile.speed, pitch=profile.pitch)
    profile.full_clean(exclude=["workspace", "person", "voice"])
    profile.save()
    return profile


def speaking_profile_delete(*, profile: SpeakingProfile) -> None:
    """Speech made with the profile keeps its audio; only the profile goes."""
    profile.delete()


def voice_profile_for_speech(*, workspace_id: int, profile_id: int | None) -> tuple[str | None, VoiceProfile]:
    """(engine name, VoiceProfile) for a speech job: the profile's voice, else its person's, else the local voice.

    None as the engine name means the one settings chose for speech.
    """
    profile = (
        SpeakingProfile.objects.select_related("voice", "person__voice")
        .filter(workspace_id=workspace_id, pk=profile_id)
        .first()
        if profile_id
        else None
    )
    speed = profile.speed if profile else 1.0
    pitch = profile.pitch if profile else 0.0
    voice = None
    if profile is not None:
        voice = profile.voice or (profile.person.voice if profile.person is not None else None)
    return _voice_profile(voice, speed=speed, pitch=pitch)


def voice_profile_for_person(*, person: Person) -> tuple[str | None, VoiceProfile]:
    """(engine name, VoiceProfile) for what a persona says: its voice (else the local one) with its settings."""
    chosen = person.voice_settings
    return _voice_profile(
        person.voice,
        speed=float(chosen.get("speed", 1.0)),
        pitch=float(chosen.get("pitch", 0.0)),
        provider_settings={key: chosen[key] for key in PROVIDER_SETTINGS if key in chosen},
    )


def voice_settings_errors(settings: dict) -> dict[str, list[str]]:
    """What is wrong with a whole voice-settings object (as staff edit it): unknown names, values that are not
    numbers, numbers out of range, a `use_speaker_boost` that is not true or false. Empty when it is fine."""
    errors: dict[str, list[str]] = {}
    for name, value in settings.items():
        if name == "use_speaker_boost":
            if not isinstance(value, bool):
                errors[name] = ["Must be true or false."]
        elif name not in VOICE_SETTING_RANGES:
            errors[name] = [f"Unknown setting; use {', '.join([*VOICE_SETTING_RANGES, 'use_speaker_boost'])}."]
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors[name] = ["Must be a number."]
        elif not VOICE_SETTING_RANGES[name][0] <= value <= VOICE_SETTING_RANGES[name][1]:
            low, high = VOICE_SETTING_RANGES[name]
            errors[name] = [f"Must be between {low:g} and {high:g}."]
    return errors


def person_voice_settings_update(*, person: Person, changes: dict) -> dict:
    """Set the settings given (PUT sends any of them); ranges are checked here for every dialect."""
    person_require_editable(person=person)
    errors = voice_settings_errors(changes)
    if errors:
        raise InvalidInput(" ".join(f"{name}: {msgs[0]}" for name, msgs in errors.items()), details=errors)
    person.voice_settings = {**person.voice_settings, **changes}
    Person.objects.filter(pk=person.pk).update(voice_settings=person.voice_settings)
    return person.voice_settings


def built_in_voice() -> Voice:
    """The voice every workspace has without cloning one: Piper's voice from the installed package.
    Not a row: an unsaved Voice, so that every dialect shows it as it shows clones."""
    return Voice(
        name="Joe (US English, local)", description="The built-in neural voice.", provider=Voice.Provider.LOCAL
    )


def voice_catalog(*, workspace: Workspace) -> list[Voice]:
    """Every voice a character of the workspace can speak with: the local one, then its clones."""
    return [built_in_voice(), *Voice.objects.filter(workspace=workspace).select_related("person")]


def _voice_profile(
    voice: Voice | None, *, speed: float, pitch: float, provider_settings: dict | None = None
) -> tuple[str | None, VoiceProfile]:
    if voice is None or voice.provider == Voice.Provider.LOCAL:
        measured = voice.measurements if voice is not None else {}
        # A clone's own adjustment plus the persona's, kept inside what the local voice can do.
        return "piper", VoiceProfile(
            provider="local",
            speed=_clamp(speed * float(measured.get("speed_factor", 1.0)), SPEED_RANGE),
            pitch_semitones=_clamp(pitch + float(measured.get("pitch_semitones", 0.0)), PITCH_RANGE),
        )
    return voice.provider, VoiceProfile(
        provider=voice.provider,
        voice_id=voice.provider_voice_id,
        speed=speed,
        pitch_semitones=pitch,
        provider_settings={**voice.settings, **(provider_settings or {})},
    )


def _sign_speech(path: Path, *, audio_format: str, person: Person | None, engine: str) -> None:
    """Speech made outside a job carries its C2PA manifest too, signed before anyone receives it."""
    claim = provenance_claim(person=person, engine=f"{engine} speech", likeness=(VOICE,))
    provenance_sign(path, fmt=audio_format, claim=claim)


PREVIEW_TEXT = "Hi, I'm {name}. This is how I sound."


def voice_preview(*, person: Person, text: str | None = None) -> tuple[bytes, float]:
    """A short line spoken now (no job) in the person's voice and settings: WAV bytes and seconds."""
    engine_name, voice = voice_profile_for_person(person=person)
    speaker = get_engine(SPEECH_ENGINE, engine_name)
    with tempfile.TemporaryDirectory(prefix="voice-preview-") as work_dir:
        try:
            speech = speaker.synthesize(
                text=(text or PREVIEW_TEXT.format(name=person.name)).strip(), voice=voice, out_dir=Path(work_dir)
            )
        except EngineError as exc:
            raise InvalidInput(f"The voice could not speak the preview: {exc}") from None
        _sign_speech(speech.path, audio_format=speech.audio_format, person=person, engine=speaker.name)
        return speech.path.read_bytes(), speech.duration


TRAINING_TEXT = (
    "The quick brown fox jumps over the lazy dog. I am recording this passage so that my voice can be "
    "learned: how high I speak, how fast, and how my sentences rise and fall. Thank you for listening."
)


def voice_training_audio(*, voice: Voice) -> Voice:
    """A reference recording of a ready voice (BHuman's training URL points at it), made once."""
    if voice.training_audio:
        return voice
    if not voice.is_ready:
        raise Conflict(f"Voice {voice.pk} is still being made; ask again once it is ready.")
    engine_name, profile = _voice_profile(voice, speed=1.0, pitch=0.0)
    speaker = get_engine(SPEECH_ENGINE, engine_name)
    with tempfile.TemporaryDirectory(prefix="voice-training-") as work_dir:
        speech = speaker.synthesize(text=TRAINING_TEXT, voice=profile, out_dir=Path(work_dir))
        _sign_speech(speech.path, audio_format=speech.audio_format, person=voice.person, engine=speaker.name)
        with speech.path.open("rb") as handle:
            voice.training_audio.save(random_name("voices/training", speech.audio_format).split("/")[-1], File(handle))
    return voice


# A local clone is a likeness only when it sounds like the samples' speaker by the same test a consent
# recording must pass, and clearly more than the built-in voice already did (docs/VOICES.md).
CLONE_GAIN_MIN = 0.05


@dataclass(frozen=True)
class CloneLikeness:
    """What a voice route says about how far a voice is its speaker's: a local clone's measured similarity
    to its samples (0-1) and the pitch shift applied; None where nothing was measured."""

    similarity: float | None
    pitch_shift_semitones: float | None
    is_likeness: bool | None
    status_text: str


def clone_likeness(voice: Voice) -> CloneLikeness:
    if voice.is_built_in:
        return CloneLikeness(None, None, None, "The built-in voice (Piper); nobody's likeness.")
    if not voice.is_ready:
        return CloneLikeness(None, None, None, "Being measured from its samples.")
    measured = voice.measurements
    if voice.provider != Voice.Provider.LOCAL or "similarity" not in measured:
        return CloneLikeness(None, None, None, f"A clone made by {voice.get_provider_display()}.")
    similarity, base = measured["similarity"], measured.get("base_similarity", 0.0)
    pitch = measured.get("pitch_semitones", 0.0)
    is_likeness = similarity >= SAME_SPEAKER_SIMILARITY and similarity - base >= CLONE_GAIN_MIN
    said = (
        f"similarity {similarity:.2f} to its samples (the built-in voice: {base:.2f}), pitch shifted "
        f"{pitch:+.1f} semitones"
    )
    if is_likeness:
        return CloneLikeness(similarity, pitch, True, f"A local clone: {said}.")
    return CloneLikeness(
        similarity, pitch, False,
        f"An approximation, not a likeness: {said}. Set ELEVENLABS_API_KEY for a true clone.",
    )  # fmt: skip
