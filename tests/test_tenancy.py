"""Workspace B's key never sees workspace A's objects: every detail route answers 404, like a missing id.

Routes are listed once here; each new dialect adds its detail routes to DETAIL_ROUTES.
"""

import pytest

from accounts.models import CreditEntry
from characters.models import LoraModel, LoraTrainingImage, Person, ReferenceImage, SpeakingProfile, Voice
from knowledge.models import Conversation, KnowledgePage, Message
from knowledge.services.conversations import conversation_create
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_bhuman_error, assert_vendor_error

pytestmark = pytest.mark.django_db

# (method, path template, body): the template gets the id of workspace A's object.
DETAIL_ROUTES = [
    ("get", "/api/v1/persons/{person}", None),
    ("put", "/api/v1/persons/{person}", {"name": "Stolen"}),
    ("delete", "/api/v1/persons/{person}", None),
    ("get", "/v1/personas/{persona}", None),
    ("patch", "/v1/personas/{persona}", {"name": "Stolen"}),
    ("delete", "/v1/personas/{persona}", None),
    ("get", "/v1/speech/{speech}", None),
    ("patch", "/v1/speech/{speech}", {"name": "Stolen"}),
    ("delete", "/v1/speech/{speech}", None),
    ("get", "/v1/replicas/{person}", None),
    ("patch", "/v1/replicas/{person}", {"name": "Stolen"}),
    ("delete", "/v1/replicas/{person}", None),
    ("get", "/v1/videos/{video}", None),
    ("patch", "/v1/videos/{video}", {"name": "Stolen"}),
    ("delete", "/v1/videos/{video}", None),
    ("get", "/api/v1/talking-head/{generation}", None),
    ("post", "/api/v1/characters/{character}/talking-head/preview", {"script": "Hi"}),
    ("post", "/api/v1/characters/{character}/talking-head/generate", {"script": "Hi"}),
    ("get", "/api/v1/characters/{character}/talking-head/generations", None),
    ("get", "/api/v1/characters/{character}/motion-transfers", None),
    ("get", "/api/v1/characters/{character}/motion-transfer/{transfer}", None),
    ("post", "/api/v1/influencers/{character}/talking-head/preview", {"script": "Hi"}),
    ("get", "/api/v1/influencers/{character}/talking-head/generations", None),
    ("get", "/api/v1/influencers/{character}/motion-transfer/{transfer}", None),
    ("get", "/api/v1/characters/{character}", None),
    ("patch", "/api/v1/characters/{character}", {"name": "Stolen"}),
    ("post", "/api/v1/characters/{character}/default", None),
    ("post", "/api/v1/characters/{character}/duplicate", None),
    ("get", "/api/v1/characters/{character}/lora", None),
    ("delete", "/api/v1/characters/{character}/lora", None),
    ("get", "/api/v1/characters/{character}/lora/status", None),
    ("get", "/api/v1/characters/{character}/lora/images", None),
    ("get", "/api/v1/characters/{character}/voice", None),
    ("get", "/api/v1/characters/{character}/voice/settings", None),
    ("put", "/api/v1/characters/{character}/voice/settings", {"speed": 2}),
    ("post", "/api/v1/characters/{character}/voice/preview", {"text": "Hi"}),
    ("post", "/api/v1/characters/{character}/voice/generate", {"text": "Hi"}),
    ("get", "/api/v1/characters/{character}/voice/generations", None),
    ("get", "/api/v1/characters/{character}/voice/generations/{voice_generation}", None),
    ("get", "/api/v1/influencers/{character}", None),
    ("post", "/api/v1/influencers/{character}/duplicate", None),
    ("put", "/api/v1/influencers/{character}/voice/settings", {"speed": 2}),
    ("get", "/v1/conversations/{conversation}", None),
    ("post", "/v1/conversations/{conversation}", None),
    ("delete", "/v1/conversations/{conversation}", None),
    ("get", "/v1/conversations/{conversation}/messages", None),
    ("post", "/v1/conversations/{conversation}/messages", {"text": "Hi", "speak": False}),
]
TRAIN = {"base_model": "fal-ai/flux-lora", "training_steps": 1200, "lora_rank": 16}
# Detail routes whose owner call needs more than a JSON body here gives (a multipart file, training images and a
# LoRA provider, voice samples): another workspace still gets 404; their own tests cover the owner's side.
OWNER_NEEDS_MORE_ROUTES = [
    ("post", "/api/v1/characters/{character}/reference-images", None),
    ("post", "/api/v1/characters/{character}/lora/images", None),
    ("post", "/api/v1/characters/{character}/lora/train", TRAIN),
    (
        "post",
        "/api/v1/characters/{character}/voice-clone",
        {"name": "Stolen", "sample_urls": ["https://a.example/a.mp3"]},
    ),
    ("post", "/api/v1/influencers/{character}/lora/train", TRAIN),
]


@pytest.fixture
def alices_objects(workspace):
    person = factories.person_create(workspace=workspace, name="Alice's person")
    persona = SpeakingProfile.objects.create(workspace=workspace, name="Alice's persona", person=person)
    speech = MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "Hi"}, status="ready")
    video = MediaJob.objects.create(workspace=workspace, person=person, kind="video", params={"script": "Hi"})
    generation = MediaJob.objects.create(
        workspace=workspace, person=person, kind="talking_head", params={"script": "Hi"}, status="ready"
    )
    transfer = MediaJob.objects.create(workspace=workspace, person=person, kind="motion_transfer", params={})
    voice_generation = MediaJob.objects.create(
        workspace=workspace, person=person, kind="speech", params={"text": "Hi", "person_voice": True}, status="ready"
    )
    LoraModel.objects.create(person=person, status="ready", weights_url="https://fal.example/lora.safetensors")
    conversation = conversation_create(person=person)
    return {
        "person": person.pk, "persona": persona.pk, "speech": speech.pk, "video": video.pk,
        "generation": generation.pk, "transfer": transfer.pk, "character": person.character_id,
        "voice_generation": voice_generation.pk, "conversation": conversation.pk,
    }  # fmt: skip


@pytest.mark.parametrize(("method", "template", "body"), DETAIL_ROUTES + OWNER_NEEDS_MORE_ROUTES)
def test_another_workspaces_object_is_404(other_client, alices_objects, method, template, body):
    path = template.format(**alices_objects)

    response = getattr(other_client, method)(path, body, format="json")

    assert_vendor_error(response, 404, "NotFound")
    assert Person.objects.get(pk=alices_objects["person"]).name == "Alice's person"
    assert SpeakingProfile.objects.get(pk=alices_objects["persona"]).name == "Alice's persona"
    assert MediaJob.objects.get(pk=alices_objects["speech"]).name == ""
    assert MediaJob.objects.get(pk=alices_objects["video"]).name == ""
    assert MediaJob.objects.count() == 5  # nothing started on Alice's character
    person = Person.objects.get(pk=alices_objects["person"])
    assert (person.is_default, person.voice_settings, person.lora.status) == (False, {}, "ready")
    assert Person.objects.count() == 3  # Alice's person and the two demo persons: no copy
    assert not ReferenceImage.objects.exists() and not LoraTrainingImage.objects.exists()
    assert not Voice.objects.exists() and not CreditEntry.objects.exists()
    conversation = Conversation.objects.get(pk=alices_objects["conversation"])
    assert (conversation.status, conversation.ended_at) == ("active", None)
    assert not Message.objects.exists()


@pytest.mark.parametrize(("method", "template", "body"), DETAIL_ROUTES)
def test_the_owner_reaches_the_same_routes(api_client, alices_objects, method, template, body):
    response = getattr(api_client, method)(template.format(**alices_objects), body, format="json")

    assert response.status_code in {200, 201, 202, 204}, response.content


def test_another_workspaces_demo_person_is_404_too(other_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    assert_vendor_error(other_client.get(f"/api/v1/persons/{demo.pk}"), 404, "NotFound")


def test_a_speech_request_cannot_use_another_workspaces_persona(other_client, alices_objects):
    response = other_client.post(
        "/v1/speech", {"text": "Hi", "persona_id": str(alices_objects["persona"])}, format="json"
    )

    assert_vendor_error(response, 400, "ValidationError", "persona_id")


def test_lists_never_include_another_workspaces_persons(api_client, other_client, workspace, other_workspace):
    factories.person_create(workspace=other_workspace, name="Bob's person")

    names = [person["name"] for person in api_client.get("/api/v1/persons").json()]

    assert "Bob's person" not in names
    assert [p["name"] for p in other_client.get("/api/v1/persons").json()] == ["Bob's person", "Nova Demo"]


def test_a_company_filter_cannot_reach_across_workspaces(api_client, other_workspace):
    company = factories.company_create(workspace=other_workspace)
    factories.person_create(workspace=other_workspace, company=company)

    assert api_client.get("/api/v1/persons", {"company_id": company.pk}).json() == []


def test_twintone_lists_never_include_another_workspaces_objects(other_client, alices_objects):
    assert other_client.get("/v1/personas").json()["personas"] == []
    assert other_client.get("/v1/speech").json()["speech"] == []
    assert other_client.get("/v1/videos").json()["videos"] == []
    assert [replica["name"] for replica in other_client.get("/v1/replicas").json()["replicas"]] == ["Nova Demo"]


def test_a_voice_cannot_be_cloned_for_another_workspaces_person(other_workspace, alices_objects):
    from characters.services.voice_clones import voice_clone_start
    from persona_platform.errors import InvalidInput

    with pytest.raises(InvalidInput):
        voice_clone_start(
            workspace=other_workspace, name="x", samples=[b"x"], person=Person.objects.get(pk=alices_objects["person"])
        )


# BHuman (`/persona/api`, `/persona/voice`) answers in its own envelope. Ids in a path or a body that name
# another workspace's page, chat or voice are 404; an `instance_id` in a body is bad input naming it (400).
BHUMAN_DETAIL_ROUTES = [
    ("get", "/persona/api/persona/messages/{chat}", None, 404),
    ("post", "/persona/api/kb/v2/chat", {"chat_data": {"user_id": "u", "message": "Hi", "chat_id": "{chat}"}}, 404),
    ("get", "/persona/api/kb/training-data/{page}", None, 404),
    ("delete", "/persona/api/kb/training-data/{page}", None, 404),
    ("delete", "/persona/api/kb/training-data?id={page}", None, 404),
    ("delete", "/persona/api/kb/training-data", {"id": "{page}"}, 404),
    ("put", "/persona/api/kb/training-data", {"training_data": {"id": "{page}", "content": "Stolen"}}, 404),
    ("get", "/persona/voice/{voice}", None, 404),
    ("delete", "/persona/api/instance", {"instance_id": "{person}"}, 400),
    ("get", "/persona/api/kb/training-data?instance_id={person}", None, 400),
    (
        "post",
        "/persona/api/kb/store-pages",
        {"pages": [{"title": "T", "content": "C"}], "instance_id": "{person}"},
        400,
    ),
]


def _filled(value, ids: dict):
    """The route's body with workspace A's ids in place of its {placeholders}."""
    if isinstance(value, dict):
        return {key: _filled(item, ids) for key, item in value.items()}
    return value.format(**ids) if isinstance(value, str) else value


@pytest.fixture
def alices_bhuman_objects(workspace, other_workspace):
    person = factories.person_create(workspace=workspace, name="Alice's persona", with_photo=False)
    factories.person_create(workspace=other_workspace, name="Bob's persona", with_photo=False)  # Bob has a default
    page = KnowledgePage.objects.create(workspace=workspace, person=person, title="Alice's page", content="Secret.")
    chat = conversation_create(person=person, user_id="alice-user")
    Message.objects.create(conversation=chat, role=Message.Role.USER, content="Hello")
    voice = Voice.objects.create(
        workspace=workspace, person=person, name="Alice's voice", provider=Voice.Provider.LOCAL,
        provider_voice_id="local_alice",
    )  # fmt: skip
    return {"person": person.pk, "page": page.pk, "chat": chat.public_id, "voice": voice.pk}


@pytest.mark.parametrize(("method", "template", "body", "status"), BHUMAN_DETAIL_ROUTES)
def test_another_workspaces_bhuman_object_is_not_found(
    other_client, alices_bhuman_objects, method, template, body, status
):
    ids = alices_bhuman_objects

    response = getattr(other_client, method)(template.format(**ids), _filled(body, ids), format="json")

    assert_bhuman_error(response, status, "not found" if status == 404 else f"no instance with id '{ids['person']}'")
    assert Person.objects.filter(pk=ids["person"]).exists()
    page = KnowledgePage.objects.get(pk=ids["page"])
    assert (page.content, page.version) == ("Secret.", 1)
    assert KnowledgePage.objects.count() == 1
    assert list(Message.objects.values_list("content", flat=True)) == ["Hello"]
    assert Conversation.objects.count() == 1
    assert not Voice.objects.get(pk=ids["voice"]).training_audio
    assert not MediaJob.objects.exists()


@pytest.mark.parametrize(("method", "template", "body", "status"), BHUMAN_DETAIL_ROUTES)
def test_the_owner_reaches_the_same_bhuman_routes(api_client, alices_bhuman_objects, method, template, body, status):
    ids = alices_bhuman_objects

    response = getattr(api_client, method)(template.format(**ids), _filled(body, ids), format="json")

    assert response.status_code in {200, 201}, response.content
