"""One live conversation's media session: WebRTC in, turns, the replica's voice and face out.

The visitor's audio is heard twice. Every RTP packet is decoded and given to the voice-activity detector as it
arrives, before aiortc's jitter buffer (which alone costs about 80 ms), so the replica stops talking the moment
the visitor starts (barge-in) and knows when they have finished (end of turn). The decoded track itself is only
drained. A turn's audio is transcribed speculatively after a short pause and used if the pause turns out to be
the end of the turn; the answer streams from the responder and is said sentence by sentence while the rest is
still being written. Messages are stored as the SSE route stores them.

A session ends on the conversation's end (the API, polled every half second), on `LIVE_IDLE_SECONDS` without
the visitor speaking or typing, after `LIVE_MAX_SECONDS`, when the browser goes away, or when the process stops.
However it ends, its tasks are cancelled and the peer connection closed.
"""

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import aioice.ice
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusDecoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from django.conf import settings

from knowledge.live import pipeline
from knowledge.live.media import Playout, ReplicaAudioTrack, ReplicaVideoTrack
from knowledge.live.threads import in_executor, in_thread
from knowledge.models import Conversation
from knowledge.services.conversations import conversation_end
from media_jobs.engines import VOICE_ACTIVITY_DETECTOR, get_engine
from media_jobs.engines.base import EngineError

logger = logging.getLogger(__name__)

FRAME_MS = 20
START_FRAMES = 2  # voiced 20 ms frames of the last START_WINDOW that make the visitor "speaking"
START_WINDOW = 3
SPECULATE_MS = 200  # a pause this long starts transcribing what was said so far
END_MS = 400  # a pause this long ends the visitor's turn
PRE_ROLL_MS = 300  # audio kept from before speech was detected: the first syllable's onset
MAX_TURN_SECONDS = 30  # a turn this long is answered even if the visitor has not paused
WATCH_SECONDS = 0.5
MAX_MESSAGE_BYTES = 4096
CLOSE_WAIT_SECONDS = 10


def _with_loopback(host_addresses: Callable[[bool, bool], list[str]]) -> Callable[[bool, bool], list[str]]:
    """aioice offers every interface's address but loopback; a client on the same machine (the tests, the benchmark,
    a developer's browser on a host without another interface) needs 127.0.0.1 too."""

    def addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        found = host_addresses(use_ipv4, use_ipv6)
        return [*found, "127.0.0.1"] if use_ipv4 and "127.0.0.1" not in found else found

    return addresses


aioice.ice.get_host_addresses = _with_loopback(aioice.ice.get_host_addresses)  # type: ignore[assignment]


class TurnDetector:
    """20 ms frames in; says when the visitor starts speaking and when their turn ends, keeping its audio."""

    def __init__(self, *, is_speech: Callable[[bytes], bool]) -> None:
        self.is_speech = is_speech
        self.recent: deque[bool] = deque(maxlen=START_WINDOW)
        self.pre_roll: deque[np.ndarray] = deque(maxlen=PRE_ROLL_MS // FRAME_MS)
        self.turn: list[np.ndarray] = []
        self.speaking = False
        self.silent_ms = 0
        self.frames_since_speech = 0

    def feed(self, pcm: np.ndarray) -> str | None:
        """One 20 ms frame of 48 kHz int16 mono: "start", "pause" (time to speculate), "end" or None."""
        voiced = self.is_speech(pcm.tobytes())
        self.recent.append(voiced)
        if not self.speaking:
            self.pre_roll.append(pcm)
            if sum(self.recent) >= START_FRAMES:
                self.speaking, self.silent_ms = True, 0
                self.turn = list(self.pre_roll)
                self.pre_roll.clear()
                return "start"
            return None
        self.turn.append(pcm)
        self.silent_ms = 0 if voiced else self.silent_ms + FRAME_MS
        if self.silent_ms >= END_MS or len(self.turn) * FRAME_MS >= MAX_TURN_SECONDS * 1000:
            self.speaking = False
            self.recent.clear()
            return "end"
        if self.silent_ms == SPECULATE_MS:
            return "pause"
        return None

    def audio(self) -> np.ndarray:
        """The turn so far, without the pause at its end (what the recognizer should hear)."""
        keep = len(self.turn) - max(0, self.silent_ms - 100) // FRAME_MS
        return np.concatenate(self.turn[:keep]) if self.turn else np.zeros(0, dtype=np.int16)


class LiveSession:
    """Held by the live process (knowledge.live.sessions) from the offer until it ends."""

    def __init__(self, *, replica: pipeline.Replica, on_closed: Callable[["LiveSession"], None]) -> None:
        self.replica = replica
        self.conversation_id = replica.conversation_id
        self.on_closed = on_closed
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[_ice_server(s) for s in settings.LIVE_ICE_SERVERS]))
        self.playout = Playout()
        # The session's own threads (hearing, answering, speaking, drawing): closing waits for them, so a session
        # that ends mid-sentence leaves no thread or file behind.
        self.executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix=f"live-{self.conversation_id}")
        self.channel = None
        self.tasks: set[asyncio.Task] = set()
        self.reply_task: asyncio.Task | None = None
        self.speculation: asyncio.Future[str] | None = None
        self.started = time.monotonic()
        self.last_heard = self.started
        self.closed = asyncio.Event()
        self.ignored_messages = 0
        self.timings: list[dict] = []  # per turn: when each stage finished, for the benchmark
        self.turns = TurnDetector(
            is_speech=get_engine(VOICE_ACTIVITY_DETECTOR).listener(sample_rate=pipeline.SAMPLE_RATE)
        )

    # -- signalling ---------------------------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer to the visitor's offer, its ICE candidates gathered (no trickle). ValueError for an
        offer this session cannot use."""

        @self.pc.on("datachannel")
        def on_datachannel(channel) -> None:
            if channel.label == "events":
                self.channel = channel
                channel.on("message", self._on_message)
                # A closing tab takes its channel down at once; ICE would notice the silence only after 30 s.
                channel.on("close", lambda: self._spawn(self.close("the visitor left")))

        @self.pc.on("track")
        def on_track(track) -> None:
            if track.kind == "audio":
                self._spawn(self._drain(track))

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                await self.close("the connection closed")

        # "No more candidates" makes aioice give up on a browser whose only candidates are mDNS names it cannot
        # resolve (Firefox without microphone permission); without it, aioice learns the browser's address from
        # its connectivity checks. The idle timeout bounds the wait.
        offer_sdp = "".join(
            line for line in offer_sdp.splitlines(keepends=True) if line.strip() != "a=end-of-candidates"
        )
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc's SDP parser raises ValueError, and KeyError or IndexError on odd input
            raise ValueError(str(exc) or type(exc).__name__) from exc
        receivers = [t.receiver for t in self.pc.getTransceivers() if t.kind == "audio"]
        if not receivers:
            raise ValueError("The offer has no audio: send the microphone as an audio track.")
        self._listen_early(receivers[0])
        self.pc.addTrack(ReplicaAudioTrack(self.playout))
        if any(t.kind == "video" for t in self.pc.getTransceivers()):
            self.pc.addTrack(ReplicaVideoTrack(self.replica, self.playout, self.executor))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._spawn(self._watch())
        return self.pc.localDescription.sdp

    # -- hearing ------------------------------------------------------------------------------------------------

    def _listen_early(self, receiver: RTCRtpReceiver) -> None:
        """Hear each RTP packet as it arrives: decode it for the detector, then let aiortc have it."""
        decoder = OpusDecoder()
        handle = receiver._handle_rtp_packet

        async def tapped(packet, arrival_time_ms: int) -> None:
            try:
                for frame in decoder.decode(JitterFrame(data=packet.payload, timestamp=packet.timestamp)):
                    # Opus decodes to interleaved 48 kHz stereo; either channel is the microphone.
                    stereo = frame.to_ndarray().reshape(-1, 2)  # type: ignore[attr-defined]
                    self._hear(stereo[:, 0].copy())
            except Exception as exc:  # a packet that is not Opus audio: aiortc decides what to do with it
                logger.debug("live %s: packet not heard: %s", self.conversation_id, exc)
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = tapped  # type: ignore[method-assign]

    def _hear(self, pcm: np.ndarray) -> None:
        for start in range(0, len(pcm) - pipeline.SAMPLE_RATE * FRAME_MS // 1000 + 1, 960):
            event = self.turns.feed(pcm[start : start + 960])
            if event == "start":
                self.last_heard = time.monotonic()
                self._discard_speculation()
                if self.playout.speaking or (self.reply_task and not self.reply_task.done()):
                    self._barge_in()
            elif event == "pause":
                self._speculate()
            elif event == "end":
                self.last_heard = time.monotonic()
                audio = self.turns.audio()
                self._start_turn(spoken=audio)

    def _speculate(self) -> None:
        """Transcribe what was said up to this pause. The turn ends only after this same pause grows to END_MS
        (speech in between starts a new pause and a new speculation), so the end of turn can use it as it is."""
        self._discard_speculation()
        audio = self.turns.audio()
        self.speculation = asyncio.ensure_future(
            in_executor(self.executor, pipeline.transcribe, pipeline.to_recognizer(audio))
        )

    def _discard_speculation(self) -> None:
        if self.speculation is not None:
            self.speculation.cancel()
        self.speculation = None

    def _barge_in(self) -> None:
        heard = self.playout.clear()
        if self.reply_task is not None and not self.reply_task.done():
            self.reply_task.cancel()
        self.send({"type": "interrupted"})
        logger.info("live %s: interrupted after %r", self.conversation_id, heard[-40:])

    async def _drain(self, track) -> None:
        """The jitter-buffered copy of the visitor's audio is not needed (packets are heard as they arrive), but
        must be read, or it piles up."""
        while True:
            try:
                await track.recv()
            except Exception:
                return

    # -- typing -------------------------------------------------------------------------------------------------

    def _on_message(self, message) -> None:
        """`{"type": "text", "text": ...}` from the visitor; anything else is ignored and counted."""
        try:
            if isinstance(message, bytes) or len(message.encode()) > MAX_MESSAGE_BYTES:
                raise ValueError("not a short text message")
            data = json.loads(message)
            if not isinstance(data, dict) or data.get("type") != "text" or not isinstance(data.get("text"), str):
                raise ValueError("not a text message")
        except ValueError as exc:  # JSONDecodeError is a ValueError
            self.ignored_messages += 1
            logger.info("live %s: message ignored (%s); %d so far", self.conversation_id, exc, self.ignored_messages)
            return
        text = " ".join(data["text"].split())
        if text:
            self.last_heard = time.monotonic()
            if self.playout.speaking or (self.reply_task and not self.reply_task.done()):
                self._barge_in()
            self._start_turn(typed=text)

    # -- answering ----------------------------------------------------------------------------------------------

    def _start_turn(self, *, spoken: np.ndarray | None = None, typed: str | None = None) -> None:
        # A turn cut at MAX_TURN_SECONDS did not end in the pause the speculation heard.
        speculation = self.speculation if spoken is not None and self.turns.silent_ms >= END_MS else None
        if speculation is None:
            self._discard_speculation()
        self.speculation = None
        previous = self.reply_task
        self.reply_task = asyncio.ensure_future(
            self._turn(spoken=spoken, typed=typed, speculation=speculation, previous=previous)
        )
        self.tasks.add(self.reply_task)
        self.reply_task.add_done_callback(self.tasks.discard)

    async def _turn(
        self, *, spoken: np.ndarray | None, typed: str | None, speculation, previous: asyncio.Task | None
    ) -> None:
        marks: dict[str, float] = {"turn_end": time.monotonic()}
        turn = None
        text = ""
        try:
            if previous is not None:  # a reply cut off stores itself and says agent_done before this turn begins
                await asyncio.gather(previous, return_exceptions=True)
            if typed is not None:
                question = typed
            elif speculation is not None:
                question = await speculation
            else:
                assert spoken is not None
                question = await in_executor(self.executor, pipeline.transcribe, pipeline.to_recognizer(spoken))
            marks["recognized"] = time.monotonic()
            if not question:
                return
            self.send({"type": "user_transcript", "text": question})
            self.playout.turn_begin(on_first_sample=lambda: _mark(marks, "first_audio"))
            turn = await in_executor(
                self.executor, pipeline.reply_begin, conversation_id=self.conversation_id, text=question
            )
            buffer = ""
            while True:
                piece = await in_executor(self.executor, pipeline.reply_piece, turn)
                if piece is None:
                    break
                _mark(marks, "first_token")
                text += piece
                self.send({"type": "agent_text", "text": piece})
                buffer += piece
                ready, buffer = pipeline.sentences(
                    pipeline.spoken_part(buffer), final=False, opening="first_sentence" not in marks
                )
                for sentence in ready:
                    await self._say(sentence, marks)
            final = pipeline.sentences(pipeline.spoken_part(buffer), final=True, opening="first_sentence" not in marks)
            for sentence in final[0]:
                await self._say(sentence, marks)
            while self.playout.speaking:
                await asyncio.sleep(0.02)
            await in_executor(self.executor, pipeline.reply_store, turn=turn, text=text)
            if turn.citations:
                self.send({"type": "agent_sources", "sources": turn.citations})
            self.send({"type": "agent_done"})
            self.timings.append({name: at - marks["turn_end"] for name, at in marks.items()})
        except asyncio.CancelledError:
            if turn is not None:  # barge-in: keep what the visitor heard
                heard = self.playout.heard_text()
                await in_executor(self.executor, pipeline.reply_store, turn=turn, text=heard)
                self.send({"type": "agent_done"})
            raise
        except EngineError as exc:
            logger.warning("live %s: turn failed: %s", self.conversation_id, exc)
            self.send({"type": "error", "message": str(exc)})
        except Exception:
            logger.exception("live %s: turn failed", self.conversation_id)
            self.send({"type": "error", "message": "The replica could not answer that; please try again."})

    async def _say(self, sentence: str, marks: dict[str, float]) -> None:
        utterance = await in_executor(self.executor, pipeline.speak, self.replica, sentence)
        _mark(marks, "first_sentence")
        self.playout.add(utterance)

    def send(self, event: dict) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(event))

    # -- ending -------------------------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """End the session when the conversation is ended elsewhere, the visitor is silent too long, or it is over
        its maximum length."""
        while not self.closed.is_set():
            await asyncio.sleep(WATCH_SECONDS)
            now = time.monotonic()
            if not await in_thread(_active, self.conversation_id):
                await self.close("the conversation was ended")
            elif now - self.started >= settings.LIVE_MAX_SECONDS:
                await self.close("the conversation reached its maximum length", end=True)
            elif not self.playout.speaking and now - self.last_heard >= settings.LIVE_IDLE_SECONDS:
                await self.close("nobody spoke for a while", end=True)

    async def close(self, reason: str, *, end: bool = False) -> None:
        """Stop everything this session started; with `end`, end the conversation too (sets `ended_at`)."""
        if self.closed.is_set():
            return
        self.closed.set()
        logger.info("live %s: session closed: %s", self.conversation_id, reason)
        current = asyncio.current_task()
        others = [task for task in self.tasks if task is not current]
        for task in others:
            task.cancel()
        self._discard_speculation()
        # A reply cut off here still stores what was said before its task ends.
        await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), CLOSE_WAIT_SECONDS)
        await self.pc.close()
        await in_thread(self.executor.shutdown, wait=True)
        if end:
            await in_thread(_end, self.conversation_id)
        self.on_closed(self)

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _mark(marks: dict[str, float], stage: str) -> None:
    marks.setdefault(stage, time.monotonic())


def _active(conversation_id: int) -> bool:
    return Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.ACTIVE).exists()


def _end(conversation_id: int) -> None:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is not None:
        conversation_end(conversation=conversation)


def _ice_server(server: dict) -> RTCIceServer:
    return RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))
