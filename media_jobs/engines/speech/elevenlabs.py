"""ElevenLabs speech over its REST API: text to speech with character timings, instant voice clones.

Decisions the callers can rely on:

* WAV is asked for as raw `pcm_<rate>` (16-bit mono) and wrapped with the `wave` module, so no decoder is
  needed; MP3 is stored as the provider sends it and its duration is read from the MP3 frame headers.
* `voice.speed` is sent as `voice_settings.speed`. The provider only accepts 0.7–1.2; values outside are
  refused (not clamped) because a silently different pace would break timings the caller planned around.
* The provider cannot shift pitch. `pitch_semitones` (±12 at most) is applied locally with ffmpeg
  (`imageio_ffmpeg`), keeping the tempo so the timings stay valid; without ffmpeg a pitch shift is refused.
* Timings come from the `with-timestamps` endpoint: one `PhonemeTiming` per spoken character (whitespace
  left out), in text order, clamped to the audio's duration so they never run past it.
* Settings are read at call time, so tests and deployments can change them without re-importing.
"""

import base64
import binascii
import math
import mimetypes
import subprocess
import uuid
import wave
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from django.conf import settings

from media_jobs.engines.audio import ffmpeg_exe, pitch_filter
from media_jobs.engines.base import EngineError, PhonemeTiming, Speech, VoiceProfile
from media_jobs.engines.http import ProviderClient, json_object, required_key

PROVIDER = "ElevenLabs"
SPEED_RANGE = (0.7, 1.2)  # what the provider accepts for voice_settings.speed
MAX_PITCH_SEMITONES = 12.0  # beyond an octave a tempo-preserving shift sounds broken
PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MP3_FORMATS = {22050: "mp3_22050_32", 44100: "mp3_44100_128"}
DEFAULT_WAV_RATE = 24000  # available on every plan; 44100 needs a paid tier
DEFAULT_MP3_RATE = 44100
UNIT_SETTINGS = ("stability", "similarity_boost", "style")  # floats in 0..1


class ElevenLabsSpeech:
    """Speech from ElevenLabs. `voice.voice_id` is the provider's voice id (a preset or a clone)."""

    name: ClassVar[str] = "elevenlabs"

    # -- text to speech -------------------------------------------------------------------------------------

    def synthesize(self, *, text: str, voice: VoiceProfile, out_dir: Path, audio_format: str = "wav") -> Speech:
        """Speak `text` with the voice and write the audio into `out_dir`."""
        _api_key()
        if not text or not text.strip():
            raise EngineError("There is no text to speak.")
        if not voice.voice_id:
            raise EngineError("An ElevenLabs voice needs a voice_id.")
        if audio_format not in ("wav", "mp3"):
            raise EngineError(f"ElevenLabs speech can be written as wav or mp3, not {audio_format!r}.")
        options = dict(voice.provider_settings or {})
        sample_rate = _sample_rate(options.get("sample_rate"), audio_format)
        body = {
            "text": text,
            "model_id": _model_id(options.get("model_id")),
            "voice_settings": _voice_settings(voice, options),
        }
        ffmpeg = _ffmpeg() if voice.pitch_semitones else None
        if voice.pitch_semitones:
            _check_pitch(voice.pitch_semitones, ffmpeg)
        output_format = f"pcm_{sample_rate}" if audio_format == "wav" else MP3_FORMATS[sample_rate]

        answer = self._call(
            "POST",
            f"/v1/text-to-speech/{quote(voice.voice_id, safe='')}/with-timestamps",
            what="Text to speech",
            params={"output_format": output_format},
            json=body,
        )
        audio, alignment = _decode_timestamps_answer(answer)

        if ffmpeg:
            audio = _shift_pitch(ffmpeg, audio, audio_format, sample_rate, voice.pitch_semitones)

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"elevenlabs-{uuid.uuid4().hex[:12]}.{audio_format}"
        if audio_format == "wav":
            if len(audio) % 2:
                raise EngineError("ElevenLabs sent PCM audio with an odd number of bytes.", retryable=True)
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(sample_rate)
                out.writeframes(audio)
            duration = len(audio) / 2 / sample_rate
        else:
            sample_rate, samples = mp3_samples(audio)
            path.write_bytes(audio)
            duration = samples / sample_rate
        if duration <= 0:
            raise EngineError("ElevenLabs sent no audio.", retryable=True)
        return Speech(
            path=path,
            audio_format=audio_format,
            sample_rate=sample_rate,
            duration=duration,
            phonemes=_timings(alignment, duration),
            pitch_semitones=voice.pitch_semitones,
        )

    # -- voices ---------------------------------------------------------------------------------------------

    def clone_voice(self, *, name: str, samples: Sequence[Path], description: str = "") -> str:
        """Create an instant voice clone from recorded samples and answer its voice_id."""
        _api_key()
        if not name or not name.strip():
            raise EngineError("A cloned voice needs a name.")
        paths = [Path(sample) for sample in samples]
        if not paths:
            raise EngineError("A cloned voice needs at least one audio sample.")
        for path in paths:
            if not path.is_file() or path.stat().st_size == 0:
                raise EngineError(f"The voice sample {path.name} is missing or empty.")
        data = {"name": name, "remove_background_noise": "false"}
        if description:
            data["description"] = description
        with ExitStack() as stack:
            files = [
                (
                    "files",
                    (
                        path.name,
                        stack.enter_context(path.open("rb")),
                        mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                    ),
                )
                for path in paths
            ]
            answer = self._call("POST", "/v1/voices/add", what="Voice cloning", data=data, files=files)
        voice_id = json_object(answer, provider=PROVIDER).get("voice_id")
        if not isinstance(voice_id, str) or not voice_id:
            raise EngineError("ElevenLabs did not answer a voice_id for the new voice.", retryable=True)
        # requires_verification=True still gives a usable id once the owner verifies it in their account.
        return voice_id

    def delete_voice(self, *, voice_id: str) -> None:
        """Delete a cloned voice. A voice that is already gone counts as deleted, so cleanups can repeat."""
        _api_key()
        if not voice_id:
            raise EngineError("Which voice? voice_id is empty.")
        self._call("DELETE", f"/v1/voices/{quote(voice_id, safe='')}", what="Voice deletion", missing_ok=True)

    # -- HTTP -----------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, what: str, missing_ok: bool = False, **kwargs: Any) -> requests.Response:
        """One request to the configured API; a 404 counts as done where `missing_ok`."""
        url = settings.ELEVENLABS_BASE_URL.rstrip("/") + path
        return _client().request(method, url, what=what, ok=(404,) if missing_ok else (), **kwargs)


# -- request building ---------------------------------------------------------------------------------------


def _api_key() -> str:
    return required_key("ELEVENLABS_API_KEY", service="ElevenLabs")


def _client() -> ProviderClient:
    api_key = _api_key()
    return ProviderClient(
        provider=PROVIDER,
        api_key=api_key,
        key_setting="ELEVENLABS_API_KEY",
        auth_headers={"xi-api-key": api_key},
        timeout=float(settings.ENGINE_TIMEOUT_SECONDS),
    )


def _model_id(value) -> str:
    if value is None:
        return settings.ELEVENLABS_MODEL_ID
    if not isinstance(value, str) or not value:
        raise EngineError("provider_settings.model_id must be a non-empty string.")
    return value


def _sample_rate(value, audio_format: str) -> int:
    """The rate asked for in provider_settings.sample_rate, among those the provider offers."""
    allowed = PCM_RATES if audio_format == "wav" else tuple(MP3_FORMATS)
    if value is None:
        return DEFAULT_WAV_RATE if audio_format == "wav" else DEFAULT_MP3_RATE
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON settings may carry 22050.0
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        choices = ", ".join(str(rate) for rate in allowed)
        raise EngineError(f"ElevenLabs {audio_format} audio comes at {choices} Hz, not {value!r}.")
    return value


def _voice_settings(voice: VoiceProfile, options: dict) -> dict:
    """voice_settings from the profile; keys not given are left to the provider's defaults."""
    voice_settings = {}
    for key in UNIT_SETTINGS:
        if key in options:
            value = options[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise EngineError(f"provider_settings.{key} must be a number from 0 to 1, not {value!r}.")
            voice_settings[key] = float(value)
    if "use_speaker_boost" in options:
        value = options["use_speaker_boost"]
        if not isinstance(value, bool):
            raise EngineError(f"provider_settings.use_speaker_boost must be true or false, not {value!r}.")
        voice_settings["use_speaker_boost"] = value
    speed = voice.speed
    low, high = SPEED_RANGE
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise EngineError(f"The speed must be a number, not {speed!r}.")
    if not low - 1e-9 <= speed <= high + 1e-9:
        raise EngineError(f"ElevenLabs speaks at {low:g}× to {high:g}× speed; {speed:g}× is outside that range.")
    voice_settings["speed"] = round(min(max(float(speed), low), high), 6)
    return voice_settings


# -- answers ------------------------------------------------------------------------------------------------


def _decode_timestamps_answer(response: requests.Response) -> tuple[bytes, dict | None]:
    payload = json_object(response, provider=PROVIDER)
    try:
        audio = base64.b64decode(payload.get("audio_base64") or "", validate=True)
    except (binascii.Error, TypeError) as exc:
        raise EngineError("ElevenLabs sent audio that is not valid base64.", retryable=True) from exc
    if not audio:
        raise EngineError("ElevenLabs sent no audio.", retryable=True)
    alignment = payload.get("alignment") or payload.get("normalized_alignment")
    return audio, alignment if isinstance(alignment, dict) else None


def _timings(alignment: dict | None, duration: float) -> tuple[PhonemeTiming, ...]:
    """One timing per spoken character, monotonic and inside [0, duration]."""
    if not alignment:
        return ()
    characters = alignment.get("characters") or []
    starts = alignment.get("character_start_times_seconds") or []
    ends = alignment.get("character_end_times_seconds") or []
    timings = []
    previous_start = 0.0
    for character, start, end in zip(characters, starts, ends, strict=False):
        if not isinstance(character, str) or not character.strip():
            continue
        try:
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            continue
        start = min(max(start, previous_start), duration)
        end = min(max(end, start), duration)
        timings.append(PhonemeTiming(phoneme=character, start=start, end=end))
        previous_start = start
    return tuple(timings)


# -- MP3 ----------------------------------------------------------------------------------------------------

_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5 layer III
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_samples(data: bytes) -> tuple[int, int]:
    """(sample rate, samples per channel) of an MP3 stream, counted from its layer III frame headers."""
    position = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
        position = 10 + size + (10 if data[5] & 0x10 else 0)
    rate, samples = 0, 0
    while position + 4 <= len(data):
        b1, b2 = data[position + 1], data[position + 2]
        version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
        bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
        if data[position] != 0xFF or (b1 & 0xE0) != 0xE0 or version == 1 or layer != 1:
            position += 1
            continue
        if bitrate_index in (0, 15) or rate_index == 3:
            position += 1
            continue
        mpeg1 = version == 3
        frame_rate = _MP3_RATES[version][rate_index]
        bitrate = _MP3_BITRATES[1 if mpeg1 else 2][bitrate_index] * 1000
        length = (144 if mpeg1 else 72) * bitrate // frame_rate + ((b2 >> 1) & 1)
        rate = rate or frame_rate
        samples += 1152 if mpeg1 else 576
        position += length
    if not samples:
        raise EngineError("ElevenLabs sent MP3 audio without a single frame.", retryable=True)
    return rate, samples


# -- pitch --------------------------------------------------------------------------------------------------


def _ffmpeg() -> str | None:
    """The ffmpeg that imageio-ffmpeg ships, or None where it has no binary for this platform."""
    try:
        return ffmpeg_exe()
    except RuntimeError:
        return None


def _check_pitch(semitones: float, ffmpeg: str | None) -> None:
    if not ffmpeg:
        raise EngineError(
            "ElevenLabs cannot shift the pitch of a voice, and no local ffmpeg (imageio-ffmpeg) is installed "
            "to do it; use pitch_semitones 0 with this engine."
        )
    if not math.isfinite(semitones) or abs(semitones) > MAX_PITCH_SEMITONES:
        raise EngineError(f"The pitch shift must be within ±{MAX_PITCH_SEMITONES:g} semitones, not {semitones!r}.")


def _shift_pitch(ffmpeg: str, audio: bytes, audio_format: str, sample_rate: int, semitones: float) -> bytes:
    """Shift the pitch but keep the tempo and the exact length, so the provider's timings stay valid.

    The audio is padded with silence first (rubberband and atempo may drop the tail) and trimmed back to
    the original number of samples after.
    """
    if audio_format == "wav":
        rate, samples = sample_rate, len(audio) // 2
        source = ["-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0"]
        target = ["-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"]
    else:
        rate, samples = mp3_samples(audio)
        source = ["-f", "mp3", "-i", "pipe:0"]
        target = ["-f", "mp3", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "128k", "-ar", str(rate), "pipe:1"]
    chain = pitch_filter(semitones, rate, samples)
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", *source, "-af", chain, *target]
    timeout = float(settings.ENGINE_TIMEOUT_SECONDS)
    try:
        result = subprocess.run(command, input=audio, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"The local pitch shift timed out after {timeout:g} s.", retryable=True) from exc
    except OSError as exc:
        raise EngineError(f"The local pitch shift could not start ffmpeg ({type(exc).__name__}).") from exc
    if result.returncode != 0 or not result.stdout:
        error = result.stderr.decode("utf-8", "replace").strip()[-300:]
        raise EngineError(f"The local pitch shift failed: {error or 'ffmpeg wrote no audio'}.")
    return result.stdout
