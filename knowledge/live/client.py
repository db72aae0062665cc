"""A Python client for a live conversation, for scripts, the tests and the latency benchmark.

It does what the browser page does: sends a microphone (here, PCM you give it, paced in real time), receives
the replica's audio and video, and reads the `events` channel, recording everything with arrival times:

    client = LiveClient(offer_url=..., token=...)
    await client.connect()
    client.say(pcm48k)                       # int16 mono at 48 kHz; silence is sent in between
    await client.wait_for("agent_done")
    await client.close()
"""

import asyncio
import fractions
import json
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import requests
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from knowledge.live.pacing import PacedTrack

SAMPLE_RATE = 48000
PACKET_SAMPLES = 960  # 20 ms


class Microphone(PacedTrack):
    """Plays queued PCM in real time, 20 ms per frame, and silence when the queue is empty."""

    kind = "audio"
    period = PACKET_SAMPLES / SAMPLE_RATE

    def __init__(self) -> None:
        super().__init__()
        self.pending: deque[np.ndarray] = deque()
        self.position = 0  # samples of pending[0] already sent
        self.speech_started_at: list[float] = []  # when each `say` began to go out

    def say(self, pcm: np.ndarray) -> None:
        self.pending.append(np.asarray(pcm, dtype=np.int16))

    async def recv(self) -> AudioFrame:
        sent = await self.next_slot()
        chunk = np.zeros(PACKET_SAMPLES, dtype=np.int16)
        filled = 0
        while filled < PACKET_SAMPLES and self.pending:
            head = self.pending[0]
            if self.position == 0:
                self.speech_started_at.append(time.monotonic())
            take = min(PACKET_SAMPLES - filled, len(head) - self.position)
            chunk[filled : filled + take] = head[self.position : self.position + take]
            filled += take
            self.position += take
            if self.position >= len(head):
                self.pending.popleft()
                self.position = 0
        frame = AudioFrame(format="s16", layout="mono", samples=PACKET_SAMPLES)
        frame.planes[0].update(chunk.tobytes())
        frame.pts = sent * PACKET_SAMPLES
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


@dataclass
class Received:
    audio: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (arrival, 48 kHz int16 mono)
    # When the packet that carried each audio chunk arrived, before the jitter buffer held it (about 80 ms).
    audio_packets: list[float] = field(default_factory=list)
    video: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (arrival, RGB frame)
    events: list[tuple[float, dict]] = field(default_factory=list)


class LiveClient:
    def __init__(self, *, offer_url: str, token: str, keep_video_every: int = 1) -> None:
        self.offer_url = offer_url
        self.token = token
        self.keep_video_every = keep_video_every
        self.pc = RTCPeerConnection()
        self.microphone = Microphone()
        self.received = Received()
        self.video_frames = 0
        self.channel: RTCDataChannel | None = None
        self._tasks: list[asyncio.Task] = []
        self._event = asyncio.Event()
        self._packet_arrivals: dict[int, float] = {}  # RTP timestamp -> arrival

    async def connect(self, *, timeout: float = 20.0) -> None:
        self.pc.addTrack(self.microphone)
        self.pc.addTransceiver("video", direction="recvonly")
        self.channel = channel = self.pc.createDataChannel("events")
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        response = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: requests.post(
                self.offer_url,
                json={"type": "offer", "sdp": self.pc.localDescription.sdp},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=timeout,
            ),
        )
        if response.status_code != 200:
            raise RuntimeError(f"offer refused: {response.status_code} {response.text}")
        await self.pc.setRemoteDescription(RTCSessionDescription(**response.json()))
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "audio":
                self._note_arrivals(transceiver.receiver)
        await asyncio.wait_for(opened.wait(), timeout)

    def say(self, pcm: np.ndarray) -> None:
        self.microphone.say(pcm)

    def type(self, text: str) -> None:
        assert self.channel is not None, "connect() first"
        self.channel.send(json.dumps({"type": "text", "text": text}))

    def events(self, kind: str) -> list[dict]:
        return [event for _, event in self.received.events if event.get("type") == kind]

    async def wait_for(self, kind: str, *, count: int = 1, timeout: float = 60.0) -> float:
        """Wait until `count` events of this type have arrived; the arrival time of the last."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [at for at, event in self.received.events if event.get("type") == kind]
            if len(matching) >= count:
                return matching[count - 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {kind!r} event #{count} within {timeout} s: {self.received.events}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                pass

    def audio_between(self, start: float, end: float) -> np.ndarray:
        chunks = [pcm for at, pcm in self.received.audio if start <= at <= end]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()

    def _on_message(self, message) -> None:
        self.received.events.append((time.monotonic(), json.loads(message)))
        self._event.set()

    def _on_track(self, track) -> None:
        self._tasks.append(asyncio.ensure_future(self._record(track)))

    async def _record(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            if track.kind == "audio":
                self.received.audio_packets.append(self._packet_arrivals.pop(frame.pts, now))
                self.on_audio(now, frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0].astype(np.int16))
            else:
                self.on_video(now, frame)

    def _note_arrivals(self, receiver) -> None:
        """Note when each audio packet arrives, as the server hears the visitor's (knowledge.live.session): how
        soon the replica falls silent on the wire, apart from how long this client's jitter buffer holds it."""
        handle = receiver._handle_rtp_packet

        origin: list[int] = []

        async def noted(packet, arrival_time_ms: int) -> None:
            # A decoded frame's pts is its packet's RTP timestamp counted from the first packet's.
            origin[:] = origin or [packet.timestamp]
            self._packet_arrivals[(packet.timestamp - origin[0]) % 2**32] = time.monotonic()
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = noted

    def on_audio(self, at: float, samples: np.ndarray) -> None:
        """Each 20 ms of the replica's voice as it arrives (48 kHz int16 mono); a subclass may keep less or more."""
        self.received.audio.append((at, samples))

    def on_video(self, at: float, frame) -> None:
        """Each video frame as it arrives (an av.VideoFrame): every `keep_video_every`-th is kept as RGB."""
        if self.video_frames % self.keep_video_every == 0:
            self.received.video.append((at, frame.to_ndarray(format="rgb24")))
        self.video_frames += 1
