"""Every BHuman route on a workspace that has just been created: it has the demo person and nothing of
its own. Reads are empty, adding a voice or knowledge makes its first persona, chat answers as the demo
person, and a profile video (which needs a persona of the workspace's own) is a 409 saying what to create."""

import base64

import pytest

from characters.models import Person, ProfileVideo, Voice
from knowledge.models import Conversation, KnowledgePage, ReviewItem
from media_jobs.engines.base import VoiceProfile
from media_jobs.engines.speech.piper import PiperSpeech
from tests.dialects.bhuman.test_admin_video import _video
from tests.fake_http import serving
from tests.helpers import assert_bhuman_error
from tests.test_tenancy import api_routes, route_of

pytestmark = pytest.mark.django_db

PAGE = {"title": "Opening hours", "content": "The bakery opens at seven in the morning and closes at six."}
UNKNOWN = "999999"


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> bytes:
    """A real spoken recording (WAV) to clone a voice from."""
    speech = PiperSpeech().synthesize(
        text="Good morning, and welcome to the bakery. We open at seven every day of the week.",
        voice=VoiceProfile(),
        out_dir=tmp_path_factory.mktemp("new_workspace_voice"),
    )
    return speech.path.read_bytes()


@pytest.fixture
def recording_url(recording):
    """The recording served over HTTP, as a training URL a client would pass to voice/generate."""
    with serving(recording, "audio/wav", "/sample.wav") as url:
        yield url


def own_personas(workspace) -> list[Person]:
    return list(Person.objects.filter(workspace=workspace, is_demo=False))


def the_first_persona(workspace) -> Person:
    [person] = own_personas(workspace)
    assert person.name == workspace.name
    return person


def nothing_made(workspace) -> None:
    assert own_personas(workspace) == []
    assert not KnowledgePage.objects.exists() and not Voice.objects.exists() and not ProfileVideo.objects.exists()


# --- reads: empty, or 404 for what cannot exist yet ----------------------------------------------------


def test_training_data_is_an_empty_list(api_client, workspace):
    response = api_client.get("/persona/api/kb/training-data")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success",
        "training_data": [],
        "pagination": {"total": 0, "page": 1, "pages": 1},
    }
    nothing_made(workspace)


def test_chats_are_an_empty_list(api_client, workspace):
    response = api_client.get("/persona/api/persona/chats")

    assert response.status_code == 200, response.content
    assert response.json()["chats"] == [] and response.json()["status"] == "success"


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("get", f"/persona/api/kb/training-data/{UNKNOWN}", None, f"Training data {UNKNOWN} not found."),
        ("delete", f"/persona/api/kb/training-data/{UNKNOWN}", None, f"Training data {UNKNOWN} not found."),
        ("delete", "/persona/api/kb/training-data", {"id": UNKNOWN}, f"Training data {UNKNOWN} not found."),
        (
            "put",
            "/persona/api/kb/training-data",
            {"training_data": {"id": "data1", "content": "Updated training data content"}},
            "training_data.id: no training data with id 'data1'.",
        ),
        ("get", "/persona/api/persona/messages/chat_unknown", None, "Conversation chat_unknown not found."),
        ("get", f"/persona/voice/{UNKNOWN}", None, f"Voice {UNKNOWN} not found."),
        ("delete", "/persona/api/instance", {"instance_id": UNKNOWN}, f"instance_id: no instance with id '{UNKNOWN}'."),
    ],
)
def test_what_names_an_object_finds_none_yet(api_client, workspace, method, path, body, message):
    response = getattr(api_client, method)(path, body, format="json")

    assert_bhuman_error(response, 404, message)
    nothing_made(workspace)


# --- adding knowledge or a voice makes the first persona ---------------------------------------------------


def test_store_pages_makes_the_first_persona(api_client, workspace):
    response = api_client.post("/persona/api/kb/store-pages", {"pages": [PAGE]}, format="json")

    assert response.status_code == 201, response.content
    person = the_first_persona(workspace)
    [page] = KnowledgePage.objects.all()
    assert response.json()["page_ids"] == [str(page.pk)]
    assert (page.person, page.title) == (person, "Opening hours")
    # Reads now see it: the default persona is the one just made.
    titles = [item["title"] for item in api_client.get("/persona/api/kb/training-data").json()["training_data"]]
    assert titles == ["Opening hours"]


def test_stream_pages_makes_the_first_persona(api_client, workspace):
    body = {"stream_data": {"stream_id": "s1", "pages": [PAGE], "final": True}}

    response = api_client.post("/persona/api/kb/stream-pages", body, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["received_batches"], response.json()["completed"]) == ([0], True)
    assert KnowledgePage.objects.get().person == the_first_persona(workspace)


def test_review_data_makes_the_first_persona(api_client, workspace):
    body = {"review_data": {"articles": ["The bakery dog is called Biscuit."], "notes": []}}

    response = api_client.post("/persona/api/kb/review-data", body, format="json")

    assert response.status_code == 202, response.content
    assert ReviewItem.objects.get().person == the_first_persona(workspace)


def test_two_stores_share_one_first_persona(api_client, workspace):
    for _ in range(2):
        assert api_client.post("/persona/api/kb/store-pages", {"pages": [PAGE]}, format="json").status_code == 201

    person = the_first_persona(workspace)
    assert list(KnowledgePage.objects.values_list("person", flat=True)) == [person.pk, person.pk]


def test_add_voice_makes_the_first_persona_with_that_voice(
    api_client, workspace, recording, django_capture_on_commit_callbacks
):
    body = {
        "voice_data": {
            "language": "en",
            "tone": "friendly",
            "pitch": "medium",
            "sample_audio": base64.b64encode(recording).decode(),
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/persona/api/admin/add_voice", body, format="json")

    assert response.status_code == 201, response.content
    person = the_first_persona(workspace)
    voice = Voice.objects.get(pk=int(response.json()["voice_id"]))
    person.refresh_from_db()
    assert (voice.person, person.voice) == (person, voice)
    assert voice.settings == {"language": "en", "tone": "friendly", "pitch": "medium"}


def test_voice_generate_makes_the_first_persona_with_that_voice(
    api_client, workspace, recording_url, settings, django_capture_on_commit_callbacks
):
    settings.FETCH_ALLOW_PRIVATE_URLS = True  # the local server stands in for a public one
    body = {"training_urls": [recording_url], "names": ["Morning voice"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/voice/api/v2/voice/generate", body, format="json")

    assert response.status_code == 201, response.content
    voice = Voice.objects.get(pk=int(response.json()["voice_id"]))
    assert (voice.name, voice.person) == ("Morning voice", the_first_persona(workspace))


def test_instance_create_makes_a_persona_as_ever(api_client, workspace):
    body = {"instance_data": {"name": "Maya", "description": "The baker", "configuration": {}}}
    for url in ("/persona/api/admin/instance", "/persona/api/instance"):
        response = api_client.post(url, body, format="json")
        assert response.status_code == 201, response.content

    assert [person.name for person in own_personas(workspace)] == ["Maya", "Maya"]


# --- chat and prompts answer as the demo person -------------------------------------------------------------


def test_chat_answers_as_the_demo_person(api_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    response = api_client.post(
        "/persona/api/kb/v2/chat", {"chat_data": {"user_id": "visitor-1", "message": "Who are you?"}}, format="json"
    )

    assert response.status_code == 200, response.content
    payload = response.json()
    assert (payload["status"], payload["sources"]) == ("success", [])
    assert isinstance(payload["response"], str) and payload["response"]
    conversation = Conversation.objects.get(public_id=payload["chat_id"])
    assert (conversation.person, conversation.workspace, conversation.user_id) == (demo, workspace, "visitor-1")
    assert own_personas(workspace) == []
    # Once the workspace makes its own persona, chat answers as that one.
    api_client.post("/persona/api/kb/store-pages", {"pages": [PAGE]}, format="json")
    later = api_client.post("/persona/api/kb/v2/chat", {"chat_data": {"user_id": "v", "message": "Hi"}}, format="json")
    assert Conversation.objects.get(public_id=later.json()["chat_id"]).person == the_first_persona(workspace)


def test_a_workspace_without_even_the_demo_person_is_409_for_chat(api_client, workspace):
    Person.objects.filter(workspace=workspace, is_demo=True).delete()

    response = api_client.post(
        "/persona/api/kb/v2/chat", {"chat_data": {"user_id": "u", "message": "Hi"}}, format="json"
    )

    assert_bhuman_error(response, 409, "This workspace has no persona: create one first (POST /persona/api/instance).")
    assert not Conversation.objects.exists()


def test_prompts_ask_about_each_topic_with_an_empty_knowledge_base(api_client, workspace):
    body = {"data": {"topics": ["opening hours", "gluten-free bread"], "context": "Questions from customers"}}

    response = api_client.post("/persona/api/kb/auto-generate-prompts", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success",
        "prompts": [
            "What can you tell me about opening hours?",
            "What can you tell me about gluten-free bread?",
        ],
    }
    nothing_made(workspace)


# --- what needs a persona of the workspace's own ---------------------------------------------------------


def test_a_profile_video_is_409_saying_to_create_a_persona_first(api_client, workspace):
    body = {
        "video_data": {
            "file": base64.b64encode(_video()).decode(),
            "title": "Tour",
            "duration": 2,
            "resolution": "240p",
        }
    }

    response = api_client.post("/persona/api/admin/video", body, format="json")

    assert_bhuman_error(
        response,
        409,
        "This workspace has no persona yet: create one first (POST /persona/api/instance), or name one with "
        "instance_id.",
    )
    nothing_made(workspace)


# --- every route is above ----------------------------------------------------------------------------------

TESTED_HERE = [
    ("get", "/persona/api/kb/training-data"),
    ("put", "/persona/api/kb/training-data"),
    ("delete", "/persona/api/kb/training-data"),
    ("get", "/persona/api/kb/training-data/1"),
    ("delete", "/persona/api/kb/training-data/1"),
    ("get", "/persona/api/persona/chats"),
    ("get", "/persona/api/persona/messages/chat_x"),
    ("get", "/persona/voice/1"),
    ("post", "/persona/api/instance"),
    ("delete", "/persona/api/instance"),
    ("post", "/persona/api/admin/instance"),
    ("post", "/persona/api/kb/store-pages"),
    ("post", "/persona/api/kb/stream-pages"),
    ("post", "/persona/api/kb/review-data"),
    ("post", "/persona/api/admin/add_voice"),
    ("post", "/voice/api/v2/voice/generate"),
    ("post", "/persona/api/kb/v2/chat"),
    ("post", "/persona/api/kb/auto-generate-prompts"),
    ("post", "/persona/api/admin/video"),
]


def test_every_bhuman_route_is_tried_on_a_new_workspace():
    bhuman = {route for route in api_routes() if route.split(" ", 1)[1].startswith(("/persona/", "/voice/api/"))}
    tried = {route_of(method, path) for method, path in TESTED_HERE}

    assert bhuman - tried == set(), "a BHuman route no test above tries on a new workspace"
    assert tried - bhuman == set()
