"""The replica's side of the call: its voice 20 ms at a time and its face 25 times a second, kept in step.

`Playout` holds the sentences waiting to be said. The audio track takes 960 samples from it every 20 ms (silence
when there is nothing to say), and the video track draws the mouth at the point the audio has reached, so what
is seen follows what is heard: both tracks pace themselves on the same clock, as aiortc's own tracks do.
Barge-in clears the playout: the very next audio packet is silence and the mouth closes.
"""

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np
from av import AudioFrame, VideoFrame

from knowledge.live.pacing import PacedTrack
from knowledge.live.pipeline import FPS, SAMPLE_RATE, Replica, Utterance, draw
from media_jobs.engines.talking_head.speech_driver import relax_step

PACKET_SECONDS = 0.02
PACKET_SAMPLES = int(SAMPLE_RATE * PACKET_SECONDS)
VIDEO_CLOCK = 90000  # RTP's video clock rate


class Playout:
    """The reply's sentences in the order they are said, and how far the listener has heard."""

    def __init__(self) -> None:
        self.queue: deque[Utterance] = deque()
        self.current: Utterance | None = None
        self.position = 0  # samples of `current` already sent
        self.heard: list[tuple[str, float]] = []  # (sentence, share sent) of the turn so far
        self.on_first_sample: Callable[[], None] | None = None  # told when a turn's first sample goes out

    @property
    def speaking(self) -> bool:
        return self.current is not None or bool(self.queue)

    def add(self, utterance: Utterance) -> None:
        self.queue.append(utterance)

    def next_packet(self) -> bytes:
        """The next 20 ms of the replica's voice: 16-bit mono PCM, silence when it has nothing to say."""
        out = np.zeros(PACKET_SAMPLES, dtype=np.int16)
        filled = 0
        while filled < PACKET_SAMPLES:
            if self.current is None:
                if not self.queue:
                    break
                self.current, self.position = self.queue.popleft(), 0
                self.heard.append((self.current.text, 0.0))
                if self.on_first_sample is not None:
                    self.on_first_sample()
                    self.on_first_sample = None
            take = min(PACKET_SAMPLES - filled, len(self.current.pcm) - self.position)
            out[filled : filled + take] = self.current.pcm[self.position : self.position + take]
            filled += take
            self.position += take
            self.heard[-1] = (self.current.text, self.position / max(1, len(self.current.pcm)))
            if self.position >= len(self.current.pcm):
                self.current = None
        return out.tobytes()

    def mouth(self) -> tuple[float, float]:
        """(jaw_open, mouth_width) where the audio has reached; closed between sentences and in silence."""
        if self.current is None:
            return 0.0, 0.0
        motion = self.current.motion
        index = min(motion.frames - 1, int(self.position / SAMPLE_RATE * FPS))
        return float(motion.jaw_open[index]), float(motion.mouth_width[index])

    def clear(self) -> str:
        """Stop at once (barge-in): drop what is queued; answer the words the listener heard of this turn."""
        self.queue.clear()
        self.current = None
        return self.heard_text()

    def heard_text(self) -> str:
        words: list[str] = []
        for text, share in self.heard:
            sentence = text.split()
            words += sentence if share >= 1.0 else sentence[: int(len(sentence) * share)]
        return " ".join(words)

    def turn_begin(self, on_first_sample: Callable[[], None] | None = None) -> None:
        self.heard = []
        self.on_first_sample = on_first_sample


class ReplicaAudioTrack(PacedTrack):
    kind = "audio"
    period = PACKET_SECONDS

    def __init__(self, playout: Playout) -> None:
        super().__init__()
        self.playout = playout

    async def recv(self) -> AudioFrame:
        count = await self.next_slot()
        frame = AudioFrame(format="s16", layout="mono", samples=PACKET_SAMPLES)
        frame.planes[0].update(self.playout.next_packet())
        frame.pts = count * PACKET_SAMPLES
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class ReplicaVideoTrack(PacedTrack):
    kind = "video"
    period = 1 / FPS

    def __init__(self, replica: Replica, playout: Playout, executor: Executor) -> None:
        super().__init__()
        self.replica = replica
        self.playout = playout
        self.executor = executor
        self.smile_relax = 0.0  # a smile the photo holds lets go while the replica speaks, and comes back after

    async def recv(self) -> VideoFrame:
        count = await self.next_slot()
        mouth = self.playout.mouth()
        self.smile_relax = relax_step(self.smile_relax, speaking=self.playout.speaking)
        relax = self.smile_relax
        # Drawing takes a few milliseconds of NumPy and OpenCV, which release the GIL: off the event loop.
        pixels = await asyncio.get_running_loop().run_in_executor(
            self.executor, lambda: draw(self.replica, frame_index=count, mouth=mouth, smile_relax=relax)
        )
        frame = VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = count * (VIDEO_CLOCK // FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame
