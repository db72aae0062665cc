"""Live conversations: a client speaks to a replica over WebRTC and hears and sees it answer (docs/LIVE.md).

The live process runs in a thread of the test (uvicorn serving persona_platform.asgi, lifespan and all); the
client is aiortc, playing Piper's speech as its microphone. What comes back is checked by content: Whisper
hears the answer from the knowledge page in the replica's audio, dlib finds the replica's face in the video,
and its mouth moves while it speaks.
"""

import asyncio
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import uvicorn

from knowledge.live import pipeline
from knowledge.live.client import SAMPLE_RATE, LiveClient
from knowledge.models import Conversation, LiveProcess, Message
from knowledge.services.pages import pages_store
from media_jobs.engines import FACE_ANALYZER, SPEECH_ENGINE, SPEECH_RECOGNIZER, get_engine
from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import VoiceProfile
from media_jobs.engines.recognition import words_matched
from tests import factories
from tests.dialects.bhuman.test_knowledge import PAGES, embeddings_cached  # noqa: F401  (autouse)

QUESTION = "How much is delivery to Canada?"
BARGE_IN = "Wait, tell me about your starter instead."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_process(transactional_db, settings):
    """`manage.py live` in a thread: uvicorn with the lifespan, on a free port; its base URL."""
    port = free_port()
    settings.LIVE_PUBLIC_URL = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config("persona_platform.asgi:application", host="127.0.0.1", port=port, lifespan="on", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield settings.LIVE_PUBLIC_URL
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive()


@pytest.fixture
def replica(live_process, workspace):
    person = factories.person_create(workspace=workspace, name="Maya")
    pages_store(person=person, pages=PAGES)
    return person


def speech(text: str) -> np.ndarray:
    """Piper saying `text`, as 48 kHz int16: a person at a microphone."""
    with tempfile.TemporaryDirectory() as folder:
        said = get_engine(SPEECH_ENGINE).synthesize(text=text, voice=VoiceProfile(), out_dir=Path(folder))
        samples, rate = decode_to_mono(said.path)
    return (pipeline._resample(samples, rate, SAMPLE_RATE) * 32767).astype(np.int16)


def heard(pcm48k: np.ndarray) -> str:
    return get_engine(SPEECH_RECOGNIZER).transcribe_samples(samples=pipeline.to_recognizer(pcm48k)).text


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
    question, interruption = speech(QUESTION), speech(BARGE_IN)

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

    # The question was heard and answered from the page about Maya, with its source.
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

    # Barge-in: the replica stopped talking soon after the interruption began, and stayed quiet while it went on.
    began = client.microphone.speech_started_at[-1]
    over_the_visitor = [
        at - began
        for at, pcm in client.received.audio
        if began + 0.5 <= at <= began + len(interruption) / SAMPLE_RATE and _loud([(at, pcm)])
    ]
    assert not over_the_visitor, "the replica kept talking over the visitor"

    # Every turn is stored, the interrupted one cut where it was.
    conversation = Conversation.objects.get(pk=created["id"])
    messages = list(conversation.messages.order_by("created_at", "id"))
    roles = [message.role for message in messages]
    assert roles == ["user", "assistant"] * 3
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
