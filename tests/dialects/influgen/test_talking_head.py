"""influgen talking heads: `/api/v1/characters/{id}/talking-head/...` and `/api/v1/talking-head/{id}`."""

import av
import pytest
from django.utils.dateparse import parse_datetime

from characters.services.persons import person_create
from characters.services.photos import photo_from_bytes
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db

GENERATION_FIELDS = [
    "id", "character_id", "name", "status", "progress", "video_url", "duration", "width", "height", "error",
    "created_at", "completed_at", "type", "script",
]  # fmt: skip
UNKNOWN_CHARACTER = "char_01HZZZZZZZZZZZZZZZZZZZZZZZ"


@pytest.fixture
def character(workspace):
    """A character whose photo (512 px) is larger than a preview (256 px)."""
    return person_create(
        workspace=workspace,
        owner=workspace.owner,
        name="Ada",
        photo=photo_from_bytes(factories.image_bytes(size=(512, 512), portrait=True)),
    )


def start(client, path: str, **body):
    return client.post(path, body, format="json")


def talking_head(person) -> MediaJob:
    """A queued full generation of the person, made without running anything."""
    return MediaJob.objects.create(
        workspace=person.workspace, person=person, kind="talking_head", params={"script": "Hi", "preview": False}
    )


def probe(client, url: str, tmp_path) -> tuple[tuple[int, int], tuple[str, str], float, int]:
    """(size, codecs, fps, frames) of the MP4 at url, decoded with PyAV."""
    response = client.get(url)
    assert response.status_code == 200
    path = tmp_path / "video.mp4"
    path.write_bytes(b"".join(response.streaming_content))
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0].codec_context, container.streams.audio[0].codec_context
        size, codecs = (video.width, video.height), (video.name, audio.name)
        fps = float(container.streams.video[0].average_rate)
        frames = sum(1 for _ in container.decode(video=0))
    return size, codecs, fps, frames


@pytest.mark.parametrize(
    ("route", "kind", "size"), [("preview", "preview", (256, 256)), ("generate", "full", (512, 512))]
)
def test_a_generation_answers_202_then_is_ready_with_its_video(
    api_client, character, tmp_path, django_capture_on_commit_callbacks, route, kind, size
):
    with django_capture_on_commit_callbacks(execute=True):
        path = f"/api/v1/characters/{character.character_id}/talking-head/{route}"
        response = start(api_client, path, script="Hi there!", name="Hello")

    assert response.status_code == 202, response.content
    assert list(response.json()) == ["generation"]
    created = response.json()["generation"]
    assert list(created) == GENERATION_FIELDS
    job = MediaJob.objects.get(pk=int(created["id"]))
    assert created == {
        "id": str(job.pk), "character_id": character.character_id, "name": "Hello", "status": "queued",
        "progress": 0, "video_url": None, "duration": None, "width": None, "height": None, "error": None,
        "created_at": created["created_at"], "completed_at": None, "type": kind, "script": "Hi there!",
    }  # fmt: skip
    assert parse_datetime(created["created_at"]) == job.created_at

    response = api_client.get(f"/api/v1/talking-head/{job.pk}")
    assert list(response.json()) == ["generation"]
    body = response.json()["generation"]
    assert (body["status"], body["progress"], body["error"], body["type"]) == ("ready", 100, None, kind)
    assert body["video_url"].startswith("http://testserver/media/jobs/talking_head/")
    assert (body["width"], body["height"]) == size and body["completed_at"]
    actual_size, codecs, fps, frames = probe(api_client, body["video_url"], tmp_path)
    assert (actual_size, codecs, fps) == (size, ("h264", "aac"), 25.0)
    assert frames == round(body["duration"] * 25)


def test_a_preview_script_is_at_most_300_characters(api_client, character):
    path = f"/api/v1/characters/{character.character_id}/talking-head/preview"

    refused = start(api_client, path, script="x" * 301)
    accepted = start(api_client, path, script="x" * 300)

    assert_vendor_error(refused, 422, "ValidationError", "script:")
    assert accepted.status_code == 202, accepted.content
    assert MediaJob.objects.get().params == {"script": "x" * 300, "preview": True}


def test_a_full_generation_takes_a_longer_script(api_client, character):
    response = start(api_client, f"/api/v1/characters/{character.character_id}/talking-head/generate", script="x" * 301)

    assert response.status_code == 202, response.content
    assert response.json()["generation"]["type"] == "full"


BAD_REQUESTS = [
    ({}, "script"),
    ({"script": ""}, "script"),
    ({"script": "   "}, "script"),
    ({"script": 5}, "script"),
    ({"script": "Hi", "name": ["x"]}, "name"),
    ({"script": "Hi", "callback_url": "nope"}, "callback_url"),
]


@pytest.mark.parametrize("route", ["preview", "generate"])
def test_bad_requests_are_422_and_start_nothing(api_client, character, route):
    for body, field in BAD_REQUESTS:
        response = start(api_client, f"/api/v1/characters/{character.character_id}/talking-head/{route}", **body)
        assert_vendor_error(response, 422, "ValidationError", f"{field}:")

    assert not MediaJob.objects.exists()


def test_a_character_without_a_photo_cannot_speak(api_client, workspace):
    faceless = factories.person_create(workspace=workspace, with_photo=False)

    response = start(api_client, f"/api/v1/characters/{faceless.character_id}/talking-head/preview", script="Hi")

    assert_vendor_error(response, 422, "ValidationError", "no photo")
    assert not MediaJob.objects.exists()


@pytest.mark.parametrize("route", ["talking-head/preview", "talking-head/generate", "talking-head/generations"])
def test_an_unknown_or_foreign_character_is_404(api_client, other_workspace, route):
    theirs = factories.person_create(workspace=other_workspace)

    for character_id in (UNKNOWN_CHARACTER, theirs.character_id, "char_short", str(theirs.pk)):
        path = f"/api/v1/characters/{character_id}/{route}"
        response = api_client.get(path) if route.endswith("generations") else start(api_client, path, script="Hi")
        assert_vendor_error(response, 404, "NotFound")
    assert not MediaJob.objects.exists()


def test_a_lower_case_character_id_is_the_same_character(api_client, character):
    response = start(api_client, f"/api/v1/characters/char_{character.ulid.lower()}/talking-head/preview", script="Hi")

    assert response.status_code == 202, response.content
    assert response.json()["generation"]["character_id"] == character.character_id
    assert MediaJob.objects.get().person == character


def test_the_influencers_alias_answers_the_same(api_client, character):
    created = start(api_client, f"/api/v1/influencers/{character.character_id}/talking-head/preview", script="Hi")
    listed = api_client.get(f"/api/v1/influencers/{character.character_id}/talking-head/generations")

    assert created.status_code == 202, created.content
    assert listed.json()["generations"] == [created.json()["generation"]]
    assert_vendor_error(
        api_client.get(f"/api/v1/influencers/{UNKNOWN_CHARACTER}/talking-head/generations"), 404, "NotFound"
    )


def test_generations_lists_only_the_characters_own_newest_first(api_client, workspace, character):
    other = factories.person_create(workspace=workspace, name="Other")
    first = talking_head(character)
    second = MediaJob.objects.create(
        workspace=workspace, person=character, kind="talking_head", params={"script": "Two", "preview": True},
        status="failed", error="boom",
    )  # fmt: skip
    talking_head(other)
    MediaJob.objects.create(workspace=workspace, person=character, kind="video", params={"script": "Hi"})
    MediaJob.objects.create(workspace=workspace, person=character, kind="motion_transfer", params={})

    body = api_client.get(f"/api/v1/characters/{character.character_id}/talking-head/generations").json()
    failed = api_client.get(
        f"/api/v1/characters/{character.character_id}/talking-head/generations", {"status": "failed"}
    ).json()
    paged = api_client.get(
        f"/api/v1/characters/{character.character_id}/talking-head/generations", {"limit": 1, "page": 2}
    ).json()

    assert list(body) == ["generations", "pagination"]
    assert [item["id"] for item in body["generations"]] == [str(second.pk), str(first.pk)]
    assert body["pagination"] == {"total": 2, "page": 1, "pages": 1}
    assert all(list(item) == GENERATION_FIELDS for item in body["generations"])
    assert [(item["status"], item["type"], item["error"]) for item in body["generations"]] == [
        ("failed", "preview", "boom"),
        ("queued", "full", None),
    ]
    assert [item["id"] for item in failed["generations"]] == [str(second.pk)]
    assert [item["id"] for item in paged["generations"]] == [str(first.pk)]
    assert paged["pagination"] == {"total": 2, "page": 2, "pages": 2}


def test_an_unknown_status_filter_is_422(api_client, character):
    response = api_client.get(
        f"/api/v1/characters/{character.character_id}/talking-head/generations", {"status": "done"}
    )

    assert_vendor_error(response, 422, "ValidationError", "status:")


def test_a_generation_of_another_workspace_or_kind_is_404(api_client, other_client, workspace, character):
    generation = talking_head(character)
    video = MediaJob.objects.create(workspace=workspace, person=character, kind="video", params={"script": "Hi"})
    transfer = MediaJob.objects.create(workspace=workspace, person=character, kind="motion_transfer", params={})

    assert api_client.get(f"/api/v1/talking-head/{generation.pk}").status_code == 200
    assert_vendor_error(other_client.get(f"/api/v1/talking-head/{generation.pk}"), 404, "NotFound")
    assert_vendor_error(api_client.get(f"/api/v1/talking-head/{video.pk}"), 404, "NotFound")
    assert_vendor_error(api_client.get(f"/api/v1/talking-head/{transfer.pk}"), 404, "NotFound")
    assert_vendor_error(api_client.get("/api/v1/talking-head/999999"), 404, "NotFound")
    assert_vendor_error(
        other_client.get(f"/api/v1/characters/{character.character_id}/talking-head/generations"), 404, "NotFound"
    )


def test_a_generation_outlives_its_character(api_client, character):
    generation = talking_head(character)
    character.delete()

    body = api_client.get(f"/api/v1/talking-head/{generation.pk}").json()["generation"]

    assert body["id"] == str(generation.pk) and body["character_id"] is None
