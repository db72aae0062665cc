"""Voice activity, offline: WebRTC's detector (webrtcvad-wheels), a few microseconds per 20 ms frame.

It listens to short frames as they arrive, which is what a live conversation needs to hear a visitor start
speaking (barge-in) or stop (end of turn) without waiting for a buffer. Aggressiveness 2 of 0–3: 3 also drops
soft word endings; 0 and 1 take breathing and room noise for speech.
"""

from collections.abc import Iterable, Iterator
from typing import ClassVar

from media_jobs.engines.base import EngineError, SpeechSegment

RATES = (8000, 16000, 32000, 48000)
FRAME_MS = (10, 20, 30)
AGGRESSIVENESS = 2


class WebRtcVad:
    name: ClassVar[str] = "webrtc"

    def __init__(self) -> None:
        import webrtcvad  # heavy enough: a C extension only listening processes need

        self._vad = webrtcvad.Vad(AGGRESSIVENESS)

    def is_speech(self, frame: bytes, *, sample_rate: int) -> bool:
        if sample_rate not in RATES:
            raise EngineError(f"WebRTC VAD takes audio at {', '.join(map(str, RATES))} Hz, not {sample_rate}.")
        if len(frame) not in {sample_rate * ms // 1000 * 2 for ms in FRAME_MS}:
            raise EngineError("WebRTC VAD takes frames of 10, 20 or 30 ms of 16-bit mono PCM.")
        return bool(self._vad.is_speech(frame, sample_rate))

    def segments(self, frames: Iterable[bytes], *, sample_rate: int, frame_ms: int = 30) -> Iterator[SpeechSegment]:
        if frame_ms not in FRAME_MS:
            raise EngineError(f"WebRTC VAD takes frames of 10, 20 or 30 ms, not {frame_ms}.")
        start, speech, position = 0.0, None, 0.0
        for frame in frames:
            voiced = self.is_speech(frame, sample_rate=sample_rate)
            if speech is not None and voiced != speech:
                yield SpeechSegment(start=start, end=position, speech=speech)
                start = position
            speech = voiced
            position += frame_ms / 1000
        if speech is not None:
            yield SpeechSegment(start=start, end=position, speech=speech)
