"""influgen Characters: `/api/v1/characters` (alias `/api/v1/influencers`): create, list, get, PATCH, `/default`,
`/duplicate` and reference images (seed: influgen-characters). The seed's example bodies are sent as written."""

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from accounts.models import Plan
from characters.models import LoraModel, Person, ReferenceImage
from characters.services.persons import person_delete
from media_jobs.engines.face import face_distance
from media_jobs.models import MediaJob
from persona_platform import fetch
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

PREFIXES = ["/api/v1/characters", "/api/v1/influencers"]
CHARACTER_ID = re.compile(r"^char_[0-9A-HJKMNP-TV-Z]{26}$")
UNKNOWN_CHARACTER = "char_01HZZZZZZZZZZZZZZZZZZZZZZZ"
SEED_CDN = "https://cdn.example.com"
SEED_IMAGE_URL = f"{SEED_CDN}/reference/mila-front.jpg"

# The seed's "Create a character" body, as written.
SEED_CREATE = {
    "name": "Mila Hart",
    "niche": "fitness",
    "appearance": {"age_range": "25-34", "aesthetic": "editorial athleisure"},
    "identity": {"location": "Los Angeles", "occupation": "Pilates coach"},
    "personality": {"tone": "confident"},
    "style": {"presets": ["soft-luxe"]},
    "reference_images": [SEED_IMAGE_URL],
    "settings": {"autopilot": False},
    "talking_head_enabled": False,
}
# The seed's example response, without its id (ours is new each time).
SEED_CHARACTER = {
    "name": "Mila Hart",
    "niche": "fitness",
    "reference_images": [SEED_IMAGE_URL],
    "autopilot": False,
    "face_consistency_tier": "ip_adapter",
    "lora_training_status": "none",
    "content_count": 0,
    "last_post_date": None,
    "follower_count": 0,
    "is_default": False,
}
CHARACTER_FIELDS = [
    "id", "name", "niche", "reference_images", "autopilot", "face_consistency_tier", "lora_training_status",
    "content_count", "last_post_date", "follower_count", "is_default", "appearance", "identity", "personality",
    "style", "settings", "talking_head_enabled", "photo_url", "created_at", "updated_at",
]  # fmt: skip
REFERENCE_IMAGE_FIELDS = ["id", "url", "source_url", "type", "width", "height", "created_at"]


class FileServer:
    """HTTP on 127.0.0.1: each path answers what `put` stored for it; any other path is a 404."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, dict]] = {}
        self.requested: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requested.append(self.path)
                status, body, headers = server.routes.get(self.path, (404, b"not here", {"Content-Type": "text/plain"}))
                try:
                    self.send_response(status)
                    for name, value in {"Content-Length": str(len(body)), **headers}.items():
                        if value is not None:  # None leaves a header out: an unsized body ends at close
                            self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client hung up on a body it refused

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def put(self, path: str, body: bytes, *, status: int = 200, content_type: str = "image/jpeg", **headers) -> str:
        """Serve `body` at `path`; answers the URL."""
        self.routes[path] = (status, body, {"Content-Type": content_type, **headers})
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def seed_cdn(file_server, settings, monkeypatch):
    """The seed's CDN (`https://cdn.example.com/...`) played by the local server: the services fetch
    through the real, guarded fetch, with only the seed's origin swapped for the server's (on loopback)."""
    settings.FETCH_ALLOW_PRIVATE_URLS = True
    real = fetch.fetch_url

    def fetch_url(url, **kwargs):
        return real(url.replace(SEED_CDN, file_server.base, 1), **kwargs)

    monkeypatch.setattr(fetch, "fetch_url", fetch_url)
    file_server.put("/reference/mila-front.jpg", factories.image_bytes(portrait=True))
    return file_server


def free_client(persons: int = 0) -> tuple[APIClient, object]:
    """A client of a new free-plan workspace that already has `persons` persons (without photos)."""
    workspace = factories.workspace_create(plan=Plan.FREE)
    for _ in range(persons):
        factories.person_create(workspace=workspace, with_photo=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_create(workspace=workspace).raw}")
    return client, workspace


def create(client, prefix: str = PREFIXES[0], **body):
    return client.post(prefix, body, format="json")


def created(response) -> dict:
    assert response.status_code == 201, response.content
    assert list(response.json()) == ["character"]
    return response.json()["character"]


def upload(name: str = "face.jpg", *, portrait: bool = True, data: bytes | None = None) -> SimpleUploadedFile:
    content = data if data is not None else factories.image_bytes(portrait=portrait)
    return SimpleUploadedFile(name, content, "image/jpeg")


def snapshot(media_root) -> tuple:
    return (
        list(Person.objects.order_by("pk").values_list("pk", "name", "photo", "is_default")),
        list(ReferenceImage.objects.values_list("pk", "image")),
        stored_files(media_root),
    )


# --- create -------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_seed_create_body_makes_the_seed_character(api_client, workspace, seed_cdn, media_root, prefix):
    response = api_client.post(prefix, SEED_CREATE, format="json")

    character = created(response)
    assert list(character) == CHARACTER_FIELDS
    assert CHARACTER_ID.match(character["id"]), character["id"]
    assert {key: character[key] for key in SEED_CHARACTER} == SEED_CHARACTER
    for name in ("appearance", "identity", "personality", "style", "settings", "talking_head_enabled"):
        assert character[name] == SEED_CREATE[name]
    person = Person.objects.get(ulid=character["id"].removeprefix("char_"))
    assert (person.workspace, person.name, person.is_default) == (workspace, "Mila Hart", False)
    assert character["photo_url"] == f"http://testserver/media/{person.photo.name}"
    assert parse_datetime(character["created_at"]) == person.created_at
    assert seed_cdn.requested == ["/reference/mila-front.jpg"]
    reference = ReferenceImage.objects.get(person=person)
    assert (reference.type, reference.source_url, reference.width, reference.height) == (
        "primary", SEED_IMAGE_URL, 256, 256,
    )  # fmt: skip
    assert {person.photo.name, reference.image.name} <= set(stored_files(media_root))
    assert len(person.face["embedding"]) == 128
    assert (
        len(person.identity_embedding) == 128
        and face_distance(person.identity_embedding, person.face["embedding"]) < 0.6
    )


def test_a_name_alone_makes_a_character_without_a_face(api_client):
    character = created(create(api_client, name="Ada"))

    assert {key: character[key] for key in SEED_CHARACTER} == {
        **SEED_CHARACTER, "name": "Ada", "niche": "", "reference_images": [], "face_consistency_tier": "none",
    }  # fmt: skip
    assert [character[name] for name in ("appearance", "identity", "personality", "style", "settings")] == [{}] * 5
    assert (character["talking_head_enabled"], character["photo_url"]) == (False, None)


BAD_CREATES = [
    ({}, "name:"),
    ({"name": ""}, "name:"),
    ({"name": 5}, "name:"),
    ({"name": "Ada", "appearance": "tall"}, "appearance:"),
    ({"name": "Ada", "identity": ["x"]}, "identity:"),
    ({"name": "Ada", "settings": {"autopilot": "yes"}}, "settings: autopilot must be true or false."),
    ({"name": "Ada", "settings": {"autopilot": 1}}, "settings: autopilot must be true or false."),
    ({"name": "Ada", "reference_images": "https://cdn.example.com/a.jpg"}, "reference_images:"),
    ({"name": "Ada", "reference_images": ["not a url"]}, "reference_images"),
    ({"name": "Ada", "reference_images": [f"https://cdn.example.com/{n}.jpg" for n in range(11)]}, "reference_images"),
    ({"name": "Ada", "talking_head_enabled": "maybe"}, "talking_head_enabled:"),
    ({"name": "Ada", "talking_head_enabled": 1}, "talking_head_enabled:"),
    # PostgreSQL's jsonb holds no NUL: these were 500s there (found while aligning the schema with schemathesis).
    ({"name": "Ada", "appearance": {"hair": "red\x00"}}, "appearance: Null characters are not allowed."),
    ({"name": "Ada", "style": {"tone\x00": "warm"}}, "style: Null characters are not allowed."),
    ({"name": "Ada", "identity": {"aliases": [["Ada\x00"]]}}, "identity: Null characters are not allowed."),
]


def test_create_refuses_bad_bodies_with_422_and_creates_nothing(api_client, media_root):
    before = snapshot(media_root)

    for body, message in BAD_CREATES:
        assert_vendor_error(create(api_client, **body), 422, "ValidationError", message)

    assert snapshot(media_root) == before


def test_the_plan_caps_the_number_of_characters(media_root):
    client, workspace = free_client(persons=5)
    before = snapshot(media_root)

    response = create(client, name="Sixth")

    assert_vendor_error(response, 403, "Forbidden", "The free plan allows 5 persons")
    assert snapshot(media_root) == before
    assert Person.objects.filter(workspace=workspace, is_demo=False).count() == 5


def test_a_free_plan_can_create_up_to_its_cap(media_root):
    client, workspace = free_client(persons=4)

    created(create(client, name="Fifth"))  # the demo person does not count

    assert Person.objects.filter(workspace=workspace).count() == 6


# --- list and get -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_list_pages_the_workspaces_characters(api_client, workspace, other_workspace, prefix):
    first = factories.person_create(workspace=workspace, name="First", with_photo=False)
    second = factories.person_create(workspace=workspace, name="Second", with_photo=False)
    factories.person_create(workspace=other_workspace, name="Bob's", with_photo=False)

    body = api_client.get(prefix).json()
    pages = [api_client.get(prefix, {"page": page, "limit": 2}).json() for page in (1, 2)]

    assert list(body) == ["characters", "pagination"]
    assert sorted(c["name"] for c in body["characters"]) == ["First", "Nova Demo", "Second"]
    assert {first.character_id, second.character_id} < {c["id"] for c in body["characters"]}
    assert all(list(c) == CHARACTER_FIELDS for c in body["characters"])
    assert body["pagination"] == {"total": 3, "page": 1, "pages": 1}
    assert [page["pagination"] for page in pages] == [{"total": 3, "page": n, "pages": 2} for n in (1, 2)]
    assert sorted(c["name"] for page in pages for c in page["characters"]) == ["First", "Nova Demo", "Second"]


def test_list_is_newest_first(api_client, workspace):
    names = [f"Character {n}" for n in range(5)]
    for name in names:
        factories.person_create(workspace=workspace, name=name, with_photo=False)

    listed = [c["name"] for c in api_client.get(PREFIXES[0]).json()["characters"]]

    assert listed == [*reversed(names), "Nova Demo"]


def test_list_refuses_a_bad_page(api_client):
    assert_vendor_error(api_client.get(PREFIXES[0], {"page": 0}), 422, "ValidationError", "page:")
    assert_vendor_error(api_client.get(PREFIXES[0], {"limit": 101}), 422, "ValidationError", "limit:")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_get_answers_what_create_answered(api_client, seed_cdn, prefix):
    character = created(api_client.post(PREFIXES[0], SEED_CREATE, format="json"))

    response = api_client.get(f"{prefix}/{character['id']}")
    lower = api_client.get(f"{prefix}/char_{character['id'].removeprefix('char_').lower()}")

    assert response.status_code == 200
    assert response.json() == {"character": character}
    assert lower.json() == {"character": character}


CHARACTER_ROUTES = [
    ("get", "", None),
    ("patch", "", {"name": "Stolen"}),
    ("post", "/default", None),
    ("post", "/duplicate", None),
    ("post", "/reference-images", None),
]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_an_unknown_or_foreign_character_is_404(api_client, other_workspace, media_root, prefix):
    theirs = factories.person_create(workspace=other_workspace, name="Bob's")
    before = snapshot(media_root)

    for method, suffix, body in CHARACTER_ROUTES:
        for character_id in (UNKNOWN_CHARACTER, theirs.character_id):
            response = getattr(api_client, method)(f"{prefix}/{character_id}{suffix}", body, format="json")
            assert_vendor_error(response, 404, "NotFound", character_id)
        for malformed in ("char_short", str(theirs.pk), theirs.ulid):
            response = getattr(api_client, method)(f"{prefix}/{malformed}{suffix}", body, format="json")
            assert_vendor_error(response, 404, "NotFound")

    assert snapshot(media_root) == before


def test_content_count_counts_ready_talking_head_videos(api_client, workspace):
    person = factories.person_create(workspace=workspace, name="Ada")
    now = timezone.now()
    for status, finished in [("ready", now - timedelta(hours=2)), ("ready", now), ("queued", None), ("failed", now)]:
        MediaJob.objects.create(
            workspace=workspace, person=person, kind="talking_head", params={"script": "Hi"}, status=status,
            finished_at=finished,
        )  # fmt: skip
    MediaJob.objects.create(workspace=workspace, person=person, kind="speech", params={}, status="ready")

    character = api_client.get(f"{PREFIXES[0]}/{person.character_id}").json()["character"]
    listed = {c["id"]: c for c in api_client.get(PREFIXES[0]).json()["characters"]}[person.character_id]

    assert (character["content_count"], parse_datetime(character["last_post_date"])) == (2, now)
    assert listed == character


# --- PATCH --------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_patch_merges_nested_objects_key_by_key(api_client, seed_cdn, prefix):
    character = created(api_client.post(PREFIXES[0], SEED_CREATE, format="json"))
    path = f"{prefix}/{character['id']}"

    response = api_client.patch(
        path,
        {
            "name": "Mila H.",
            "appearance": {"aesthetic": "street", "hair": "auburn", "age_range": None},
            "style": {"presets": ["quiet-luxury", "soft-luxe"]},
            "settings": {"autopilot": True, "posting_time": "09:00"},
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    updated = response.json()["character"]
    assert updated["name"] == "Mila H."
    assert updated["appearance"] == {"aesthetic": "street", "hair": "auburn"}
    assert updated["style"] == {"presets": ["quiet-luxury", "soft-luxe"]}
    assert updated["settings"] == {"autopilot": True, "posting_time": "09:00"}
    assert updated["autopilot"] is True
    unchanged = ("niche", "identity", "personality", "reference_images", "talking_head_enabled", "photo_url")
    assert {key: updated[key] for key in unchanged} == {key: character[key] for key in unchanged}
    assert api_client.get(path).json() == {"character": updated}

    again = api_client.patch(path, {"settings": {"posting_time": None}, "niche": ""}, format="json")
    assert again.json()["character"]["settings"] == {"autopilot": True}
    assert again.json()["character"]["niche"] == ""


def test_an_empty_patch_changes_nothing(api_client, seed_cdn):
    character = created(api_client.post(PREFIXES[0], SEED_CREATE, format="json"))

    response = api_client.patch(f"{PREFIXES[0]}/{character['id']}", {}, format="json")

    assert response.status_code == 200
    assert {k: v for k, v in response.json()["character"].items() if k != "updated_at"} == {
        k: v for k, v in character.items() if k != "updated_at"
    }


BAD_PATCHES = [
    ({"settings": {"autopilot": "yes"}}, "settings: autopilot must be true or false."),
    ({"settings": {"autopilot": None}}, "settings: autopilot must be true or false."),
    ({"settings": "on"}, "settings:"),
    ({"appearance": ["tall"]}, "appearance:"),
    ({"name": ""}, "name:"),
    ({"name": None}, "name:"),
    ({"talking_head_enabled": "sometimes"}, "talking_head_enabled:"),
    ({"talking_head_enabled": 0}, "talking_head_enabled:"),
    ({"personality": {"traits": ["calm\x00"]}}, "personality: Null characters are not allowed."),
]


def test_patch_refuses_bad_values_and_changes_nothing(api_client, seed_cdn):
    character = created(api_client.post(PREFIXES[0], SEED_CREATE, format="json"))
    path = f"{PREFIXES[0]}/{character['id']}"

    for body, message in BAD_PATCHES:
        assert_vendor_error(api_client.patch(path, body, format="json"), 422, "ValidationError", message)

    assert api_client.get(path).json() == {"character": character}


def test_the_demo_person_cannot_be_changed(api_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    response = api_client.patch(f"{PREFIXES[0]}/{demo.character_id}", {"name": "Mine"}, format="json")

    assert_vendor_error(response, 403, "Forbidden", "demo person is read-only")
    demo.refresh_from_db()
    assert demo.name == "Nova Demo"


# --- /default -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_one_default_per_workspace(api_client, workspace, other_workspace, prefix):
    first = factories.person_create(workspace=workspace, name="First", with_photo=False)
    second = factories.person_create(workspace=workspace, name="Second", with_photo=False)
    theirs = factories.person_create(workspace=other_workspace, name="Bob's", with_photo=False)
    Person.objects.filter(pk=theirs.pk).update(is_default=True)

    response = api_client.post(f"{prefix}/{first.character_id}/default")
    assert response.status_code == 200, response.content
    assert response.json()["character"]["is_default"] is True
    assert response.json()["character"]["id"] == first.character_id

    response = api_client.post(f"{prefix}/{second.character_id}/default")
    again = api_client.post(f"{prefix}/{second.character_id}/default")

    assert response.status_code == again.status_code == 200
    assert api_client.get(f"{prefix}/{first.character_id}").json()["character"]["is_default"] is False
    assert api_client.get(f"{prefix}/{second.character_id}").json()["character"]["is_default"] is True
    assert set(Person.objects.filter(is_default=True)) == {theirs, second}


def test_the_demo_person_cannot_be_the_default(api_client, workspace):
    mine = factories.person_create(workspace=workspace, with_photo=False)
    api_client.post(f"{PREFIXES[0]}/{mine.character_id}/default")
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    response = api_client.post(f"{PREFIXES[0]}/{demo.character_id}/default")

    assert_vendor_error(response, 403, "Forbidden", "demo person")
    assert list(Person.objects.filter(is_default=True)) == [mine]


# --- /duplicate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_duplicate_copies_the_profile_images_and_files_but_not_jobs(
    api_client, workspace, seed_cdn, media_root, django_capture_on_commit_callbacks, prefix
):
    original = created(api_client.post(PREFIXES[0], SEED_CREATE, format="json"))
    path = f"{prefix}/{original['id']}"
    extra = api_client.post(f"{path}/reference-images", {"image": upload(), "type": "face"}, format="multipart")
    assert extra.status_code == 201, extra.content
    api_client.put(f"{path}/voice/settings", {"speed": 1.2, "stability": 0.5}, format="json")
    person = Person.objects.get(ulid=original["id"].removeprefix("char_"))
    MediaJob.objects.create(
        workspace=workspace, person=person, kind="talking_head", params={"script": "Hi"}, status="ready",
        finished_at=timezone.now(),
    )  # fmt: skip
    LoraModel.objects.create(person=person, status="ready", weights_url="https://fal.example/w.safetensors")
    original = api_client.get(path).json()["character"]
    assert (original["content_count"], original["face_consistency_tier"]) == (1, "lora")

    response = api_client.post(f"{path}/duplicate")

    copy = created(response)
    assert CHARACTER_ID.match(copy["id"]) and copy["id"] != original["id"]
    assert copy["name"] == "Mila Hart (copy)"
    same = ("niche", "appearance", "identity", "personality", "style", "settings", "autopilot", "follower_count")
    assert {key: copy[key] for key in same} == {key: original[key] for key in same}
    assert (copy["content_count"], copy["last_post_date"], copy["is_default"]) == (0, None, False)
    assert (copy["lora_training_status"], copy["face_consistency_tier"]) == ("none", "ip_adapter")
    assert copy["reference_images"][0] == SEED_IMAGE_URL
    assert copy["reference_images"][1] != original["reference_images"][1]
    assert copy["photo_url"] != original["photo_url"]
    twin = Person.objects.get(ulid=copy["id"].removeprefix("char_"))
    assert twin.voice_settings == {"speed": 1.2, "stability": 0.5}
    assert twin.identity_embedding == person.identity_embedding
    assert not MediaJob.objects.filter(person=twin).exists()
    assert list(twin.reference_images.values_list("type", "source_url")) == [("primary", SEED_IMAGE_URL), ("face", "")]
    copied_files = [twin.photo.name, *twin.reference_images.values_list("image", flat=True)]
    original_files = [person.photo.name, *person.reference_images.values_list("image", flat=True)]
    assert not set(copied_files) & set(original_files)
    assert set(copied_files) | set(original_files) <= set(stored_files(media_root))

    with django_capture_on_commit_callbacks(execute=True):
        person_delete(person=person)

    assert not set(original_files) & set(stored_files(media_root))
    assert set(copied_files) <= set(stored_files(media_root))
    photo = api_client.get(copy["photo_url"])
    assert photo.status_code == 200 and b"".join(photo.streaming_content)[:2] == b"\xff\xd8"
    assert api_client.get(f"{prefix}/{copy['id']}").json()["character"]["reference_images"] == copy["reference_images"]


def test_duplicate_respects_the_plan_cap(media_root):
    client, workspace = free_client(persons=5)
    person = Person.objects.filter(workspace=workspace, is_demo=False).first()
    before = snapshot(media_root)

    response = client.post(f"{PREFIXES[0]}/{person.character_id}/duplicate")

    assert_vendor_error(response, 403, "Forbidden", "The free plan allows 5 persons")
    assert snapshot(media_root) == before


# --- reference images ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("field", ["file", "image", "reference_image"])
def test_a_primary_reference_image_becomes_the_photo_and_the_face(api_client, media_root, prefix, field):
    character = created(create(api_client, name="Ada"))
    path = f"{prefix}/{character['id']}/reference-images"

    response = api_client.post(path, {field: upload(), "type": "primary"}, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == ["reference_image", "character"]
    reference = ReferenceImage.objects.get()
    assert list(body["reference_image"]) == REFERENCE_IMAGE_FIELDS
    assert body["reference_image"] == {
        "id": str(reference.pk), "url": f"http://testserver/media/{reference.image.name}", "source_url": "",
        "type": "primary", "width": 256, "height": 256, "created_at": body["reference_image"]["created_at"],
    }  # fmt: skip
    person = Person.objects.get(ulid=character["id"].removeprefix("char_"))
    assert body["character"]["photo_url"] == f"http://testserver/media/{person.photo.name}"
    assert body["character"]["face_consistency_tier"] == "ip_adapter"
    assert body["character"]["reference_images"] == [body["reference_image"]["url"]]
    assert person.face["box"] and len(person.face["embedding"]) == 128
    assert reference.face["embedding"] == person.face["embedding"]
    assert (
        len(person.identity_embedding) == 128
        and face_distance(person.identity_embedding, person.face["embedding"]) < 0.6
    )
    assert {person.photo.name, reference.image.name} <= set(stored_files(media_root))


def test_a_new_primary_replaces_the_photo_and_other_types_keep_it(
    api_client, workspace, media_root, django_capture_on_commit_callbacks
):
    person = factories.person_create(workspace=workspace, name="Ada")
    path = f"{PREFIXES[0]}/{person.character_id}/reference-images"
    first_photo = person.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        side = api_client.post(path, {"file": upload(), "type": "profile"}, format="multipart")
    person.refresh_from_db()
    assert side.status_code == 201 and side.json()["reference_image"]["type"] == "profile"
    assert person.photo.name == first_photo
    assert len(person.identity_embedding) == 128

    with django_capture_on_commit_callbacks(execute=True):
        primary = api_client.post(path, {"file": upload(), "type": "primary"}, format="multipart")
        second = api_client.post(path, {"file": upload(), "type": "primary"}, format="multipart")
    person.refresh_from_db()

    assert primary.status_code == second.status_code == 201
    assert person.photo.name not in (first_photo, "")
    assert first_photo not in stored_files(media_root)
    assert list(person.reference_images.values_list("type", flat=True)) == ["profile", "other", "primary"]


def test_an_upload_without_a_type_is_other(api_client, workspace):
    person = factories.person_create(workspace=workspace)

    response = api_client.post(
        f"{PREFIXES[0]}/{person.character_id}/reference-images", {"image": upload()}, format="multipart"
    )

    assert response.status_code == 201 and response.json()["reference_image"]["type"] == "other"


REFUSED_UPLOADS = [
    (lambda: {"file": upload(portrait=False), "type": "primary"}, 422, "ValidationError", "file: no face was found"),
    (lambda: {"image": upload(portrait=False)}, 422, "ValidationError", "image: no face was found"),
    (lambda: {"reference_image": upload(data=b"not an image" * 20)}, 400, "InvalidMedia", "reference_image: is not"),
    (lambda: {"file": upload(data=b"\xff\xd8\xff\xe0" + b"\x00" * 50)}, 400, "InvalidMedia", "file:"),
    (lambda: {"file": upload(), "image": upload(), "type": "primary"}, 422, "ValidationError", "exactly one image"),
    (lambda: {"file": [upload(), upload()]}, 422, "ValidationError", "exactly one image"),
    (lambda: {"type": "primary"}, 422, "ValidationError", "exactly one image"),
    (lambda: {"photo": upload()}, 422, "ValidationError", "exactly one image"),
    (lambda: {"file": upload(), "type": "selfie"}, 422, "ValidationError", "type: must be one of primary, face"),
]


@pytest.mark.parametrize(("body", "status", "kind", "message"), REFUSED_UPLOADS)
def test_refused_uploads_leave_no_files_or_rows(api_client, workspace, media_root, body, status, kind, message):
    person = factories.person_create(workspace=workspace, name="Ada")
    before = snapshot(media_root), person.face, person.identity_embedding

    response = api_client.post(f"{PREFIXES[0]}/{person.character_id}/reference-images", body(), format="multipart")

    assert_vendor_error(response, status, kind, message)
    person.refresh_from_db()
    assert (snapshot(media_root), person.face, person.identity_embedding) == before


def test_a_json_upload_is_415(api_client, workspace):
    person = factories.person_create(workspace=workspace)

    response = api_client.post(
        f"{PREFIXES[0]}/{person.character_id}/reference-images", {"file": factories.image_base64()}, format="json"
    )

    assert_vendor_error(response, 415, "UnsupportedMediaType")
    assert not ReferenceImage.objects.exists()


def test_an_oversized_upload_is_413(api_client, workspace, settings, media_root):
    person = factories.person_create(workspace=workspace)
    data = factories.image_bytes(portrait=True)
    settings.MAX_MEDIA_BYTES = len(data) - 1
    before = snapshot(media_root)

    response = api_client.post(
        f"{PREFIXES[0]}/{person.character_id}/reference-images", {"file": upload(data=data)}, format="multipart"
    )

    assert_vendor_error(response, 413, "PayloadTooLarge", "file:")
    assert snapshot(media_root) == before


def test_the_demo_person_takes_no_reference_images(api_client, workspace, media_root):
    demo = Person.objects.get(workspace=workspace, is_demo=True)
    before = snapshot(media_root)

    response = api_client.post(
        f"{PREFIXES[0]}/{demo.character_id}/reference-images", {"file": upload()}, format="multipart"
    )

    assert_vendor_error(response, 403, "Forbidden", "demo person")
    assert snapshot(media_root) == before
