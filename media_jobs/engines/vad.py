"""Voice activity, offline, frame by frame as audio arrives: what a live conversation needs to hear a visitor
start speaking (barge-in) or stop (end of turn) without waiting for a buffer.

Two detectors, measured against each other by bench/turn_ending.py (docs/LIVE.md):
- Silero (the ONNX model faster-whisper ships), the default: it ends turns in room noise where WebRTC's does
  not (at 10 dB SNR WebRTC hears the noise as speech and never ends a turn), and ~90 ms sooner in quiet,
  for about 2 ms of CPU per second of audio.
- WebRTC's (webrtcvad-wheels): microseconds per frame, fine in a quiet room. Aggressiveness 2 of 0–3: 3 also
  drops soft word endings; 0 and 1 take breathing and room noise for speech.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

import numpy as np

from media_jobs.engines.base import EngineError, SpeechSegment
from media_jobs.engines.loading import load_once

RATES = (8000, 16000, 32000, 48000)
FRAME_MS = (10, 20, 30)
AGGRESSIVENESS = 2


class WebRtcVad:
    name: ClassVar[str] = "webrtc"
    onset_frames: ClassVar[int] = 2  # one frame alone is often a click or a breath

    def __init__(self) -> None:
        import webrtcvad  # heavy enough: a C extension only listening processes need

        self._vad = webrtcvad.Vad(AGGRESSIVENESS)

    def is_speech(self, frame: bytes, *, sample_rate: int) -> bool:
        if sample_rate not in RATES:
            raise EngineError(f"WebRTC VAD takes audio at {', '.join(map(str, RATES))} Hz, not {sample_rate}.")
        if len(frame) not in {sample_rate * ms // 1000 * 2 for ms in FRAME_MS}:
            raise EngineError("WebRTC VAD takes frames of 10, 20 or 30 ms of 16-bit mono PCM.")
        return bool(self._vad.is_speech(frame, sample_rate))

    def listener(self, *, sample_rate: int) -> Callable[[bytes], bool]:
        return lambda frame: self.is_speech(frame, sample_rate=sample_rate)

    def segments(self, frames: Iterable[bytes], *, sample_rate: int, frame_ms: int = 30) -> Iterator[SpeechSegment]:
        if frame_ms not in FRAME_MS:
            raise EngineError(f"WebRTC VAD takes frames of 10, 20 or 30 ms, not {frame_ms}.")
        return _segments(self.listener(sample_rate=sample_rate), frames, frame_ms)


def _segments(listen: Callable[[bytes], bool], frames: Iterable[bytes], frame_ms: int) -> Iterator[SpeechSegment]:
    start, speech, position = 0.0, None, 0.0
    for frame in frames:
        voiced = listen(frame)
        if speech is not None and voiced != speech:
            yield SpeechSegment(start=start, end=position, speech=speech)
            start = position
        speech = voiced
        position += frame_ms / 1000
    if speech is not None:
        yield SpeechSegment(start=start, end=position, speech=speech)


SILERO_RATE = 16000
SILERO_WINDOW = 512  # samples at 16 kHz (32 ms): the model's step
SILERO_CONTEXT = 64  # samples of the previous window the model sees again
SILERO_THRESHOLD = 0.5  # speech probability; faster-whisper's default


@load_once
def _silero_session():
    from faster_whisper.vad import get_vad_model  # heavy: onnxruntime, loaded only by processes that listen

    return get_vad_model().session


class _SileroStream:
    """Silero over one stream: its LSTM state and the last window's tail carry from frame to frame."""

    def __init__(self, sample_rate: int) -> None:
        if sample_rate % SILERO_RATE:
            raise EngineError(f"Silero VAD here takes audio at a multiple of {SILERO_RATE} Hz, not {sample_rate}.")
        self.step = sample_rate // SILERO_RATE
        self.session = _silero_session()
        self.state = np.zeros((1, 1, 128), dtype=np.float32), np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)
        self.speech = False

    def __call__(self, frame: bytes) -> bool:
        pcm = np.frombuffer(frame, dtype=np.int16).astype(np.float32) / 32768.0
        usable = len(pcm) // self.step * self.step
        # Down to 16 kHz by averaging each `step` samples: a box filter is enough for a speech detector.
        self.pending = np.concatenate([self.pending, pcm[:usable].reshape(-1, self.step).mean(axis=1)])
        while len(self.pending) >= SILERO_WINDOW:
            window, self.pending = self.pending[:SILERO_WINDOW], self.pending[SILERO_WINDOW:]
            batch = np.concatenate([self.context, window])[None, :].astype(np.float32)
            output, h, c = self.session.run(None, {"input": batch, "h": self.state[0], "c": self.state[1]})
            self.state, self.context = (h, c), window[-SILERO_CONTEXT:]
            self.speech = float(np.asarray(output).reshape(-1)[0]) > SILERO_THRESHOLD
        return self.speech


class SileroVad:
    name: ClassVar[str] = "silero"
    # The model's state already smooths its decisions: waiting for a second frame only made barge-in 20 ms later
    # (p95 onset 76 ms against 96 ms) and heard no more false starts in room noise (bench/turn_ending.py).
    onset_frames: ClassVar[int] = 1

    def listener(self, *, sample_rate: int) -> Callable[[bytes], bool]:
        return _SileroStream(sample_rate)

    def segments(self, frames: Iterable[bytes], *, sample_rate: int, frame_ms: int = 30) -> Iterator[SpeechSegment]:
        return _segments(self.listener(sample_rate=sample_rate), frames, frame_ms)
