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
from dataclasses import dataclass, field

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
from knowledge.services.conversations import Turn, conversation_end
from media_jobs.engines import VOICE_ACTIVITY_DETECTOR, get_engine
from media_jobs.engines.base import EngineError

logger = logging.getLogger(__name__)

FRAME_MS = 20
START_WINDOW = 3  # the detector's `onset_frames` of the last START_WINDOW 20 ms frames voiced: the visitor speaks
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


@dataclass
class Draft:
    """A turn's answer up to its first thing to say. A pause drafts one while the visitor may still go on; the
    end of the turn plays it, and speech in between drops it (nothing was sent or stored)."""

    question: str = ""
    turn: Turn | None = None
    text: str = ""  # the answer read so far
    unsaid: str = ""  # its tail that is not a whole sentence yet
    complete: bool = False  # the responder has finished
    ready: list[pipeline.Utterance] = field(default_factory=list)  # synthesised, waiting for the turn to play them
    marks: dict[str, float] = field(default_factory=dict)  # when each stage finished (time.monotonic())


class TurnDetector:
    """20 ms frames in; says when the visitor starts speaking and when their turn ends, keeping its audio."""

    def __init__(self, *, is_speech: Callable[[bytes], bool], onset_frames: int) -> None:
        self.is_speech = is_speech
        self.onset_frames = onset_frames
        self.recent: deque[bool] = deque(maxlen=START_WINDOW)
        self.pre_roll: deque[np.ndarray] = deque(maxlen=PRE_ROLL_MS // FRAME_MS)
        self.turn: list[np.ndarray] = []
        self.speaking = False
        self.silent_ms = 0
        self.frames_since_speech = 0

    def feed(self, pcm: np.ndarray) -> str | None:
        """One 20 ms frame of 48 kHz int16 mono: "start", "pause" (time to draft an answer), "resume" (speech again
        after such a pause), "end" or None."""
        voiced = self.is_speech(pcm.tobytes())
        self.recent.append(voiced)
        if not self.speaking:
            self.pre_roll.append(pcm)
            if sum(self.recent) >= self.onset_frames:
                self.speaking, self.silent_ms = True, 0
                self.turn = list(self.pre_roll)
                self.pre_roll.clear()
                return "start"
            return None
        self.turn.append(pcm)
        paused = self.silent_ms
        self.silent_ms = 0 if voiced else self.silent_ms + FRAME_MS
        if self.silent_ms >= END_MS or len(self.turn) * FRAME_MS >= MAX_TURN_SECONDS * 1000:
            self.speaking = False
            self.recent.clear()
            return "end"
        if voiced:
            return "resume" if paused >= SPECULATE_MS else None
        if paused < SPECULATE_MS <= self.silent_ms:
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
        self.speculation: asyncio.Task[Draft] | None = None  # the answer drafted in the visitor's latest pause
        self.started = time.monotonic()
        self.last_heard = self.started
        self.closed = asyncio.Event()
        self.ignored_messages = 0
        self.timings: list[dict] = []  # per turn: when each stage finished, for the benchmark
        detector = get_engine(VOICE_ACTIVITY_DETECTOR)
        self.turns = TurnDetector(
            is_speech=detector.listener(sample_rate=pipeline.SAMPLE_RATE), onset_frames=detector.onset_frames
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
            elif event == "resume":
                self._discard_speculation()
            elif event == "end":
                self.last_heard = time.monotonic()
                audio = self.turns.audio()
                self._start_turn(spoken=audio)

    def _speculate(self) -> None:
        """Draft the answer to what was said up to this pause. The turn ends only after this same pause grows to
        END_MS (speech in between starts a new pause and a new draft), so the end of turn can play it as it is."""
        self._discard_speculation()
        self.speculation = self._spawn(self._draft(audio=self.turns.audio(), previous=self.reply_task))

    def _discard_speculation(self) -> None:
        if self.speculation is not None:
            logger.debug("live %s: the visitor went on; draft dropped", self.conversation_id)
            self.speculation.cancel()
            # A draft that failed before it was dropped: its error is nobody's to report.
            self.speculation.add_done_callback(lambda task: task.cancelled() or task.exception())
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
        # A turn cut at MAX_TURN_SECONDS did not end in the pause that drafted its answer.
        draft = self.speculation if spoken is not None and self.turns.silent_ms >= END_MS else None
        if draft is None:
            self._discard_speculation()
            draft = self._spawn(self._draft(audio=spoken, typed=typed, previous=self.reply_task))
        self.speculation = None
        self.reply_task = self._spawn(self._turn(draft))

    async def _draft(self, *, audio: np.ndarray | None = None, typed: str | None = None, previous=None) -> Draft:
        """The question's text and the answer up to its first thing to say, synthesised: everything a turn needs
        before the visitor hears it, made without sending or storing anything."""
        draft = Draft()
        if previous is not None:  # a cut reply stores itself first, so the answer's history includes it
            await asyncio.wait({previous})  # (unlike gather, dropping this draft does not cancel that reply)
        if typed is not None:
            draft.question = typed
        else:
            assert audio is not None
            draft.question = await in_executor(self.executor, pipeline.transcribe, pipeline.to_recognizer(audio))
        _mark(draft.marks, "recognized")
        if draft.question:
            draft.turn = await in_executor(
                self.executor, pipeline.reply_begin, conversation_id=self.conversation_id, text=draft.question
            )
            while not draft.ready and not draft.complete:
                for sentence in await self._read(draft):
                    draft.ready.append(await self._speak(sentence, draft))
        return draft

    async def _turn(self, draft_task: "asyncio.Task[Draft]") -> None:
        turn_end = time.monotonic()
        draft = None
        try:
            draft = await draft_task
            if draft.turn is None:  # nothing was heard
                return
            turn = draft.turn
            self.send({"type": "user_transcript", "text": draft.question})
            self.playout.turn_begin(on_first_sample=lambda: _mark(draft.marks, "first_audio"))
            if draft.text:
                self.send({"type": "agent_text", "text": draft.text})
            for utterance in draft.ready:
                self.playout.add(utterance)
            while not draft.complete:
                read = len(draft.text)
                said = await self._read(draft)
                if len(draft.text) > read:
                    self.send({"type": "agent_text", "text": draft.text[read:]})
                for sentence in said:
                    self.playout.add(await self._speak(sentence, draft))
            while self.playout.speaking:
                await asyncio.sleep(0.02)
            await in_executor(self.executor, pipeline.reply_store, turn=turn, text=draft.text)
            if turn.citations:
                self.send({"type": "agent_sources", "sources": turn.citations})
            self.send({"type": "agent_done"})
            # Seconds from the end of the turn; a stage drafted during the pause that ended it is negative.
            self.timings.append({"turn_end": 0.0, **{name: at - turn_end for name, at in draft.marks.items()}})
        except asyncio.CancelledError:
            if draft is not None and draft.turn is not None:  # barge-in: keep what the visitor heard
                heard = self.playout.heard_text()
                await in_executor(self.executor, pipeline.reply_store, turn=draft.turn, text=heard)
                self.send({"type": "agent_done"})
            raise
        except EngineError as exc:
            logger.warning("live %s: turn failed: %s", self.conversation_id, exc)
            self.send({"type": "error", "message": str(exc)})
        except Exception:
            logger.exception("live %s: turn failed", self.conversation_id)
            self.send({"type": "error", "message": "The replica could not answer that; please try again."})

    async def _read(self, draft: Draft) -> list[str]:
        """The answer's next piece into the draft; the sentences it completed, ready to say."""
        assert draft.turn is not None
        opening = "first_sentence" not in draft.marks
        piece = await in_executor(self.executor, pipeline.reply_piece, draft.turn)
        if piece is None:
            draft.complete = True
            said, draft.unsaid = pipeline.sentences(pipeline.spoken_part(draft.unsaid), final=True, opening=opening)
            return said
        _mark(draft.marks, "first_token")
        draft.text += piece
        said, draft.unsaid = pipeline.sentences(
            pipeline.spoken_part(draft.unsaid + piece), final=False, opening=opening
        )
        return said

    async def _speak(self, sentence: str, draft: Draft) -> pipeline.Utterance:
        utterance = await in_executor(self.executor, pipeline.speak, self.replica, sentence)
        _mark(draft.marks, "first_sentence")
        return utterance

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

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


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
