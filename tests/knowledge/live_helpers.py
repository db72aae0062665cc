"""A visitor who speaks and listens, for the live-conversation tests and the latency benchmark's floor."""

import socket
import tempfile
from pathlib import Path

import numpy as np

from knowledge.live import pipeline
from knowledge.live.client import SAMPLE_RATE
from media_jobs.engines import SPEECH_ENGINE, SPEECH_RECOGNIZER, get_engine
from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import VoiceProfile


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def speech(text: str) -> np.ndarray:
    """Piper saying `text`, as 48 kHz int16: a person at a microphone."""
    with tempfile.TemporaryDirectory() as folder:
        said = get_engine(SPEECH_ENGINE).synthesize(text=text, voice=VoiceProfile(), out_dir=Path(folder))
        samples, rate = decode_to_mono(said.path)
    return (pipeline._resample(samples, rate, SAMPLE_RATE) * 32767).astype(np.int16)


def speech_with_pause(first: str, second: str, *, pause_ms: int) -> np.ndarray:
    """`first`, a pause of exactly `pause_ms` (Piper's own silences trimmed), then `second`: a visitor who stops
    to think in the middle of a question."""
    level = 0.01 * 32767
    before, after = speech(first), speech(second)
    before = before[: np.flatnonzero(np.abs(before) > level)[-1] + 1]
    after = after[np.flatnonzero(np.abs(after) > level)[0] :]
    return np.concatenate([before, np.zeros(SAMPLE_RATE * pause_ms // 1000, dtype=np.int16), after])


def heard(pcm48k: np.ndarray) -> str:
    return get_engine(SPEECH_RECOGNIZER).transcribe_samples(samples=pipeline.to_recognizer(pcm48k)).text
