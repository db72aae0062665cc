"""Small audio helpers shared by engines and tests: decode, measure loudness, estimate pitch.

numpy only; formats other than PCM WAV are decoded with the ffmpeg binary that imageio-ffmpeg ships,
so nothing depends on a system ffmpeg.
"""

import math
import subprocess
import tempfile
import wave
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from media_jobs.engines.base import EngineError

FFMPEG_TIMEOUT_S = 120
SILENCE_FLOOR_DBFS = -120.0
OCTAVE_FOLD = 1.6  # a frame this far from the median is taken for an octave error


def ffmpeg_exe() -> str:
    """The bundled ffmpeg binary; RuntimeError where imageio-ffmpeg has none for this platform."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, timeout: float = FFMPEG_TIMEOUT_S, stdin: bytes | None = None) -> bytes:
    """Run ffmpeg quietly, `stdin` fed to `pipe:0`; what it wrote to `pipe:1`. A timeout is retryable, any other
    failure is not."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        return subprocess.run(cmd, input=stdin, check=True, capture_output=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"ffmpeg timed out after {timeout:g}s.", retryable=True) from exc
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip()[-500:]
        raise EngineError(f"ffmpeg failed (exit {exc.returncode}): {detail}", retryable=False) from exc


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = (np.where(ints >= 1 << 23, ints - (1 << 24), ints) / float(1 << 23)).astype(np.float32)
    elif width == 4:
        samples = (np.frombuffer(raw, dtype="<i4") / float(1 << 31)).astype(np.float32)
    else:
        raise wave.Error(f"unsupported sample width {width}")
    return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32), rate


def decode_to_mono(path: Path | str, *, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Any audio file as (float32 mono samples in [-1, 1], sample rate).

    PCM WAV is read directly; anything else (MP3, float WAV, ...) goes through ffmpeg to 16-bit PCM.
    Pass sample_rate to resample (always through ffmpeg).
    """
    path = Path(path)
    if sample_rate is None:
        try:
            return _read_wav(path)
        except (wave.Error, EOFError):
            pass  # not a plain PCM WAV: let ffmpeg decode it
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "decoded.wav"
        rate_args = ["-ar", str(sample_rate)] if sample_rate else []
        run_ffmpeg(["-i", str(path), "-vn", "-ac", "1", *rate_args, "-c:a", "pcm_s16le", str(out)])
        return _read_wav(out)


def float_pcm(sample_rate: int) -> list[str]:
    """ffmpeg's format arguments for raw float32 mono samples on a pipe (`samples.astype("<f4").tobytes()`)."""
    return ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1"]


def write_wav(path: Path | str, samples: np.ndarray, sample_rate: int) -> None:
    """Float mono samples in [-1, 1] as a 16-bit PCM WAV (the scale decode_to_mono reads them back at)."""
    pcm = np.clip(np.round(np.asarray(samples) * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())


def duration_seconds(path: Path | str) -> float:
    """Length of an audio file in seconds (from the WAV header when possible, else by decoding)."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        samples, rate = decode_to_mono(path)
        return len(samples) / rate


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale sine is about -3 dBFS); floored at -120."""
    if len(samples) == 0:
        return SILENCE_FLOOR_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_FLOOR_DBFS, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_FLOOR_DBFS


def is_silent(samples: np.ndarray, *, threshold_dbfs: float = -50.0) -> bool:
    """True when the overall RMS level is below threshold_dbfs (empty audio is silent)."""
    return rms_dbfs(samples) < threshold_dbfs


def median_pitch_hz(
    samples: np.ndarray,
    sample_rate: int,
    *,
    fmin: float = 60.0,
    fmax: float = 400.0,
    threshold: float = 0.15,
) -> float | None:
    """Median fundamental frequency over the voiced frames (YIN), or None when nothing is voiced.

    YIN (de Cheveigné & Kawahara 2002): the cumulative-mean-normalised difference function picks the
    first period whose dip falls below `threshold`, which avoids octave errors on rich voices.
    Quiet frames (30 dB under the loudest, or below -60 dBFS) and frames with no clear dip are
    skipped; frames an octave off the first median are folded back, and the median of the rest
    shrugs off the odd wrong frame.
    """
    x = np.asarray(samples, dtype=np.float64)
    x = x - x.mean() if len(x) else x
    tau_min = max(2, int(sample_rate / fmax))
    tau_max = int(np.ceil(sample_rate / fmin))
    window = tau_max  # one period of the lowest pitch, as in YIN (25 ms at 40 Hz)
    span = window + tau_max + 1
    hop = max(1, sample_rate // 100)  # 10 ms
    if len(x) < span:
        return None

    frames = np.lib.stride_tricks.sliding_window_view(x, span)[::hop]  # a view: no copy of long audio
    power = np.concatenate([[0.0], np.cumsum(np.square(x))])
    starts = np.arange(len(frames)) * hop
    energy = np.sqrt(np.maximum(power[starts + window] - power[starts], 0.0) / window)
    loud = np.nonzero(energy > max(10 ** (-60 / 20), energy.max() * 10 ** (-30 / 20)))[0]

    n_fft = 1 << int(np.ceil(np.log2(span + window)))
    taus = np.arange(tau_max + 1)
    pitches: list[float] = []
    for chunk in np.array_split(loud, max(1, len(loud) // 256)):
        block = frames[chunk]
        # d(tau) = sum_j (x_j - x_{j+tau})^2 = e(0) + e(tau) - 2 r(tau), with r from one FFT per frame.
        spec_w = np.fft.rfft(block[:, :window], n_fft)
        spec_f = np.fft.rfft(block, n_fft)
        r = np.fft.irfft(np.conj(spec_w) * spec_f, n_fft)[:, : tau_max + 1]
        csum = np.concatenate([np.zeros((len(block), 1)), np.cumsum(np.square(block), axis=1)], axis=1)
        e = csum[:, taus + window] - csum[:, taus]
        d = np.maximum(e[:, :1] + e - 2.0 * r, 0.0)
        cum = np.cumsum(d[:, 1:], axis=1)
        cmnd = np.ones_like(d)
        cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
        for row in cmnd:
            below = np.nonzero(row[tau_min:tau_max] < threshold)[0]
            if not len(below):
                continue  # unvoiced or noisy frame
            tau = tau_min + int(below[0])
            while tau + 1 < tau_max and row[tau + 1] < row[tau]:
                tau += 1  # walk down to the bottom of the dip
            a, b, c = row[tau - 1], row[tau], row[tau + 1]
            denom = a - 2 * b + c
            shift = 0.5 * (a - c) / denom if denom > 0 else 0.0  # parabolic refinement
            pitches.append(sample_rate / (tau + shift))
    if not pitches:
        return None
    # Move octave errors (a harmonic or sub-harmonic picked instead of the fundamental) back by an octave.
    f0 = np.array(pitches)
    first = np.median(f0)
    f0 = np.where(f0 > OCTAVE_FOLD * first, f0 / 2, np.where(f0 < first / OCTAVE_FOLD, f0 * 2, f0))
    return float(np.median(f0))


@cache
def has_rubberband() -> bool:
    """Whether this ffmpeg build has the rubberband filter (better pitch shifting than resampling)."""
    try:
        out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30)
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return False
    return " rubberband " in out.stdout


def pitch_filter(semitones: float, sample_rate: int, num_samples: int) -> str:
    """An ffmpeg filter that shifts the pitch by `semitones` at the same tempo, ending at exactly num_samples.

    rubberband can drop the last ~80 ms of its input, so the audio is padded with silence first and
    trimmed to the exact length after: phoneme timings stay valid on the result. A tempo change is not
    done here: Piper's speech is stretched phoneme by phoneme (media_jobs/engines/speech/tempo.py).
    """
    factor = 2.0 ** (semitones / 12.0)
    if not semitones:
        shift = []
    elif has_rubberband():
        shift = [f"rubberband=pitch={factor:.6f}:pitchq=quality:formant=preserved"]
    else:
        # Resample to move the pitch, then undo the tempo change that resampling made.
        shift = [f"asetrate={sample_rate * factor:.3f}", f"aresample={sample_rate}", *_atempo(1 / factor)]
    return ",".join([f"apad=pad_len={sample_rate // 2}", *shift, f"atrim=end_sample={num_samples}"])


def shift_pitch(samples: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Float mono samples `semitones` higher (lower if negative) at the same tempo and length (pitch_filter)."""
    pcm = float_pcm(sample_rate)
    chain = pitch_filter(semitones, sample_rate, len(samples))
    shifted = run_ffmpeg([*pcm, "-i", "pipe:0", "-af", chain, *pcm, "pipe:1"], stdin=samples.astype("<f4").tobytes())
    return np.frombuffer(shifted, dtype="<f4").astype(np.float32)


def _atempo(tempo: float) -> list[str]:
    """atempo stages for `tempo`, each within 0.5-2.0 (what older ffmpeg builds accept in one stage)."""
    if tempo == 1.0:
        return []
    stages = max(1, math.ceil(abs(math.log2(tempo)) - 1e-9))
    return [f"atempo={tempo ** (1 / stages):.6f}"] * stages
