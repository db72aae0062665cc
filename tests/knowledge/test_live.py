"""Live conversations: a client speaks to a replica over WebRTC and hears and sees it answer (docs/LIVE.md).

The live process runs in a thread of the test (uvicorn serving persona_platform.asgi, lifespan and all); the
client is aiortc, playing Piper's speech as its microphone. What comes back is checked by content: Whisper
hears the answer from the knowledge page in the replica's audio, dlib finds the replica's face in the video,
and its mouth moves while it speaks.
"""

import asyncio
import json
import tempfile
import time

import numpy as np
import pytest
import requests
from aiortc import RTCPeerConnection

from knowledge.live.client import SAMPLE_RATE, LiveClient
from knowledge.live.session import END_MS, SPECULATE_MS, TurnDetector
from knowledge.live.sessions import SESSIONS
from knowledge.models import Conversation, LiveProcess, Message
from media_jobs.engines import FACE_ANALYZER, get_engine
from media_jobs.engines.recognition import words_matched
from tests import factories
from tests.dialects.bhuman.test_knowledge import embeddings_cached  # noqa: F401  (autouse)
from tests.knowledge.live_helpers import heard, speech, speech_with_pause

QUESTION = "How much is delivery to Canada?"
THINKING_MS = 280  # a pause inside the question: long enough to draft an answer (200 ms), too short to end the turn
BARGE_IN = "Now tell me about your starter instead."  # no comma: a pause of 400 ms would end the turn there


def mouth_gap(frame: np.ndarray) -> float | None:
    """The inner lips' gap over the face's height, None without a face."""
    face = get_engine(FACE_ANALYZER).find(frame)
    if face is None:
        return None
    points = face.landmarks
    height = points[8, 1] - points[27, 1]
    return float(np.mean(points[[65, 66, 67], 1] - points[[63, 62, 61], 1]) / height)


def test_a_spoken_question_gets_a_spoken_answer_from_the_knowledge_with_a_moving_face(api_client, replica):
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    question = speech_with_pause("How much is delivery", "to Canada?", pause_ms=THINKING_MS)
    interruption = speech(BARGE_IN)

    async def talk() -> LiveClient:
        client = LiveClient(offer_url=created["webrtc_offer_url"], token=created["conversation_token"])
        await client.connect()
        await asyncio.sleep(1.0)
        client.say(question)
        await client.wait_for("agent_done", timeout=90)
        await asyncio.sleep(0.5)
        # Barge-in: speak once the replica's second answer is audible.
        client.type("Where did Maya grow up?")
        await client.wait_for("agent_text", count=len(client.events("agent_text")) + 1, timeout=30)
        while not _loud(client.received.audio[-5:]):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)
        client.say(interruption)
        await client.wait_for("interrupted", timeout=10)
        await client.wait_for("agent_done", count=3, timeout=90)
        await client.close()
        return client

    client = asyncio.run(talk())
    events = [event for _, event in client.received.events]
    first_done = next(at for at, event in client.received.events if event["type"] == "agent_done")
    transcript = next(at for at, event in client.received.events if event["type"] == "user_transcript")

    # The question was heard whole, its pause drafting an answer that was dropped when the visitor went on, and
    # answered from the page about Maya, with its source.
    assert words_matched(QUESTION, events[0]["text"]) >= 0.8, events[0]
    first_turn = [event for at, event in client.received.events if at <= first_done]
    answer = "".join(event["text"] for event in first_turn if event["type"] == "agent_text")
    assert "£14" in answer, (events[0], answer)
    sources = [event for event in first_turn if event["type"] == "agent_sources"]
    assert sources and sources[0]["sources"][0]["title"] == "Delivery and shipping"

    # The replica said it aloud.
    spoken = heard(client.audio_between(transcript, first_done)).lower()
    assert "canada" in spoken and "working days" in spoken, spoken

    # Its face: 25 frames a second, a face in them, and a mouth that moves while it speaks.
    seconds = client.received.video[-1][0] - client.received.video[0][0]
    assert client.video_frames / seconds == pytest.approx(25, abs=2.5)
    speaking = [frame for at, frame in client.received.video if transcript + 1.0 <= at <= first_done - 0.5][::5]
    gaps = [gap for gap in map(mouth_gap, speaking) if gap is not None]
    assert len(gaps) >= 0.9 * len(speaking)
    assert np.std(gaps) > 0.01 and max(gaps) > 0.04

    # Barge-in: the replica stopped talking soon after the interruption began (bench/live_latency.py measures how
    # soon), and stayed quiet while it went on.
    began = client.microphone.speech_started_at[-1]
    over_the_visitor = [
        at - began
        for at, pcm in client.received.audio
        if began + 1.0 <= at <= began + len(interruption) / SAMPLE_RATE and _loud([(at, pcm)])
    ]
    assert not over_the_visitor, "the replica kept talking over the visitor"

    # Every turn is stored once (the dropped draft left nothing), the interrupted one cut where it was.
    conversation = Conversation.objects.get(pk=created["id"])
    messages = list(conversation.messages.order_by("created_at", "id"))
    roles = [message.role for message in messages]
    assert roles == ["user", "assistant"] * 3
    assert words_matched(QUESTION, messages[0].content) >= 0.8, messages[0].content
    assert messages[1].citations and "£14" in messages[1].content
    assert messages[2].content == "Where did Maya grow up?"
    assert 0 < len(messages[3].content) < len(answer)
    assert words_matched(BARGE_IN, messages[4].content) >= 0.6


def _loud(chunks) -> bool:
    return any(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300 for _, pcm in chunks)


def test_the_live_process_registers_itself_and_conversations_are_routed_to_it(api_client, replica, live_process):
    assert LiveProcess.objects.filter(url=live_process).exists()
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    assert created["webrtc_offer_url"] == f"{live_process}/live/conversations/{created['id']}/offer"
    assert created["conversation_url"].startswith(f"{live_process}/live/conversations/{created['id']}/#token=")
    page = requests.get(created["conversation_url"], timeout=10)
    assert page.status_code == 200 and "RTCPeerConnection" in page.text
    assert Message.objects.count() == 0


# -- joining: who may, with what ---------------------------------------------------------------------------------


def offer_sdp(*, audio: bool = True) -> str:
    """A browser-like offer: the microphone (or only a data channel), video to receive, the events channel."""

    async def make() -> str:
        pc = RTCPeerConnection()
        if audio:
            pc.addTransceiver("audio", direction="sendrecv")
        pc.addTransceiver("video", direction="recvonly")
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def post_offer(created: dict, body, *, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {created['conversation_token'] if token is None else token}"}
    if isinstance(body, bytes | str):
        return requests.post(created["webrtc_offer_url"], data=body, headers=headers, timeout=30)
    return requests.post(created["webrtc_offer_url"], json=body, headers=headers, timeout=30)


def test_an_offer_needs_its_own_conversations_token_a_live_conversation_and_a_usable_offer(
    api_client, replica, settings
):
    first = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    second = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    sdp = offer_sdp()

    def refused(response, status: int, words: str) -> None:
        assert response.status_code == status, response.content
        body = response.json()
        assert (body["status"], body["error"]) == (
            status,
            {400: "BadRequest", 401: "Unauthorized", 409: "Conflict"}[status],
        )
        assert words in body["message"], body

    refused(post_offer(first, {"type": "offer", "sdp": sdp}, token="nope"), 401, "not valid")
    refused(post_offer(first, {"type": "offer", "sdp": sdp}, token=second["conversation_token"]), 401, "another")
    refused(requests.post(first["webrtc_offer_url"], json={"type": "offer", "sdp": sdp}, timeout=10), 401, "Bearer")
    settings.LIVE_TOKEN_TTL_SECONDS = 0
    time.sleep(1.1)
    refused(post_offer(first, {"type": "offer", "sdp": sdp}), 401, "expired")
    settings.LIVE_TOKEN_TTL_SECONDS = 3600

    refused(post_offer(first, b"{not json"), 400, "JSON")
    refused(post_offer(first, {"type": "answer", "sdp": sdp}), 400, '"type": "offer"')
    refused(post_offer(first, {"type": "offer", "sdp": "hello"}), 400, "session description")
    refused(post_offer(first, {"type": "offer", "sdp": offer_sdp(audio=False)}), 400, "no audio")
    refused(post_offer(first, {"type": "offer", "sdp": sdp + "a=x-padding:" + "x" * 70_000 + "\r\n"}), 400, "64 KB")
    broken = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    refused(post_offer(first, {"type": "offer", "sdp": broken}), 400, "cannot be used")
    assert not SESSIONS

    answer = post_offer(first, {"type": "offer", "sdp": sdp})
    assert answer.status_code == 200, answer.content
    assert answer.json()["type"] == "answer"
    candidates = [line for line in answer.json()["sdp"].splitlines() if line.startswith("a=candidate:")]
    assert any(" 127.0.0.1 " in line for line in candidates), candidates  # loopback, for a client on this machine
    refused(post_offer(first, {"type": "offer", "sdp": offer_sdp()}), 400, "already running")

    ended = api_client.post(f"/v1/conversations/{second['id']}")
    assert ended.status_code == 200
    refused(post_offer(second, {"type": "offer", "sdp": sdp}), 409, "ended")
    assert api_client.post(f"/v1/conversations/{first['id']}").status_code == 200
    deadline = time.monotonic() + 1.0
    while SESSIONS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not SESSIONS, "ending the conversation closes its session within a second"


def test_a_conversation_of_another_workspace_or_an_unknown_replica_is_not_found(api_client, other_client, replica):
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    assert other_client.get(f"/v1/conversations/{created['id']}").status_code == 404
    assert other_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").status_code == 404
    # Its token opens its own page only; another conversation's offer route refuses it (above, 401).
    assert requests.get(created["conversation_url"], timeout=10).status_code == 200


def test_a_full_live_process_refuses_new_conversations_with_retry_after(api_client, replica, settings):
    settings.LIVE_MAX_SESSIONS = 1
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    assert post_offer(created, {"type": "offer", "sdp": offer_sdp()}).status_code == 200
    other = factories.person_create(workspace=replica.workspace, name="Tunde")
    deadline = time.monotonic() + 10
    while not LiveProcess.objects.filter(sessions=1).exists():  # the next heartbeat reports the session
        assert time.monotonic() < deadline
        time.sleep(0.1)
    busy = api_client.post("/v1/conversations", {"replica_id": str(other.pk)}, format="json")
    assert busy.status_code == 503 and busy.json()["error"] == "ServiceUnavailable"
    assert busy["Retry-After"] == "10"
    assert Conversation.objects.count() == 1  # nothing half-made


# -- how a session ends ----------------------------------------------------------------------------------------


def test_silence_ends_the_conversation_and_garbage_on_the_channel_is_ignored(api_client, replica, settings):
    settings.LIVE_IDLE_SECONDS = 3
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()

    async def visit() -> LiveClient:
        client = LiveClient(offer_url=created["webrtc_offer_url"], token=created["conversation_token"])
        await client.connect()
        session = SESSIONS[int(created["id"])]
        assert client.channel is not None
        client.channel.send("not json")
        client.channel.send(json.dumps({"type": "text", "text": "x" * 5000}))
        client.channel.send(json.dumps({"type": "shout", "text": "hi"}))
        deadline = time.monotonic() + 5
        while session.ignored_messages < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert session.ignored_messages == 3
        deadline = time.monotonic() + 10
        while SESSIONS and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not session.tasks and session.pc.connectionState == "closed"
        await client.close()
        return client

    started = time.monotonic()
    asyncio.run(visit())
    assert 3 <= time.monotonic() - started < 15  # LIVE_IDLE_SECONDS, plus joining and leaving
    conversation = Conversation.objects.get(pk=created["id"])
    assert conversation.status == "ended" and conversation.ended_at is not None


def test_a_conversation_ends_at_its_maximum_length_even_while_the_replica_talks(
    api_client, replica, settings, monkeypatch, tmp_path
):
    settings.LIVE_MAX_SECONDS = 4
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the session synthesises its speech
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()

    async def visit() -> None:
        client = LiveClient(offer_url=created["webrtc_offer_url"], token=created["conversation_token"])
        await client.connect()
        client.type("How much is delivery to Canada?")
        deadline = time.monotonic() + 10
        while SESSIONS and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await client.close()

    asyncio.run(visit())
    assert not SESSIONS
    assert Conversation.objects.get(pk=created["id"]).status == "ended"
    assert not list(tmp_path.glob("live-*"))  # cut off mid-reply, it left no file behind


def test_a_closed_browser_ends_the_session_but_not_the_conversation(api_client, replica):
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()

    async def visit() -> None:
        client = LiveClient(offer_url=created["webrtc_offer_url"], token=created["conversation_token"])
        await client.connect()
        await client.close()
        deadline = time.monotonic() + 5  # the events channel closes with the browser
        while SESSIONS and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    asyncio.run(visit())
    assert not SESSIONS
    assert Conversation.objects.get(pk=created["id"]).status == "active"  # it may be joined again


def test_a_pause_drafts_an_answer_speech_drops_it_and_a_longer_pause_ends_the_turn():
    """The turn detector's events for 20 ms frames: voiced (1) or not (0), as the detector hears them."""
    frames = [1, 1, 1] + [0] * 11 + [1, 1] + [0] * 25
    voiced = iter(frames)
    detector = TurnDetector(is_speech=lambda _: bool(next(voiced)), onset_frames=1)
    events = [(index, event) for index in range(len(frames)) if (event := detector.feed(np.zeros(960, np.int16)))]
    pause, end = SPECULATE_MS // 20, END_MS // 20
    assert events == [(0, "start"), (2 + pause, "pause"), (14, "resume"), (15 + pause, "pause"), (15 + end, "end")]
    # What the recognizer hears: the speech and 100 ms of the pause that ended it, not the rest of the pause.
    assert len(detector.audio()) == (16 + 5) * 960
