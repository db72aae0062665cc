"""The audio helpers on signals whose answers are known: tones, silence, noise, files written here."""

import wave

import numpy as np
import pytest

from media_jobs.engines.audio import (
    decode_to_mono,
    duration_seconds,
    is_silent,
    median_pitch_hz,
    rms_dbfs,
    run_ffmpeg,
)
from media_jobs.engines.base import EngineError


def tone(freq: float, seconds: float = 1.0, sample_rate: int = 22050, harmonics: tuple[float, ...] = (1.0,)):
    """A tone with the given harmonic amplitudes (1st = the fundamental), peak-normalised to 0.8."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    signal = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t + k) for k, a in enumerate(harmonics))
    return (0.8 * signal / np.max(np.abs(signal))).astype(np.float32)


def write_wav(path, samples: np.ndarray, sample_rate: int, channels: int = 1) -> None:
    data = np.repeat((samples * 32767).astype("<i2")[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(data.tobytes())


@pytest.mark.parametrize("freq", [110.0, 220.0])
@pytest.mark.parametrize("sample_rate", [16000, 22050, 44100])
def test_median_pitch_of_a_sine(freq, sample_rate):
    assert median_pitch_hz(tone(freq, sample_rate=sample_rate), sample_rate) == pytest.approx(freq, rel=0.03)


@pytest.mark.parametrize("freq", [110.0, 220.0])
def test_median_pitch_of_a_harmonic_tone_is_its_fundamental(freq):
    # Voice-like: the 2nd and 3rd harmonics are stronger than the fundamental; no octave error.
    rich = tone(freq, harmonics=(0.3, 1.0, 0.8, 0.5, 0.3, 0.2))
    assert median_pitch_hz(rich, 22050) == pytest.approx(freq, rel=0.03)


def test_median_pitch_ignores_silence_and_survives_noise():
    rng = np.random.default_rng(7)
    sr = 22050
    speechy = np.concatenate([np.zeros(sr // 2), tone(110.0, 0.6), np.zeros(sr // 3), tone(110.0, 0.4)])
    noisy = speechy + rng.normal(0, 0.05, len(speechy))  # about 17 dB SNR in the voiced parts
    assert median_pitch_hz(noisy.astype(np.float32), sr) == pytest.approx(110.0, rel=0.03)


def test_median_pitch_of_silence_noise_or_too_little_audio_is_none():
    rng = np.random.default_rng(3)
    assert median_pitch_hz(np.zeros(22050, dtype=np.float32), 22050) is None
    assert median_pitch_hz(rng.normal(0, 0.3, 22050).astype(np.float32), 22050) is None
    assert median_pitch_hz(tone(110.0, seconds=0.01), 22050) is None


def test_median_pitch_of_a_low_voice_between_the_defaults():
    assert median_pitch_hz(tone(65.0, harmonics=(1.0, 0.7, 0.5)), 22050) == pytest.approx(65.0, rel=0.03)
    assert median_pitch_hz(tone(380.0), 22050) == pytest.approx(380.0, rel=0.03)


def test_rms_dbfs_and_silence():
    t = np.arange(22050) / 22050
    assert rms_dbfs(np.sin(2 * np.pi * 440 * t)) == pytest.approx(-3.01, abs=0.05)
    assert rms_dbfs(0.5 * np.sin(2 * np.pi * 440 * t)) == pytest.approx(-9.03, abs=0.05)
    assert rms_dbfs(np.zeros(100)) == -120.0
    assert rms_dbfs(np.array([])) == -120.0
    assert is_silent(np.zeros(22050))
    assert is_silent(1e-4 * np.sin(2 * np.pi * 440 * t))  # -83 dBFS
    assert not is_silent(0.1 * np.sin(2 * np.pi * 440 * t))
    assert is_silent(0.01 * np.sin(2 * np.pi * 440 * t), threshold_dbfs=-30)


def test_decode_a_stereo_wav_to_mono(tmp_path):
    samples = tone(220.0, seconds=0.5, sample_rate=16000)
    path = tmp_path / "stereo.wav"
    write_wav(path, samples, 16000, channels=2)
    decoded, rate = decode_to_mono(path)
    assert rate == 16000
    assert decoded.dtype == np.float32
    assert len(decoded) == len(samples)
    assert np.max(np.abs(decoded - samples)) < 1e-3
    assert duration_seconds(path) == pytest.approx(0.5)


def test_decode_an_mp3_and_resample(tmp_path):
    wav_path, mp3_path = tmp_path / "tone.wav", tmp_path / "tone.mp3"
    write_wav(wav_path, tone(220.0, seconds=1.0), 22050)
    run_ffmpeg(["-i", str(wav_path), "-c:a", "libmp3lame", "-b:a", "64k", str(mp3_path)])

    decoded, rate = decode_to_mono(mp3_path)
    assert rate == 22050
    assert len(decoded) / rate == pytest.approx(1.0, abs=0.03)
    assert median_pitch_hz(decoded, rate) == pytest.approx(220.0, rel=0.03)
    assert duration_seconds(mp3_path) == pytest.approx(1.0, abs=0.03)

    resampled, rate = decode_to_mono(wav_path, sample_rate=16000)
    assert rate == 16000
    assert len(resampled) == pytest.approx(16000, abs=20)


def test_a_file_ffmpeg_cannot_read_is_a_non_retryable_error(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("not audio at all")
    with pytest.raises(EngineError) as excinfo:
        decode_to_mono(path)
    assert excinfo.value.retryable is False
