"""Workspace B's key never reaches workspace A's objects: another tenant's object is a 404, never its data.

The routes are not listed by hand. `api_routes()` walks Django's URL resolver, and every method of every route
under a dialect root must have a case below: an id of A's in the path is a 404 in the dialect's envelope; one in a
body or a query is refused as bad input naming the field; B's lists hold none of A's objects; what B creates is B's.
Routes outside the dialect roots need a reason in NOT_TENANT_SCOPED. Cases name routes by URL path, matched to the
resolver's route templates, never by view module: moving a view between apps changes nothing here.
"""

from collections import defaultdict
from functools import reduce
from operator import getitem, itemgetter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, URLResolver, get_resolver, resolve
from PIL import Image

from accounts.models import CreditEntry
from characters.models import LoraModel, LoraTrainingImage, Person, ReferenceImage, SpeakingProfile, Voice
from knowledge.models import Conversation, KnowledgePage, Message
from knowledge.services.conversations import conversation_create
from media_jobs import provenance
from media_jobs.models import MediaJob
from media_jobs.provenance import ProvenanceClaim
from tests import factories
from tests.helpers import assert_bhuman_error, assert_vendor_error

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------------------------------------------
# The walk: every route the resolver knows, as "METHOD /template".

DIALECT_ROOTS = ("/api/v1/", "/v1/", "/persona/", "/voice/api/")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Routes that need no cross-tenant case, by path prefix, each with its reason.
NOT_TENANT_SCOPED = {
    "/healthz": "the health check: no key, and it names no workspace's object (database, broker, storage states)",
    "/admin": "the Django admin: staff sessions, not API keys; staff see every workspace by design",
    "/api/schema": "the OpenAPI document: the same for every caller, no workspace data",
    "/api/docs": "Swagger UI over that document: the same for every caller, no workspace data",
    "/api/redoc": "ReDoc over that document: the same for every caller, no workspace data",
    "/docs/": "the project's Markdown documents (docs/*.md), read-only: the same for every caller, no workspace data",
    "/live/": "a live conversation's page, WebRTC offer and end button: no API key; the offer and end routes take the "
    "conversation token, which names one conversation (another conversation's token is a 401, "
    "tests/knowledge/test_live.py), and the page holds no data until the token is used",
    "/playground": "the playground: a static page whose script calls the API with the key the visitor pastes; it "
    "renders no workspace data. Its key route gives a signed-in staff member a key of their own workspace only "
    "(CSRF-checked, tests/platform/test_playground_staff.py)",
    "/media/": "stored files by storage path: the media URLs the API hands out answer GET without a key (the "
    "contract), their file names are random and unguessable, and no workspace id is in them",
}


def _template(route: str) -> str:
    """A resolver route as a path template, `/api/v1/persons/<dbid:person_id>`: no regex anchors, and no trailing
    slash (the dialects tolerate one on the same view; `test_patterns_that_share_a_route_share_its_view`)."""
    return "/" + route.removeprefix("^").removesuffix("$").rstrip("/")


def _walk(patterns, prefix: str = ""):
    """(template, view) of every URL pattern, through every include, joined as the resolver joins them."""
    for entry in patterns:
        route = prefix + str(entry.pattern).removeprefix("^")
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        else:
            yield _template(route), getattr(entry.callback, "view_class", entry.callback)


def resolver_routes() -> dict[str, set]:
    """Every route template with the views behind it (one each, unless two patterns clash)."""
    routes = defaultdict(set)
    for template, view in _walk(get_resolver().url_patterns):
        routes[template].add(view)
    return routes


def _is_api(template: str) -> bool:
    return any(template.startswith(root) or template == root.rstrip("/") for root in DIALECT_ROOTS)


# Routes exempt by their exact template (a prefix such as "/" would exempt every route).
NOT_TENANT_SCOPED_EXACT = {
    "/": "the landing page: static links to the docs, the admin, the health check and the dialects; no key, no data",
}


def _exemption(template: str) -> str | None:
    if template in NOT_TENANT_SCOPED_EXACT:
        return template
    return next((prefix for prefix in NOT_TENANT_SCOPED if template.startswith(prefix)), None)


def _methods(view) -> list[str]:
    """The methods a class-based view answers; a function view may answer any."""
    if not isinstance(view, type):
        return list(HTTP_METHODS)
    return [method for method in HTTP_METHODS if method in view.http_method_names and hasattr(view, method)]


def api_routes() -> set[str]:
    """Every route under a dialect root, with each method its view answers, as "METHOD /template"."""
    return {
        f"{method.upper()} {template}"
        for template, views in resolver_routes().items()
        if _is_api(template)
        for view in views
        for method in _methods(view)
    }


class _SampleIds(dict):
    """Stand-ins for a case's {placeholders}: enough to resolve its path, no database needed."""

    def __missing__(self, key: str) -> str:
        return "char_" + "0" * 26 if key.endswith("character") else "1"


def route_of(method: str, path: str) -> str:
    """The "METHOD /template" a case's request reaches, or a line saying it reaches none."""
    try:
        match = resolve(path.split("?")[0].format_map(_SampleIds()))
    except Resolver404:
        return f"{method.upper()} {path} (no route)"
    return f"{method.upper()} {_template(match.route)}"


COVERED_BY_TESTS: list[tuple[str, str]] = []


def covers(*requests: str):
    """Records the requests ("get /v1/personas") a hand-written test below makes with workspace B's key."""

    def record(test):
        COVERED_BY_TESTS.extend(tuple(request.split(" ", 1)) for request in requests)
        return test

    return record


def _with_influencers_alias(rows: list[tuple]) -> list[tuple]:
    """The rows, and each `/api/v1/characters…` row again under its alias `/api/v1/influencers…`."""
    alias = "/api/v1/influencers"
    prefix = "/api/v1/characters"
    return rows + [
        (method, alias + path.removeprefix(prefix), *rest) for method, path, *rest in rows if path.startswith(prefix)
    ]


def _filled(value, ids: dict):
    """A path or body with workspace A's ids in place of its {placeholders}; an itemgetter puts the raw id."""
    if isinstance(value, dict):
        return {key: _filled(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, ids) for item in value]
    if isinstance(value, str):
        return value.format(**ids)
    return value(ids) if callable(value) else value


def _case_ids(rows: list[tuple]) -> list[str]:
    """Test ids, "METHOD /path" of each row; rows that share one add their body's keys."""
    ids = [f"{method.upper()} {path}" for method, path, *_ in rows]
    return [
        f"{case_id} with {'+'.join(row[2])}" if ids.count(case_id) > 1 and isinstance(row[2], dict) else case_id
        for case_id, row in zip(ids, rows, strict=True)
    ]


def _assert_refused(response, path: str, status: int, says: str = "") -> None:
    """The dialect's error envelope: NotFound for a 404 (naming the field when a body named it), a
    ValidationError naming the field otherwise."""
    if path.startswith(("/persona/", "/voice/api/")):
        assert_bhuman_error(response, status, says)
    else:
        assert_vendor_error(response, status, "NotFound" if status == 404 else "ValidationError", says)


# ---------------------------------------------------------------------------------------------------------------
# Vendor dialects (`/api/v1`, `/v1`): an id of A's in a path.

# (method, path template, body): the template gets the id of workspace A's object.
DETAIL_ROUTES = _with_influencers_alias(
    [
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
        ("get", "/v1/conversations/{conversation}", None),
        ("post", "/v1/conversations/{conversation}", None),
        ("delete", "/v1/conversations/{conversation}", None),
        ("get", "/v1/conversations/{conversation}/messages", None),
        ("post", "/v1/conversations/{conversation}/messages", {"text": "Hi", "speak": False}),
    ]
)
TRAIN = {"base_model": "fal-ai/flux-lora", "training_steps": 1200, "lora_rank": 16}
# Detail routes whose owner call needs more than a JSON body here gives (a multipart file, training images and a
# LoRA provider, voice samples, a driving video): another workspace still gets 404; their own tests cover the owner.
OWNER_NEEDS_MORE_ROUTES = _with_influencers_alias(
    [
        ("delete", "/api/v1/characters/{character}", None),  # the owner's delete: test_character_delete
        ("post", "/api/v1/characters/{character}/reference-images", None),
        ("post", "/api/v1/characters/{character}/lora/images", None),
        ("post", "/api/v1/characters/{character}/lora/train", TRAIN),
        (
            "post",
            "/api/v1/characters/{character}/voice-clone",
            {"name": "Stolen", "sample_urls": ["https://a.example/a.mp3"]},
        ),
        ("post", "/api/v1/characters/{character}/motion-transfer", {"video": "AAAA", "name": "Stolen"}),
        # The owner's answer needs a generated file (these jobs have none: 409): test_provenance_routes.
        ("get", "/api/v1/jobs/{generation}/provenance", None),
    ]
)
# A job of A's under B's own character: the job's id alone must not reach it.
OWN_CHARACTER_FOREIGN_JOB_ROUTES = _with_influencers_alias(
    [
        ("get", "/api/v1/characters/{bobs_character}/voice/generations/{voice_generation}", None),
        ("get", "/api/v1/characters/{bobs_character}/motion-transfer/{transfer}", None),
    ]
)
# (method, route, a body naming A's object, status, the field the error names): nothing the caller can see, a 404
# naming the field; nothing made.
BODY_REFERENCE_ROUTES = [
    ("post", "/api/v1/persons", {"name": "Stolen", "photo_base64": "{photo}", "company_id": itemgetter("company")}, 404,
     "company_id"),
    ("post", "/v1/personas", {"name": "Stolen", "replica_id": "{person}"}, 404, "replica_id"),
    ("post", "/v1/speech", {"text": "Hi", "persona_id": "{persona}"}, 404, "persona_id"),
    ("post", "/v1/videos", {"script": "Hi", "replica_id": "{person}"}, 404, "replica_id"),
    ("post", "/v1/conversations", {"replica_id": "{person}"}, 404, "replica_id"),
]  # fmt: skip


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
        "company": factories.company_create(workspace=workspace).pk, "photo": factories.image_base64(),
    }  # fmt: skip


def _assert_alices_objects_untouched(ids: dict) -> None:
    assert Person.objects.get(pk=ids["person"]).name == "Alice's person"
    assert SpeakingProfile.objects.get(pk=ids["persona"]).name == "Alice's persona"
    assert SpeakingProfile.objects.count() == 1
    assert MediaJob.objects.get(pk=ids["speech"]).name == ""
    assert MediaJob.objects.get(pk=ids["video"]).name == ""
    assert MediaJob.objects.count() == 5  # nothing started on Alice's character
    person = Person.objects.get(pk=ids["person"])
    assert (person.is_default, person.voice_settings, person.lora.status) == (False, {}, "ready")
    assert Person.objects.count() == 3  # Alice's person and the two demo persons: no copy
    assert not ReferenceImage.objects.exists() and not LoraTrainingImage.objects.exists()
    assert not Voice.objects.exists() and not CreditEntry.objects.exists()
    conversation = Conversation.objects.get(pk=ids["conversation"])
    assert (conversation.status, conversation.ended_at) == ("active", None)
    assert Conversation.objects.count() == 1
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("method", "template", "body"),
    DETAIL_ROUTES + OWNER_NEEDS_MORE_ROUTES,
    ids=_case_ids(DETAIL_ROUTES + OWNER_NEEDS_MORE_ROUTES),
)
def test_another_workspaces_object_is_404(other_client, alices_objects, method, template, body):
    path = template.format(**alices_objects)

    response = getattr(other_client, method)(path, body, format="json")

    assert_vendor_error(response, 404, "NotFound")
    _assert_alices_objects_untouched(alices_objects)


@pytest.mark.parametrize(
    ("method", "template", "body"), OWN_CHARACTER_FOREIGN_JOB_ROUTES, ids=_case_ids(OWN_CHARACTER_FOREIGN_JOB_ROUTES)
)
def test_another_workspaces_job_is_404_under_ones_own_character(
    other_client, other_workspace, alices_objects, method, template, body
):
    bob = factories.person_create(workspace=other_workspace, name="Bob's person", with_photo=False)
    path = template.format(**alices_objects, bobs_character=bob.character_id)

    response = getattr(other_client, method)(path, body, format="json")

    assert_vendor_error(response, 404, "NotFound")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"), BODY_REFERENCE_ROUTES, ids=_case_ids(BODY_REFERENCE_ROUTES)
)
def test_a_body_cannot_name_another_workspaces_object(other_client, alices_objects, method, path, body, status, field):
    response = getattr(other_client, method)(path, _filled(body, alices_objects), format="json")

    _assert_refused(response, path, status, field)
    _assert_alices_objects_untouched(alices_objects)


OWNER_ROUTES = DETAIL_ROUTES + [(method, path, body) for method, path, body, *_ in BODY_REFERENCE_ROUTES]


@pytest.mark.parametrize(("method", "template", "body"), OWNER_ROUTES, ids=_case_ids(OWNER_ROUTES))
def test_the_owner_reaches_the_same_routes(api_client, alices_objects, method, template, body):
    response = getattr(api_client, method)(
        template.format(**alices_objects), _filled(body, alices_objects), format="json"
    )

    assert response.status_code in {200, 201, 202, 204}, response.content


@covers("get /api/v1/persons/{person}")
def test_another_workspaces_demo_person_is_404_too(other_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    assert_vendor_error(other_client.get(f"/api/v1/persons/{demo.pk}"), 404, "NotFound")


@covers("get /api/v1/persons")
def test_lists_never_include_another_workspaces_persons(api_client, other_client, workspace, other_workspace):
    factories.person_create(workspace=other_workspace, name="Bob's person")

    names = [person["name"] for person in api_client.get("/api/v1/persons").json()]

    assert "Bob's person" not in names
    assert [p["name"] for p in other_client.get("/api/v1/persons").json()] == ["Bob's person", "Nova Demo"]


@covers("get /api/v1/persons")
def test_a_company_filter_cannot_reach_across_workspaces(api_client, other_workspace):
    company = factories.company_create(workspace=other_workspace)
    factories.person_create(workspace=other_workspace, company=company)

    assert api_client.get("/api/v1/persons", {"company_id": company.pk}).json() == []


@covers("get /v1/personas", "get /v1/speech", "get /v1/videos", "get /v1/replicas")
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


# ---------------------------------------------------------------------------------------------------------------
# BHuman (`/persona/api`, `/persona/voice`, `/voice/api`) answers in its own envelope. Ids in a path or a body that
# name another workspace's page, chat, voice or instance are 404; an `instance_id` in a body or query names the field.

NO_INSTANCE = 404  # BHuman's answer to an `instance_id` of another workspace's persona
BHUMAN_DETAIL_ROUTES = [
    ("get", "/persona/api/persona/messages/{chat}", None, 404),
    ("post", "/persona/api/kb/v2/chat", {"chat_data": {"user_id": "u", "message": "Hi", "chat_id": "{chat}"}}, 404),
    ("get", "/persona/api/kb/training-data/{page}", None, 404),
    ("delete", "/persona/api/kb/training-data/{page}", None, 404),
    ("delete", "/persona/api/kb/training-data?id={page}", None, 404),
    ("delete", "/persona/api/kb/training-data", {"id": "{page}"}, 404),
    ("put", "/persona/api/kb/training-data", {"training_data": {"id": "{page}", "content": "Stolen"}}, 404),
    ("get", "/persona/voice/{voice}", None, 404),
    ("delete", "/persona/api/instance", {"instance_id": "{person}"}, NO_INSTANCE),
    ("get", "/persona/api/kb/training-data?instance_id={person}", None, NO_INSTANCE),
    ("get", "/persona/api/kb/training-data/{page}?instance_id={person}", None, NO_INSTANCE),
    ("delete", "/persona/api/kb/training-data/{page}?instance_id={person}", None, NO_INSTANCE),
    ("post", "/persona/api/kb/store-pages", {"pages": [{"title": "T", "content": "C"}], "instance_id": "{person}"},
     NO_INSTANCE),
    ("post", "/persona/api/kb/stream-pages",
     {"stream_data": {"stream_id": "s1", "pages": [{"title": "T", "content": "C"}]}, "instance_id": "{person}"},
     NO_INSTANCE),
    ("post", "/persona/api/kb/review-data", {"review_data": {"articles": ["A"], "notes": []}, "instance_id": "{person}"},
     NO_INSTANCE),
    ("post", "/persona/api/kb/auto-generate-prompts", {"data": {"topics": ["pricing"]}, "instance_id": "{person}"},
     NO_INSTANCE),
    ("post", "/persona/api/kb/v2/chat", {"chat_data": {"user_id": "u", "message": "Hi"}, "instance_id": "{person}"},
     NO_INSTANCE),
]  # fmt: skip
# The owner's call needs a real recording or video, or a fetchable URL; their own tests cover the owner's side.
BHUMAN_OWNER_NEEDS_MORE_ROUTES = [
    ("post", "/persona/api/admin/add_voice",
     {"voice_data": {"language": "en", "tone": "warm", "pitch": "low", "sample_audio": "AAAA"}, "instance_id": "{person}"},
     NO_INSTANCE),
    ("post", "/persona/api/admin/video",
     {"video_data": {"file": "AAAA", "title": "T", "duration": 1, "resolution": "720p"}, "instance_id": "{person}"},
     NO_INSTANCE),
    ("post", "/voice/api/v2/voice/generate",
     {"training_urls": ["https://a.example/a.wav"], "instance_id": "{person}"}, NO_INSTANCE),
]  # fmt: skip


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


def _assert_alices_bhuman_objects_untouched(ids: dict) -> None:
    assert Person.objects.filter(pk=ids["person"]).exists()
    page = KnowledgePage.objects.get(pk=ids["page"])
    assert (page.content, page.version) == ("Secret.", 1)
    assert KnowledgePage.objects.count() == 1
    assert list(Message.objects.values_list("content", flat=True)) == ["Hello"]
    assert Conversation.objects.count() == 1
    assert Voice.objects.count() == 1 and not Voice.objects.get(pk=ids["voice"]).training_audio
    assert not MediaJob.objects.exists()


@pytest.mark.parametrize(
    ("method", "template", "body", "status"),
    BHUMAN_DETAIL_ROUTES + BHUMAN_OWNER_NEEDS_MORE_ROUTES,
    ids=_case_ids(BHUMAN_DETAIL_ROUTES + BHUMAN_OWNER_NEEDS_MORE_ROUTES),
)
def test_another_workspaces_bhuman_object_is_not_found(
    other_client, alices_bhuman_objects, method, template, body, status
):
    ids = alices_bhuman_objects

    response = getattr(other_client, method)(template.format(**ids), _filled(body, ids), format="json")

    named = "instance_id" in template + str(body)
    says = f"instance_id: no instance with id '{ids['person']}'." if named else "not found"
    assert_bhuman_error(response, status, says)
    _assert_alices_bhuman_objects_untouched(ids)


@pytest.mark.parametrize(
    ("method", "template", "body", "status"), BHUMAN_DETAIL_ROUTES, ids=_case_ids(BHUMAN_DETAIL_ROUTES)
)
def test_the_owner_reaches_the_same_bhuman_routes(api_client, alices_bhuman_objects, method, template, body, status):
    ids = alices_bhuman_objects

    response = getattr(api_client, method)(template.format(**ids), _filled(body, ids), format="json")

    assert response.status_code in {200, 201, 202}, response.content


@covers("get /api/v1/webhook-secret", "post /api/v1/webhook-secret/rotate")
def test_the_webhook_secret_is_the_callers_workspaces_own(api_client, other_client, workspace, other_workspace):
    alices = api_client.get("/api/v1/webhook-secret").json()

    bobs = other_client.get("/api/v1/webhook-secret").json()
    rotated = other_client.post("/api/v1/webhook-secret/rotate").json()

    assert len({alices["secret"], bobs["secret"], rotated["secret"]}) == 3
    assert api_client.get("/api/v1/webhook-secret").json() == alices  # Bob's rotation left Alice's secret alone


@covers("post /api/v1/provenance/verify")
def test_verifying_another_workspaces_file_answers_only_what_the_file_carries(other_client, alices_objects, tmp_path):
    still = tmp_path / "still.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(still)
    claim = ProvenanceClaim(persona_id=alices_objects["person"], persona_name="Alice's person", engine="test")
    provenance.sign(still, fmt="png", claim=claim)

    response = other_client.post(
        "/api/v1/provenance/verify", {"file": SimpleUploadedFile("still.png", still.read_bytes())}
    )

    assert response.status_code == 200, response.content
    assert response.json() == provenance.verify(still.read_bytes())  # the file's own manifest: no consent, no job
    assert set(response.json()) == {"signed", "valid", "altered", "manifest"}
    _assert_alices_objects_untouched(alices_objects)


@covers("post /voice/api/v2/voice/generate")
def test_a_voice_cannot_be_generated_from_another_workspaces_training_url(
    api_client, other_client, alices_bhuman_objects
):
    training_url = api_client.get(f"/persona/voice/{alices_bhuman_objects['voice']}").json()["training_url"]

    response = other_client.post("/voice/api/v2/voice/generate", {"training_urls": [training_url]}, format="json")

    assert_bhuman_error(response, 400, "training_urls[0]")
    assert list(Voice.objects.values_list("pk", flat=True)) == [alices_bhuman_objects["voice"]]


# ---------------------------------------------------------------------------------------------------------------
# Collections: B's list holds none of A's objects, while A's own list holds them.

# (method, list route, the fixture holding A's objects, the list's key in the answer (None: a bare array), A's object,
# the items' id field)
LIST_ROUTES = _with_influencers_alias(
    [
        ("get", "/api/v1/persons", "alices_objects", None, "person", "id"),
        ("get", "/api/v1/characters", "alices_objects", "characters", "character", "id"),
        ("get", "/api/v1/voices", "alices_bhuman_objects", "voices", "voice", "id"),
        ("get", "/v1/personas", "alices_objects", "personas", "persona", "id"),
        ("get", "/v1/replicas", "alices_objects", "replicas", "person", "id"),
        ("get", "/v1/speech", "alices_objects", "speech", "speech", "id"),
        ("get", "/v1/videos", "alices_objects", "videos", "video", "id"),
        ("get", "/v1/conversations", "alices_objects", "conversations", "conversation", "id"),
        ("get", "/persona/api/persona/chats", "alices_bhuman_objects", "chats", "chat", "chat_id"),
        ("get", "/persona/api/kb/training-data", "alices_bhuman_objects", "training_data", "page", "id"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "fixture", "key", "name", "id_field"), LIST_ROUTES, ids=_case_ids(LIST_ROUTES)
)
def test_another_workspaces_list_holds_none_of_its_objects(
    request, api_client, other_client, method, path, fixture, key, name, id_field
):
    alices_id = str(request.getfixturevalue(fixture)[name])

    def listed(client) -> list[str]:
        response = getattr(client, method)(path)
        assert response.status_code == 200, response.content
        items = response.json() if key is None else response.json()[key]
        return [str(item[id_field]) for item in items]

    assert alices_id in listed(api_client)
    assert alices_id not in listed(other_client)


# ---------------------------------------------------------------------------------------------------------------
# Creation: what B creates is B's; A's key cannot reach it.

INSTANCE = {"instance_data": {"name": "Bob's persona", "description": "", "configuration": {}}}
REFUSED_INSTANCE = ("delete", "/persona/api/instance", {"instance_id": "{new}"}, NO_INSTANCE, "no instance with id")
# (method, route B creates on, body, where the new id is in B's answer, (method, path, body, status, message) of
# A's request for it)
CREATE_ROUTES = _with_influencers_alias(
    [
        ("post", "/api/v1/characters", {"name": "Bob's character"}, "character.id",
         ("get", "/api/v1/characters/{new}", None, 404, "")),
        ("post", "/v1/replicas", {"name": "Bob's replica", "photo": "{photo}"}, "id",
         ("get", "/v1/replicas/{new}", None, 404, "")),
        ("post", "/persona/api/instance", INSTANCE, "instance_id", REFUSED_INSTANCE),
        ("post", "/persona/api/admin/instance", INSTANCE, "instance_id", REFUSED_INSTANCE),
    ]
)  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "new_id_at", "probe"), CREATE_ROUTES, ids=_case_ids(CREATE_ROUTES))
def test_what_another_workspace_creates_is_its_own(api_client, other_client, method, path, body, new_id_at, probe):
    response = getattr(other_client, method)(path, _filled(body, {"photo": factories.image_base64()}), format="json")
    assert response.status_code == 201, response.content
    new = reduce(getitem, new_id_at.split("."), response.json())
    probe_method, probe_path, probe_body, status, says = probe

    answer = getattr(api_client, probe_method)(
        probe_path.format(new=new), _filled(probe_body, {"new": new}), format="json"
    )

    _assert_refused(answer, probe_path, status, says)


# ---------------------------------------------------------------------------------------------------------------
# The generated part: the resolver's routes against the cases above.

CASE_TABLES = (
    DETAIL_ROUTES,
    OWNER_NEEDS_MORE_ROUTES,
    OWN_CHARACTER_FOREIGN_JOB_ROUTES,
    BODY_REFERENCE_ROUTES,
    BHUMAN_DETAIL_ROUTES,
    BHUMAN_OWNER_NEEDS_MORE_ROUTES,
    LIST_ROUTES,
    CREATE_ROUTES,
)


def covered_routes() -> dict[str, list[str]]:
    """Each "METHOD /template" the cases reach, with the requests that reach it."""
    covered = defaultdict(list)
    for method, path in [row[:2] for table in CASE_TABLES for row in table] + COVERED_BY_TESTS:
        covered[route_of(method, path)].append(f"{method.upper()} {path}")
    return covered


def test_every_api_route_and_method_has_a_cross_tenant_case():
    missing = {route for route in api_routes() - set(covered_routes()) if _exemption(route.split(" ", 1)[1]) is None}

    assert not missing, "API routes with no cross-tenant case here:\n" + "\n".join(sorted(missing))


def test_no_case_names_a_route_or_method_that_is_gone():
    routes = api_routes()

    stale = {route: requests for route, requests in covered_routes().items() if route not in routes}

    assert not stale, "cases for no live API route (or a method its view does not answer): " + repr(stale)


def test_every_other_route_is_exempt_with_a_reason():
    templates = set(resolver_routes())

    unexplained = sorted(t for t in templates if not _is_api(t) and _exemption(t) is None)
    unused = sorted(p for p in NOT_TENANT_SCOPED if not any(t.startswith(p) for t in templates))

    assert not unexplained, "routes outside the dialect roots with no reason in NOT_TENANT_SCOPED: " + repr(unexplained)
    assert not unused, "NOT_TENANT_SCOPED entries that match no route: " + repr(unused)
    assert all(len(reason) > 20 for reason in [*NOT_TENANT_SCOPED.values(), *NOT_TENANT_SCOPED_EXACT.values()])


def test_patterns_that_share_a_route_share_its_view():
    clashes = {t: views for t, views in resolver_routes().items() if _is_api(t) and len(views) > 1}

    assert not clashes, "one template, several views: a case for one does not cover the others"


@covers(
    "post /api/v1/consents",
    "get /api/v1/consents/{consent}",
    "delete /api/v1/consents/{consent}",
    "post /api/v1/consents/{consent}/evidence",
    "get /api/v1/persons/{person}/consents",
)
def test_another_workspaces_consents_are_404(api_client, other_client, alices_objects):
    person_id = alices_objects["person"]
    consent = api_client.post("/api/v1/consents", {"person_id": person_id, "kind": "voice"}, format="json").json()
    path = f"/api/v1/consents/{consent['id']}"
    refused = [
        other_client.post("/api/v1/consents", {"person_id": person_id, "kind": "voice"}, format="json"),
        other_client.get(path),
        other_client.delete(path),
        other_client.post(f"{path}/evidence", {"file": "UklGRg=="}, format="json"),
        other_client.get(f"/api/v1/persons/{person_id}/consents"),
    ]
    assert [response.status_code for response in refused] == [404] * 5
    assert api_client.get(path).json()["status"] == "awaiting_evidence"  # untouched
