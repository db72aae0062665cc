"""Local voice cloning: measure a speaker from a few recordings and fit the local Piper voice to them.

What a local clone is, honestly: the local engine has one voice (Piper's en_US "joe"). A clone cannot
give it someone else's timbre. It measures the samples' median pitch and speaking tempo and turns
them into a pitch shift (semitones) and a speed factor for that one voice, so the clone speaks at the
speaker's pitch and pace with Piper's timbre. It also stores a Resemblyzer speaker embedding (a 256-d
d-vector) of the samples, which says how close any audio sounds to the speaker (cosine similarity),
and nothing else: no engine here can speak with an embedding.

Measurements, all on 16 kHz mono audio:

- median_pitch_hz: YIN median over the voiced frames (audio.median_pitch_hz), 50 to 450 Hz; with
  several samples, the median of the samples' medians weighted by their speech time.
- speaking_rate: a tempo index in 1/s, not syllables per second. It is the inverse of the time the
  short-term spectrum (40-band log-mel, 10 ms frames) takes, on average over the speech, to change
  half as much as it changes across a syllable (the mean absolute log-mel difference between frames
  `lag` apart, over pairs of speech frames, rises with the lag and levels off by 250-400 ms; the lag
  where it first reaches half of that plateau is the voice's "spectral change time"). Talking faster
  shortens it in proportion, pitch shifts barely move it, and pauses are left out (only pairs of
  frames within 40 dB of the loud speech count). The words matter too: from one sentence, the speed
  it implies is off by about 12% (one standard deviation); several sentences average that out.
  Piper's joe voice scores about 40/s.
- embedding: Resemblyzer's VoiceEncoder over all samples (embed_speaker), unit norm.

The fit (clone_profile): pitch_semitones = 12 * log2(pitch / the local voice's pitch), kept within the
shifts the voice stays intelligible at (PITCH_SEMITONES_RANGE); speed_factor is
the Piper speed at which the local voice measures the samples' tempo, read off the local voice's
tempo curve (its rate measured at a few Piper speeds), or the plain rate ratio without a curve.
"""

from __future__ import annotations

import math
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from media_jobs.engines.audio import decode_to_mono, median_pitch_hz, rms_dbfs, run_ffmpeg
from media_jobs.engines.base import EngineError, EngineUnavailable, VoiceMeasurements, VoiceProfile
from media_jobs.engines.speech.piper import INTELLIGIBLE_PITCH, PiperSpeech

if TYPE_CHECKING:
    from resemblyzer import VoiceEncoder

SAMPLE_RATE = 16000  # what Resemblyzer's encoder expects; every measurement runs at this rate
MIN_SAMPLES, MAX_SAMPLES = 1, 10
MIN_SAMPLE_SECONDS = 1.0
MAX_SAMPLE_SECONDS = 300.0
MAX_TOTAL_SECONDS = 600.0
SILENCE_DBFS = -50.0  # a sample whose overall RMS is below this holds no usable speech
PITCH_RANGE_HZ = (50.0, 450.0)  # low male voices to children's
# The pitch shifts the fit may apply: the ones the engine applies at all, where Whisper tiny.en still hears
# the shifted local voice (bench/pitch_intelligibility.py, docs/VOICES.md).
PITCH_SEMITONES_RANGE = INTELLIGIBLE_PITCH
SPEED_FACTOR_RANGE = (0.5, 2.0)
EMBEDDING_SIZE = 256
# Cosine similarity of two recordings' embeddings at which "the same speaker" is as often wrongly refused as
# "another speaker" wrongly accepted, across recording devices (docs/CONSENT_VOICE_THRESHOLD.md).
SAME_SPEAKER_SIMILARITY = 0.67
TEMPO_SPEEDS = (0.7, 1.0, 1.4, 2.0)  # Piper speeds the local voice's tempo curve is measured at

# The rate measure (see the module docstring).
_HOP = SAMPLE_RATE // 100  # 10 ms frames
_N_FFT = 400  # 25 ms window
_N_MELS = 40
_SPEECH_RANGE_DB = 40.0  # frames within this of the loud speech (95th percentile) count as speech
_PLATEAU_LAGS = (25, 40)  # 250-400 ms: across syllables, where the spectral change levels off
_MIN_SPEECH_FRAMES = 50  # half a second of speech at least, or there is no tempo to measure

# Read once by the local voice to measure its own pitch and tempo: varied sounds, ~12 s at speed 1.
REFERENCE_TEXT = (
    "Every morning the baker opens the shop before sunrise. She bakes bread, rolls and a few sweet cakes, "
    "and by seven o'clock a line of neighbours waits at the door. Nobody minds the wait; the smell alone is worth it."
)


def cosine_similarity(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom else 0.0


# -- samples --------------------------------------------------------------------------------------


def _decode(path: Path, number: int) -> np.ndarray:
    """The sample as 16 kHz mono float32, decoding at most a little more than the longest allowed sample."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sample.wav"
        try:
            run_ffmpeg(
                ["-i", str(path), "-vn", "-t", f"{MAX_SAMPLE_SECONDS + 1:g}", "-ac", "1", "-ar", str(SAMPLE_RATE),
                 "-c:a", "pcm_s16le", str(out)]
            )  # fmt: skip
            samples, rate = decode_to_mono(out)
        except EngineError as exc:
            if exc.retryable:
                raise
            raise EngineError(f"sample {number}: cannot be decoded as audio.", retryable=False) from exc
    if rate != SAMPLE_RATE:  # ffmpeg was asked for this rate; anything else is a broken file
        raise EngineError(f"sample {number}: cannot be decoded as audio.", retryable=False)
    return samples


def load_samples(samples: Sequence[Path]) -> list[np.ndarray]:
    """Decode and check every sample; EngineError(retryable=False) names the first one that is unusable.

    Each must decode as audio, last 1 s to 5 min, not be silent and hold voiced speech; together at
    most 10 min. Cheap (ffmpeg and numpy, no model), so a request can run it before queueing a job.
    """
    if not MIN_SAMPLES <= len(samples) <= MAX_SAMPLES:
        raise EngineError(f"Give {MIN_SAMPLES} to {MAX_SAMPLES} samples (got {len(samples)}).", retryable=False)
    decoded, total = [], 0.0
    for number, path in enumerate(samples, start=1):
        audio = _decode(Path(path), number)
        seconds = len(audio) / SAMPLE_RATE
        if seconds < MIN_SAMPLE_SECONDS:
            raise EngineError(
                f"sample {number}: is {seconds:.1f} s long; each sample needs at least {MIN_SAMPLE_SECONDS:g} s.",
                retryable=False,
            )
        if seconds > MAX_SAMPLE_SECONDS:
            raise EngineError(f"sample {number}: is longer than {MAX_SAMPLE_SECONDS / 60:g} minutes.", retryable=False)
        if rms_dbfs(audio) < SILENCE_DBFS:
            raise EngineError(f"sample {number}: is silent.", retryable=False)
        total += seconds
        if total > MAX_TOTAL_SECONDS:
            raise EngineError(
                f"The samples last more than {MAX_TOTAL_SECONDS / 60:g} minutes together.", retryable=False
            )
        decoded.append(audio)
    return decoded


# -- measurements ---------------------------------------------------------------------------------


def _log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) log-mel energies in dB."""
    import librosa  # heavy (numba, scipy): loaded only by processes that measure voices

    mel = librosa.feature.melspectrogram(
        y=audio, sr=SAMPLE_RATE, n_fft=_N_FFT, hop_length=_HOP, n_mels=_N_MELS, fmin=100.0, fmax=6000.0
    )
    return (10.0 * np.log10(mel + 1e-10)).T


def _spectral_change(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per lag (1..40 frames): summed mean-absolute log-mel change over pairs of speech frames, pair counts,
    and the number of speech frames."""
    feats = _log_mel(audio)
    loudness = feats.max(axis=1)
    floor = np.percentile(loudness, 95) - _SPEECH_RANGE_DB
    speech = loudness > floor
    feats = np.maximum(feats, floor)  # noise below the speech range is all the same "silence"
    max_lag = _PLATEAU_LAGS[1]
    sums, counts = np.zeros(max_lag), np.zeros(max_lag)
    for lag in range(1, min(max_lag, len(feats) - 1) + 1):
        pairs = speech[:-lag] & speech[lag:]
        change = np.abs(feats[lag:] - feats[:-lag]).mean(axis=1)
        sums[lag - 1], counts[lag - 1] = change[pairs].sum(), pairs.sum()
    return sums, counts, int(speech.sum())


def _tempo(sums: np.ndarray, counts: np.ndarray) -> float | None:
    """Inverse of the lag (s) where the mean spectral change first reaches half its plateau."""
    if counts[_PLATEAU_LAGS[1] - 1] == 0 or counts.min() == 0:
        return None
    curve = sums / counts
    target = 0.5 * curve[_PLATEAU_LAGS[0] - 1 :].mean()
    above = np.nonzero(curve >= target)[0]
    if not len(above) or above[0] == 0:
        return None
    i = int(above[0])  # curve[i - 1] < target <= curve[i], lags i and i + 1 frames
    lag = i + (target - curve[i - 1]) / (curve[i] - curve[i - 1])
    return float(SAMPLE_RATE / _HOP / lag)


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    order = np.argsort(values)
    v, w = np.asarray(values)[order], np.asarray(weights, dtype=np.float64)[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, 0.5 * cum[-1])])


_encoder: VoiceEncoder | None = None
_encoder_lock = threading.Lock()


def _resemblyzer() -> ModuleType:
    try:
        with warnings.catch_warnings():  # resemblyzer imports a deprecated scipy path
            warnings.simplefilter("ignore", DeprecationWarning)
            import resemblyzer  # heavy (torch): loaded only by processes that embed voices
    except ImportError as exc:
        raise EngineUnavailable(f"Resemblyzer is not installed: {exc}.") from exc
    return resemblyzer


def load_encoder() -> VoiceEncoder:
    """Resemblyzer's speaker encoder (its weights ship inside the package), loaded once per process."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = _resemblyzer().VoiceEncoder(device="cpu", verbose=False)
        return _encoder


class LocalVoiceAnalyzer:
    """Pitch, tempo and speaker embedding of a set of recordings of one speaker. CPU only, no network."""

    name: ClassVar[str] = "local"

    def analyze(self, *, samples: Sequence[Path]) -> VoiceMeasurements:
        decoded = load_samples(samples)
        pitches, weights, speech_frames = [], [], 0
        sums, counts = np.zeros(_PLATEAU_LAGS[1]), np.zeros(_PLATEAU_LAGS[1])
        for number, audio in enumerate(decoded, start=1):
            pitch = median_pitch_hz(audio, SAMPLE_RATE, fmin=PITCH_RANGE_HZ[0], fmax=PITCH_RANGE_HZ[1])
            if pitch is None:
                raise EngineError(f"sample {number}: holds no voiced speech.", retryable=False)
            s, c, frames = _spectral_change(audio)
            sums, counts, speech_frames = sums + s, counts + c, speech_frames + frames
            pitches.append(pitch)
            weights.append(max(frames, 1))
        rate = _tempo(sums, counts) if speech_frames >= _MIN_SPEECH_FRAMES else None
        if rate is None:
            raise EngineError("The samples hold too little speech to measure how fast it is.", retryable=False)
        return VoiceMeasurements(
            embedding=self.embed(decoded),
            median_pitch_hz=_weighted_median(pitches, weights),
            speaking_rate=float(rate),
            total_seconds=sum(len(a) for a in decoded) / SAMPLE_RATE,
            sample_count=len(decoded),
            speech_seconds=speech_frames * _HOP / SAMPLE_RATE,
        )

    def embed(self, decoded: Sequence[np.ndarray]) -> list[float]:
        """The speaker's d-vector over all samples (16 kHz mono float arrays)."""
        encoder = load_encoder()
        wavs = []
        for audio in decoded:
            wav = _resemblyzer().preprocess_wav(audio, source_sr=SAMPLE_RATE)  # volume-normalised, long silences cut
            wavs.append(wav if len(wav) >= SAMPLE_RATE // 2 else audio)  # keep the raw audio if VAD cut it all
        embedding = np.asarray(encoder.embed_speaker(wavs), dtype=np.float64)
        return [float(v) for v in embedding]


# -- fitting the local voice ----------------------------------------------------------------------


def _speed_for_rate(rate: float, tempo_curve: tuple[tuple[float, float], ...]) -> float:
    """The Piper speed at which the local voice measures `rate`: linear on log-log axes between the
    curve's points, and along its end segments beyond them."""
    speeds = np.log([speed for speed, _ in tempo_curve])
    rates = np.log([measured for _, measured in tempo_curve])
    rates = np.maximum.accumulate(rates) + np.arange(len(rates)) * 1e-6  # strictly increasing
    x = math.log(rate)
    i = int(np.clip(np.searchsorted(rates, x), 1, len(rates) - 1))  # segment i-1..i, or an end segment
    slope = (speeds[i] - speeds[i - 1]) / (rates[i] - rates[i - 1])
    return float(math.exp(speeds[i - 1] + slope * (x - rates[i - 1])))


def clone_profile(
    measurements: VoiceMeasurements,
    base: VoiceMeasurements,
    *,
    tempo_curve: tuple[tuple[float, float], ...] | None = None,
) -> dict:
    """The adjustments that take the local voice (`base`) to the measured speaker's pitch and tempo.

    pitch_semitones = 12 * log2(pitch / base pitch), clamped to PITCH_SEMITONES_RANGE (-3 to +4): beyond
    it the shifted voice is no longer reliably understood, so a distant speaker (a female voice sits about
    an octave above the local one) gets the nearest intelligible pitch, not their own.
    speed_factor = rate / base rate, clamped to 0.5-2.0; with a tempo_curve (local_voice_tempo_curve: the
    rate the local voice measures at each Piper speed) it is instead the Piper speed at which the local
    voice measures the samples' rate, which corrects for Piper's speed and the rate measure both being
    compressive (Piper at speed 2.0 measures only about 1.35 times its speed-1 rate). These are the keys
    voice_profile_for_speech reads from a local voice.
    """
    semitones = 12.0 * math.log2(measurements.median_pitch_hz / base.median_pitch_hz)
    if tempo_curve:
        speed = _speed_for_rate(measurements.speaking_rate, tempo_curve)
    else:
        speed = measurements.speaking_rate / base.speaking_rate
    return {
        "pitch_semitones": round(float(max(PITCH_SEMITONES_RANGE[0], min(PITCH_SEMITONES_RANGE[1], semitones))), 3),
        "speed_factor": round(float(max(SPEED_FACTOR_RANGE[0], min(SPEED_FACTOR_RANGE[1], speed))), 3),
    }


_base: VoiceMeasurements | None = None
_tempo_curve: tuple[tuple[float, float], ...] | None = None
_base_lock = threading.Lock()


def _measure_local_voice(speed: float) -> VoiceMeasurements:
    with tempfile.TemporaryDirectory() as tmp:
        speech = PiperSpeech().synthesize(text=REFERENCE_TEXT, voice=VoiceProfile(speed=speed), out_dir=Path(tmp))
        return LocalVoiceAnalyzer().analyze(samples=[speech.path])


def local_voice_base() -> VoiceMeasurements:
    """The local Piper voice measured once per process: REFERENCE_TEXT at speed 1 and no pitch shift."""
    global _base
    with _base_lock:
        if _base is None:
            _base = _measure_local_voice(1.0)
        return _base


def local_voice_tempo_curve() -> tuple[tuple[float, float], ...]:
    """(Piper speed, measured speaking_rate) for the local voice reading REFERENCE_TEXT at TEMPO_SPEEDS,
    measured once per process (three syntheses besides the base)."""
    global _tempo_curve
    base = local_voice_base()
    with _base_lock:
        if _tempo_curve is None:
            _tempo_curve = tuple(
                (speed, base.speaking_rate if speed == 1.0 else _measure_local_voice(speed).speaking_rate)
                for speed in TEMPO_SPEEDS
            )
        return _tempo_curve


def clone_similarity(measurements: VoiceMeasurements, profile: dict) -> float:
    """How much the local voice, fitted with `profile`, sounds like the samples: the cosine similarity
    of speaker embeddings (about 0.95 for two recordings of one voice; different speakers are far lower).

    It renders REFERENCE_TEXT with the fitted voice and embeds it, so it costs one synthesis.
    """
    voice = VoiceProfile(speed=profile["speed_factor"], pitch_semitones=profile["pitch_semitones"])
    with tempfile.TemporaryDirectory() as tmp:
        speech = PiperSpeech().synthesize(text=REFERENCE_TEXT, voice=voice, out_dir=Path(tmp))
        rendered = _decode(speech.path, 1)
    return cosine_similarity(LocalVoiceAnalyzer().embed([rendered]), measurements.embedding)
