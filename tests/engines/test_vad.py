"""Voice activity, frame by frame as a live session hears it: both detectors find Piper's speech and its end;
in room noise only Silero still ends the turn (bench/turn_ending.py measures it over ten questions)."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from media_jobs.engines import SPEECH_ENGINE, VOICE_ACTIVITY_DETECTOR, get_engine
from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import EngineError, VoiceProfile

RATE = 48000
FRAME = RATE // 50  # 20 ms


@pytest.fixture(scope="module")
def question() -> tuple[np.ndarray, float, float]:
    """48 kHz int16 speech with a second of silence before and after; where its speech starts and ends (s)."""
    with tempfile.TemporaryDirectory() as folder:
        said = get_engine(SPEECH_ENGINE, "piper").synthesize(
            text="How much is delivery to Canada?", voice=VoiceProfile(), out_dir=Path(folder)
        )
        samples, _ = decode_to_mono(said.path, sample_rate=RATE)
    silence = np.zeros(RATE, dtype=np.float32)
    speech = np.concatenate([silence, samples, silence])
    return (speech * 32767).astype(np.int16), 1.0, 1.0 + len(samples) / RATE


def voiced(name: str, pcm: np.ndarray) -> np.ndarray:
    listen = get_engine(VOICE_ACTIVITY_DETECTOR, name).listener(sample_rate=RATE)
    return np.array([listen(pcm[i : i + FRAME].tobytes()) for i in range(0, len(pcm) - FRAME + 1, FRAME)])


def test_silero_is_the_default_detector():
    assert get_engine(VOICE_ACTIVITY_DETECTOR).name == "silero"


@pytest.mark.parametrize("name", ["silero", "webrtc"])
def test_speech_is_heard_where_it_is_and_silence_is_not(name, question):
    pcm, start, end = question
    heard = voiced(name, pcm)
    times = np.arange(len(heard)) * 0.02
    assert not heard[times < start - 0.1].any()
    assert heard[(times > start + 0.3) & (times < end - 0.3)].mean() > 0.8
    assert not heard[times > end + 0.3].any()
    segments = list(get_engine(VOICE_ACTIVITY_DETECTOR, name).segments(
        [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm) - FRAME + 1, FRAME)], sample_rate=RATE, frame_ms=20
    ))  # fmt: skip
    assert segments[0].speech is False and segments[-1].speech is False
    assert all(a.end == b.start and a.speech != b.speech for a, b in zip(segments, segments[1:], strict=False))


def test_in_room_noise_silero_still_hears_the_end_of_speech_and_webrtc_does_not(question):
    pcm, start, end = question
    rng = np.random.default_rng(3)
    noise = np.convolve(rng.standard_normal(len(pcm) + 63), np.ones(64) / 64, mode="valid")
    speech_power = np.mean(pcm[int(start * RATE) : int(end * RATE)].astype(np.float64) ** 2)
    noise *= np.sqrt(speech_power / 10 / np.mean(noise**2))  # 10 dB SNR
    noisy = np.clip(pcm + noise, -32768, 32767).astype(np.int16)
    times = np.arange(len(pcm) // FRAME) * 0.02
    after = times > end + 0.4
    assert voiced("silero", noisy)[after].mean() < 0.2
    assert voiced("webrtc", noisy)[after].mean() > 0.8


def test_a_rate_the_detector_cannot_take_is_refused():
    with pytest.raises(EngineError, match="16000"):
        get_engine(VOICE_ACTIVITY_DETECTOR, "silero").listener(sample_rate=22050)
    with pytest.raises(EngineError, match="WebRTC VAD takes audio"):
        get_engine(VOICE_ACTIVITY_DETECTOR, "webrtc").listener(sample_rate=22050)(b"\0" * 882)
