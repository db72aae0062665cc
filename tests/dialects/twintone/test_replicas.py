"""TwinTone `/v1/replicas`: a replica is a person with a portrait, made from a photo or a training video."""

import base64
import io
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.dateparse import parse_datetime
from PIL import Image
from rest_framework.test import APIClient

from characters.models import Person
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

REPLICA_FIELDS = ["id", "name", "status", "photo_url", "created_at"]
UPDATED_FIELDS = ["id", "name", "status", "photo_url", "updated_at"]


@pytest.fixture
def client(raw_key):
    return APIClient(HTTP_X_API_KEY=raw_key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@cache
def _two_faces_jpeg() -> bytes:
    """Two copies of the portrait side by side: two faces of the same size."""
    portrait = _rgb(factories.image_bytes(portrait=True))
    out = io.BytesIO()
    Image.fromarray(np.concatenate([portrait, portrait], axis=1)).save(out, format="JPEG")
    return out.getvalue()


@cache
def _video(*, face: bool) -> bytes:
    """A one-second MP4 of the portrait (face=True) or of two flat colours (face=False)."""
    from media_jobs.engines.face import analyze_face
    from media_jobs.engines.talking_head.encode import VideoWriter
    from media_jobs.engines.talking_head.motion import FaceMotion
    from media_jobs.engines.talking_head.render import render_video

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "clip.mp4"
        if face:
            photo = _rgb(factories.image_bytes(portrait=True))
            face_found = analyze_face(photo, embed=False)
            render_video(photo=photo, face=face_found, motion=FaceMotion.still(25), audio=None, out_path=path)
        else:
            frame = _rgb(factories.image_bytes(portrait=False))
            with VideoWriter(path, width=256, height=256, fps=25, audio=None, preview=True) as writer:
                for _ in range(25):
                    writer.write(frame)
        return path.read_bytes()


def _snapshot(media_root) -> tuple[list, list[str]]:
    return list(Person.objects.values_list("pk", "name", "photo")), stored_files(media_root)


# --- list ---------------------------------------------------------------------------------------


def test_list_pages_the_workspaces_replicas_newest_first(client, workspace, other_workspace):
    first = factories.person_create(workspace=workspace, name="First")
    factories.person_create(workspace=workspace, name="Second", with_photo=False)
    factories.person_create(workspace=other_workspace, name="Theirs")

    everything = client.get("/v1/replicas").json()
    second_page = client.get("/v1/replicas", {"page": 2, "limit": 2}).json()

    assert list(everything) == ["replicas", "pagination"]
    assert [item["name"] for item in everything["replicas"]] == ["Second", "First", "Nova Demo"]
    assert everything["pagination"] == {"total": 3, "page": 1, "pages": 1}
    assert all(list(item) == REPLICA_FIELDS for item in everything["replicas"])
    assert [(item["status"], item["photo_url"]) for item in everything["replicas"][:1]] == [("needs_photo", None)]
    assert everything["replicas"][1]["id"] == str(first.pk) and everything["replicas"][1]["status"] == "ready"
    assert [item["name"] for item in second_page["replicas"]] == ["Nova Demo"]
    assert second_page["pagination"] == {"total": 3, "page": 2, "pages": 2}


# --- create -------------------------------------------------------------------------------------


def _assert_created(response, workspace, name: str) -> Person:
    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == REPLICA_FIELDS
    person = Person.objects.get(pk=int(body["id"]))
    assert isinstance(body["id"], str)
    assert (body["name"], body["status"]) == (name, "ready")
    assert (person.workspace, person.name, person.is_demo) == (workspace, name, False)
    assert body["photo_url"] == f"http://testserver/media/{person.photo.name}"
    assert parse_datetime(body["created_at"]) == person.created_at
    assert len(person.face["landmarks"]) == 68 and len(person.face["embedding"]) == 128
    return person


@pytest.mark.parametrize("data_url", [False, True], ids=["base64", "data-url"])
def test_create_from_a_json_photo(client, workspace, media_root, data_url):
    response = client.post(
        "/v1/replicas", {"name": "Ada", "photo": factories.image_base64(data_url=data_url)}, format="json"
    )

    person = _assert_created(response, workspace, "Ada")
    assert person.photo.name in stored_files(media_root)
    with person.photo.open("rb") as handle:
        assert Image.open(handle).size == (256, 256)


def test_create_from_a_multipart_photo(client, workspace):
    upload = SimpleUploadedFile("me.png", factories.image_bytes(image_format="PNG", portrait=True), "image/png")

    response = client.post("/v1/replicas", {"name": "Ada", "photo": upload}, format="multipart")

    person = _assert_created(response, workspace, "Ada")
    assert person.photo.name.endswith(".png") and "me" not in person.photo.name.rsplit("/", 1)[1]


def test_create_from_a_json_training_video_keeps_a_frame_as_the_photo(client, workspace):
    response = client.post("/v1/replicas", {"name": "Ada", "training_video": _b64(_video(face=True))}, format="json")

    person = _assert_created(response, workspace, "Ada")
    with person.photo.open("rb") as handle:
        frame = Image.open(handle)
        assert (frame.format, frame.size) == ("JPEG", (256, 256))


def test_create_from_a_multipart_training_video(client, workspace):
    upload = SimpleUploadedFile("clip.mp4", _video(face=True), "video/mp4")

    response = client.post("/v1/replicas", {"name": "Ada", "training_video": upload}, format="multipart")

    _assert_created(response, workspace, "Ada")


BAD_SHAPES = [
    ({}, "name:"),
    ({"name": "Ada"}, "either photo or training_video"),
    ({"name": "Ada", "photo": "PHOTO", "training_video": "VIDEO"}, "either photo or training_video"),
    ({"name": "", "photo": "PHOTO"}, "name:"),
    ({"name": 5, "photo": "PHOTO"}, "name:"),
    ({"name": "x" * 201, "photo": "PHOTO"}, "name:"),
    ({"name": "Ada", "photo": 5}, "photo:"),
    ({"name": "Ada", "photo": ""}, "photo:"),
]


def test_create_refuses_a_bad_shape_with_400(client, media_root):
    files = {"PHOTO": factories.image_base64(), "VIDEO": _b64(_video(face=True))}
    before = _snapshot(media_root)

    for body, message in BAD_SHAPES:
        body = {key: files.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
        response = client.post("/v1/replicas", body, format="json")
        assert_vendor_error(response, 400, "ValidationError", message)

    assert _snapshot(media_root) == before


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (lambda: factories.image_base64(portrait=False), "photo: no face was found"),
        (lambda: _b64(_two_faces_jpeg()), "photo: The image shows 2 faces of similar size"),
    ],
    ids=["no-face", "two-faces"],
)
def test_create_refuses_a_photo_that_does_not_show_one_face(client, media_root, photo, message):
    before = _snapshot(media_root)

    response = client.post("/v1/replicas", {"name": "Ada", "photo": photo()}, format="json")

    assert_vendor_error(response, 400, "ValidationError", message)
    assert _snapshot(media_root) == before


def test_create_refuses_a_multipart_photo_without_a_face(client, media_root):
    upload = SimpleUploadedFile("me.jpg", factories.image_bytes(portrait=False), "image/jpeg")
    before = _snapshot(media_root)

    response = client.post("/v1/replicas", {"name": "Ada", "photo": upload}, format="multipart")

    assert_vendor_error(response, 400, "ValidationError", "photo: no face was found")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("photo", lambda: _b64(b"I am a photo, trust me."), "photo: is not a JPEG, PNG or WebP image"),
        ("photo", lambda: _b64(_video(face=True)), "photo: is not a JPEG, PNG or WebP image"),
        ("photo", lambda: "not base64!!", "photo: is not valid base64"),
        ("training_video", lambda: factories.image_base64(), "training_video: The file is an image (JPEG)"),
        ("training_video", lambda: _b64(_video(face=True)[:2000]), "training_video: "),
    ],
    ids=["text-as-photo", "video-as-photo", "not-base64", "photo-as-video", "truncated-video"],
)
def test_create_refuses_media_that_is_not_what_it_claims_with_400(client, media_root, field, value, message):
    before = _snapshot(media_root)

    response = client.post("/v1/replicas", {"name": "Ada", field: value()}, format="json")

    assert_vendor_error(response, 400, "InvalidMedia", message)
    assert _snapshot(media_root) == before


def test_create_refuses_a_training_video_over_two_minutes(client, media_root):
    from imageio_ffmpeg import get_ffmpeg_exe

    path = media_root.parent / "long.mp4"
    subprocess.run(
        [get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=128x96:rate=1:duration=125", "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
    )  # fmt: skip
    before = _snapshot(media_root)

    response = client.post("/v1/replicas", {"name": "Ada", "training_video": _b64(path.read_bytes())}, format="json")

    assert_vendor_error(response, 400, "InvalidMedia", "training_video: The video is longer than 120 seconds.")
    assert _snapshot(media_root) == before


def test_create_refuses_a_training_video_without_a_face(client, media_root):
    before = _snapshot(media_root)

    response = client.post("/v1/replicas", {"name": "Ada", "training_video": _b64(_video(face=False))}, format="json")

    assert_vendor_error(response, 400, "ValidationError", "training_video: no face was found in the video")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize("multipart", [False, True], ids=["json", "multipart"])
@pytest.mark.parametrize("field", ["photo", "training_video"])
def test_create_refuses_an_oversized_file_with_413(client, settings, media_root, multipart, field):
    settings.MAX_MEDIA_BYTES = 2000
    content = factories.image_bytes(portrait=True) if field == "photo" else _video(face=True)
    assert len(content) > 2000
    value = SimpleUploadedFile("file.bin", content) if multipart else _b64(content)
    before = _snapshot(media_root)

    response = client.post("/v1/replicas", {"name": "Ada", field: value}, format="multipart" if multipart else "json")

    assert_vendor_error(response, 413, "PayloadTooLarge", f"{field}: the file is")
    assert _snapshot(media_root) == before


# --- get, rename, delete ------------------------------------------------------------------------


def test_get_answers_the_replica(client, workspace):
    person = factories.person_create(workspace=workspace, name="Ada")

    body = client.get(f"/v1/replicas/{person.pk}").json()

    assert body == {
        "id": str(person.pk),
        "name": "Ada",
        "status": "ready",
        "photo_url": f"http://testserver/media/{person.photo.name}",
        "created_at": body["created_at"],
    }
    assert parse_datetime(body["created_at"]) == person.created_at


def test_patch_renames_and_answers_updated_at(client, workspace):
    person = factories.person_create(workspace=workspace, name="Old")

    response = client.patch(f"/v1/replicas/{person.pk}", {"name": "New"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    person.refresh_from_db()
    assert list(body) == UPDATED_FIELDS
    assert (body["id"], body["name"], body["status"]) == (str(person.pk), "New", "ready")
    assert person.name == "New" and parse_datetime(body["updated_at"]) == person.updated_at


def test_patch_refuses_a_bad_name(client, workspace):
    person = factories.person_create(workspace=workspace, name="Old")

    for body in ({}, {"name": ""}, {"name": 7}, {"name": "x" * 201}):
        response = client.patch(f"/v1/replicas/{person.pk}", body, format="json")
        assert_vendor_error(response, 400, "ValidationError", "name:")

    person.refresh_from_db()
    assert person.name == "Old"


def test_delete_is_204_and_removes_the_photo(client, workspace, media_root, django_capture_on_commit_callbacks):
    person = factories.person_create(workspace=workspace)
    photo = person.photo.name
    assert photo in stored_files(media_root)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/v1/replicas/{person.pk}")

    assert response.status_code == 204 and response.content == b""
    assert not Person.objects.filter(pk=person.pk).exists()
    assert photo not in stored_files(media_root)
    assert_vendor_error(client.get(f"/v1/replicas/{person.pk}"), 404, "NotFound")


@pytest.mark.parametrize(("method", "body"), [("patch", {"name": "Mine now"}), ("delete", None)])
def test_the_demo_replica_is_read_only(client, workspace, media_root, method, body):
    demo = Person.objects.get(workspace=workspace, is_demo=True)
    before = _snapshot(media_root)

    response = getattr(client, method)(f"/v1/replicas/{demo.pk}", body, format="json")

    assert_vendor_error(response, 403, "Forbidden", "read-only")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_workspaces_replica_is_404(other_client, workspace, method):
    person = factories.person_create(workspace=workspace, name="Mine")

    response = getattr(other_client, method)(f"/v1/replicas/{person.pk}", {"name": "Stolen"}, format="json")

    assert_vendor_error(response, 404, "NotFound")
    assert Person.objects.get(pk=person.pk).name == "Mine"


@pytest.mark.parametrize("path", ["/v1/replicas/999999", "/v1/replicas/1234567890123456789", "/v1/replicas/abc"])
def test_an_unknown_replica_is_404(client, path):
    assert_vendor_error(client.get(path), 404, "NotFound")


def test_a_multipart_form_may_carry_the_photo_as_base64_text(client, workspace):
    response = client.post("/v1/replicas", {"name": "Ada", "photo": factories.image_base64()}, format="multipart")

    _assert_created(response, workspace, "Ada")


@pytest.mark.parametrize(
    ("field", "message"),
    [("photo", "photo: is not a JPEG, PNG or WebP image."), ("training_video", "training_video: The file is empty")],
)
def test_an_empty_multipart_file_is_refused_with_400(client, media_root, field, message):
    before = _snapshot(media_root)

    response = client.post(
        "/v1/replicas", {"name": "Ada", field: SimpleUploadedFile("empty.bin", b"")}, format="multipart"
    )

    assert_vendor_error(response, 400, "InvalidMedia", message)
    assert _snapshot(media_root) == before
