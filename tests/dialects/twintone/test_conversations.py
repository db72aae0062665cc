"""TwinTone `/v1/conversations` (seed: "Conversations") and ours beyond it: messages whose replies stream as
Server-Sent Events, answered from the replica's knowledge base and then spoken.

The spoken reply is a speech job started while the stream runs. Celery is eager, so the job runs when its
row commits: in a plain test that is only when the test's own transaction ends, hence the tests that wait
for the audio run with `transaction=True`; the others send `speak: false`.
"""

import json
import threading
import time
import wave

import pytest
import requests
from rest_framework.test import APIClient

from knowledge.models import Conversation, Message
from knowledge.responders import DONT_KNOW
from knowledge.services.conversations import conversation_create
from knowledge.services.pages import pages_store
from media_jobs.models import MediaJob
from tests import factories
from tests.dialects.bhuman.test_knowledge import PAGES, embeddings_cached  # noqa: F401  (autouse)
from tests.helpers import assert_vendor_error
from tests.knowledge.llm_server import LLMServer

pytestmark = pytest.mark.django_db

URL = "/v1/conversations"
QUESTION = "How much is postage to America?"


@pytest.fixture
def replica(workspace):
    return factories.person_create(workspace=workspace, name="Maya", with_photo=False)


@pytest.fixture
def knowledge(replica, django_capture_on_commit_callbacks):
    """The bakery's pages, indexed for the replica: title → page id."""
    with django_capture_on_commit_callbacks(execute=True):
        pages = pages_store(person=replica, pages=PAGES)
    return {page.title: page.pk for page in pages}


def create(client, replica, **body) -> dict:
    response = client.post(URL, {"replica_id": str(replica.pk), **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    """(event, data) of each Server-Sent Event, in order."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        assert set(fields) == {"event", "data"}, block
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def send(client, conversation_id, text: str, **body) -> list[tuple[str, dict]]:
    response = client.post(f"{URL}/{conversation_id}/messages", {"text": text, **body}, format="json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response.streaming
    return parse_sse(b"".join(response.streaming_content))


def names(events) -> list[str]:
    """Event names, with a run of deltas shown once."""
    shown: list[str] = []
    for event, _ in events:
        if not (event == "delta" and shown and shown[-1] == "delta"):
            shown.append(event)
    return shown


# --- the conversation resource -------------------------------------------------------------------


def test_the_seed_body_creates_an_active_conversation(api_client, replica):
    response = api_client.post(URL, {"replica_id": str(replica.pk), "name": "Support chat"}, format="json")

    assert response.status_code == 201, response.content
    payload = response.json()
    conversation = Conversation.objects.get()
    assert list(payload) == [
        "id", "replica_id", "status", "created_at", "conversation_url", "webrtc_offer_url", "conversation_token"
    ]  # fmt: skip
    assert payload["id"] == str(conversation.pk)
    # Ours beyond the seed: where to talk with the replica live (tests/knowledge/test_live.py).
    live = f"http://127.0.0.1:8001/live/conversations/{conversation.pk}/"
    assert payload["conversation_url"] == f"{live}#token={payload['conversation_token']}"
    assert payload["webrtc_offer_url"] == f"{live}offer"
    assert (payload["replica_id"], payload["status"]) == (str(replica.pk), "active")
    assert payload["created_at"].endswith("Z")
    assert (conversation.person, conversation.name) == (replica, "Support chat")
    # The name is optional.
    assert create(api_client, replica)["status"] == "active"


def test_get_end_and_delete(api_client, replica):
    created = create(api_client, replica)
    path = f"{URL}/{created['id']}"

    active = api_client.get(path).json()
    assert active == {key: created[key] for key in ("id", "replica_id", "status", "created_at")}  # no ended_at yet

    ended = api_client.post(path)
    assert ended.status_code == 200, ended.content
    assert list(ended.json()) == ["id", "status", "ended_at"]
    assert (ended.json()["id"], ended.json()["status"]) == (created["id"], "ended")
    assert ended.json()["ended_at"].endswith("Z")
    got = api_client.get(path).json()
    assert list(got) == ["id", "replica_id", "status", "created_at", "ended_at"]
    assert (got["status"], got["ended_at"]) == ("ended", ended.json()["ended_at"])
    # Ending again keeps the first end time.
    assert api_client.post(path).json()["ended_at"] == ended.json()["ended_at"]

    deleted = api_client.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert not Conversation.objects.exists()
    assert_vendor_error(api_client.get(path), 404, "NotFound")
    assert_vendor_error(api_client.delete(path), 404, "NotFound")


def test_list_pages_and_filters_by_status(api_client, replica):
    ids = [create(api_client, replica, name=f"c{n}")["id"] for n in range(3)]
    api_client.post(f"{URL}/{ids[0]}")

    everything = api_client.get(URL).json()
    assert list(everything) == ["conversations", "pagination"]
    assert [c["id"] for c in everything["conversations"]] == ids[::-1]  # newest first
    assert everything["pagination"] == {"total": 3, "page": 1, "pages": 1}
    assert "ended_at" in everything["conversations"][2] and "ended_at" not in everything["conversations"][0]

    ended = api_client.get(URL, {"status": "ended"}).json()
    assert [c["id"] for c in ended["conversations"]] == [ids[0]]
    active = api_client.get(URL, {"status": "active", "limit": 1, "page": 2}).json()
    assert [c["id"] for c in active["conversations"]] == [ids[1]]
    assert active["pagination"] == {"total": 2, "page": 2, "pages": 2}
    assert_vendor_error(api_client.get(URL, {"status": "paused"}), 400, "ValidationError", "status")
    assert_vendor_error(api_client.get(URL, {"page": 0}), 400, "ValidationError", "page")


def test_create_refuses_unknown_or_foreign_replicas_and_bad_bodies(api_client, other_workspace, replica):
    theirs = factories.person_create(workspace=other_workspace, with_photo=False)

    for replica_id in (str(theirs.pk), "999999", "abc"):
        response = api_client.post(URL, {"replica_id": replica_id}, format="json")
        assert_vendor_error(response, 404, "NotFound", f"replica_id: no replica with id {replica_id!r}.")
    assert_vendor_error(api_client.post(URL, {}, format="json"), 400, "ValidationError", "replica_id")
    response = api_client.post(URL, {"replica_id": replica.pk}, format="json")
    assert_vendor_error(response, 400, "ValidationError", "replica_id")
    response = api_client.post(URL, {"replica_id": str(replica.pk), "name": 5}, format="json")
    assert_vendor_error(response, 400, "ValidationError", "name")
    assert not Conversation.objects.exists()


def test_another_workspaces_conversation_is_404_and_unchanged(api_client, other_client, other_workspace, replica):
    theirs = conversation_create(person=factories.person_create(workspace=other_workspace, with_photo=False))
    path = f"{URL}/{theirs.pk}"

    for response in (
        api_client.get(path),
        api_client.post(path),
        api_client.delete(path),
        api_client.get(f"{path}/messages"),
        api_client.post(f"{path}/messages", {"text": "Hi", "speak": False}, format="json"),
    ):
        assert_vendor_error(response, 404, "NotFound")

    theirs.refresh_from_db()
    assert (theirs.status, theirs.ended_at) == ("active", None)
    assert not Message.objects.exists()
    assert api_client.get(URL).json()["conversations"] == []
    assert [c["id"] for c in other_client.get(URL).json()["conversations"]] == [str(theirs.pk)]


# --- messages ------------------------------------------------------------------------------------


def test_a_reply_streams_from_the_knowledge_with_its_sources(api_client, replica, knowledge):
    conversation_id = create(api_client, replica)["id"]

    events = send(api_client, conversation_id, QUESTION, speak=False)

    assert names(events) == ["message", "delta", "sources", "done"]
    question, answer = Message.objects.order_by("pk")
    assert events[0][1] == {"conversation_id": conversation_id, "message_id": str(question.pk)}
    deltas = [data["text"] for event, data in events if event == "delta"]
    assert len(deltas) > 3  # the reply arrives in pieces
    assert "".join(deltas).strip() == answer.content
    assert "£14" in answer.content
    sources = events[-2][1]["sources"]
    assert sources[0]["title"] == "Delivery and shipping"
    assert sources[0]["page_id"] == knowledge["Delivery and shipping"]
    assert events[-1][1] == {"message_id": str(answer.pk)}
    assert (question.role, question.content, answer.role) == ("user", QUESTION, "assistant")
    assert not MediaJob.objects.filter(kind="speech").exists()


def test_an_unrelated_question_streams_i_dont_know(api_client, replica, knowledge):
    conversation_id = create(api_client, replica)["id"]

    events = send(api_client, conversation_id, "What is the capital of Mongolia?", speak=False)

    assert names(events) == ["message", "delta", "sources", "done"]
    assert "".join(data["text"] for event, data in events if event == "delta") == DONT_KNOW
    assert events[2][1] == {"sources": []}


def test_an_ended_conversation_refuses_messages_with_409(api_client, replica):
    conversation_id = create(api_client, replica)["id"]
    api_client.post(f"{URL}/{conversation_id}")

    response = api_client.post(f"{URL}/{conversation_id}/messages", {"text": "Hello?"}, format="json")

    assert_vendor_error(response, 409, "Conflict", "ended")
    assert not Message.objects.exists()


def test_a_message_body_of_the_wrong_shape_is_400(api_client, replica):
    conversation_id = create(api_client, replica)["id"]

    for body, field in [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": 5}, "text"),
        ({"text": "Hi", "speak": "x"}, "speak"),
    ]:
        response = api_client.post(f"{URL}/{conversation_id}/messages", body, format="json")
        assert_vendor_error(response, 400, "ValidationError", field)
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_spoken_reply_is_an_audio_event_and_both_turns_are_listed(tmp_path):
    """The whole stream: message, deltas, sources, audio (a WAV of the reply, ready since jobs are eager), done."""
    workspace = factories.workspace_create(email="carol@example.com")
    client = APIClient(HTTP_X_API_KEY=factories.api_key_create(workspace=workspace).raw)
    replica = factories.person_create(workspace=workspace, name="Maya", with_photo=False)
    pages = {page.title: page.pk for page in pages_store(person=replica, pages=PAGES)}  # indexed on commit
    conversation_id = create(client, replica)["id"]

    events = send(client, conversation_id, QUESTION)

    assert names(events) == ["message", "delta", "sources", "audio", "done"]
    answer = Message.objects.get(role="assistant")
    assert "".join(data["text"] for event, data in events if event == "delta").strip() == answer.content
    audio = dict(events)["audio"]
    job = MediaJob.objects.get(kind="speech")
    assert audio == {"status": "ready", "speech_id": str(job.pk), "url": audio["url"]}
    assert audio["url"].startswith("http://testserver/media/") and audio["url"].endswith(".wav")
    assert (job.params["text"], answer.audio_job) == (answer.content, job)
    downloaded = client.get(audio["url"])
    assert downloaded.status_code == 200
    path = tmp_path / "reply.wav"
    path.write_bytes(b"".join(downloaded.streaming_content))
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 1.5 < len(answer.content.split()) / seconds < 5, seconds

    listed = client.get(f"{URL}/{conversation_id}/messages")
    assert listed.status_code == 200, listed.content
    payload = listed.json()
    assert list(payload) == ["messages", "pagination"]
    assert payload["pagination"] == {"total": 2, "page": 1, "pages": 1}
    question, reply = payload["messages"]
    assert list(reply) == ["id", "role", "content", "sources", "audio_url", "created_at"]
    assert (question["id"], question["role"], question["content"], question["sources"]) == (
        events[0][1]["message_id"], "user", QUESTION, [],
    )  # fmt: skip
    assert question.get("audio_url") is None
    assert (reply["role"], reply["content"], reply["audio_url"]) == ("assistant", answer.content, audio["url"])
    assert reply["sources"][0]["title"] == "Delivery and shipping"
    assert reply["sources"][0]["page_id"] == pages["Delivery and shipping"]


def test_every_listed_message_has_an_audio_url_key(api_client, replica):
    conversation_id = create(api_client, replica)["id"]
    send(api_client, conversation_id, "Hello?", speak=False)

    messages = api_client.get(f"{URL}/{conversation_id}/messages").json()["messages"]

    assert [message.get("audio_url", "missing") for message in messages] == [None, None]


# --- a slow model does not hold up the server ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_slow_stream_does_not_block_other_requests(live_server, settings):
    workspace = factories.workspace_create(email="dave@example.com")
    headers = {"Authorization": f"Bearer {factories.api_key_create(workspace=workspace).raw}"}
    replica = factories.person_create(workspace=workspace, name="Maya", with_photo=False)
    pages_store(person=replica, pages=PAGES)  # indexed on commit
    conversation = conversation_create(person=replica)
    reply = "Postage to the United States is £14 [1]."
    received: list[tuple[str, dict]] = []
    first_event = threading.Event()

    def stream():
        url = f"{live_server.url}{URL}/{conversation.pk}/messages"
        with requests.post(url, json={"text": QUESTION, "speak": False}, headers=headers, stream=True, timeout=30) as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            block = b""
            for byte in r.iter_content(chunk_size=1):  # each event as soon as it arrives
                block += byte
                if block.endswith(b"\n\n"):
                    received.extend(parse_sse(block))
                    block = b""
                    first_event.set()

    with LLMServer(reply=reply) as llm:
        settings.LLM_BASE_URL = llm.url
        llm.slow_next(2.0)
        started = time.monotonic()
        streamer = threading.Thread(target=stream, daemon=True)
        streamer.start()
        assert first_event.wait(10), "the stream did not start"

        for path, extra in (("/healthz", {}), (URL, {"headers": headers})):
            asked = time.monotonic()
            response = requests.get(f"{live_server.url}{path}", timeout=5, **extra)
            assert response.status_code == 200, response.content
            assert time.monotonic() - asked < 0.5, path
        assert [event for event, _ in received] == ["message"]  # the model is still thinking

        streamer.join(15)
        assert not streamer.is_alive()

    assert time.monotonic() - started >= 2.0
    assert names(received) == ["message", "delta", "sources", "done"]
    assert "".join(data["text"] for event, data in received if event == "delta") == reply
    assert Message.objects.get(role="assistant").content == reply
    assert len(llm.requests) == 1
