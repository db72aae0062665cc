"""TwinTone `/v1/videos` end to end: the replica's photo speaks the script (Celery eager, real engines)."""

import av
import numpy as np
import pytest
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from characters.services.persons import person_create
from characters.services.photos import photo_from_bytes
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

SCRIPT = "Hello there, nice to meet you."
VIDEO_FIELDS = ["id", "name", "status", "url", "created_at"]


@pytest.fixture
def client(raw_key):
    return APIClient(HTTP_X_API_KEY=raw_key)


@pytest.fixture
def replica(workspace):
    return factories.person_create(workspace=workspace, name="Ada")


def generate(client, capture, **body) -> dict:
    with capture(execute=True):
        response = client.post("/v1/videos", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def download(client, url: str, path):
    response = client.get(url)
    assert response.status_code == 200
    path.write_bytes(b"".join(response.streaming_content))
    return path


def probe(path) -> dict:
    """What the MP4 really holds, decoded with PyAV."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video, container.streams.audio
        facts = {
            "streams": sorted(stream.type for stream in container.streams),
            "codecs": (video[0].codec_context.name, audio[0].codec_context.name),
            "fps": float(video[0].average_rate),
            "size": (video[0].codec_context.width, video[0].codec_context.height),
        }
        frames = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].codec_context.sample_rate
    return {**facts, "frames": frames, "audio_seconds": samples / rate}


def test_create_answers_processing_then_the_video_is_ready(
    client, replica, tmp_path, django_capture_on_commit_callbacks
):
    created = generate(
        client, django_capture_on_commit_callbacks, replica_id=str(replica.pk), script=SCRIPT, name="Intro"
    )

    assert list(created) == ["id", "status", "created_at"]
    assert created["status"] == "processing" and isinstance(created["id"], str)
    body = client.get(f"/v1/videos/{created['id']}").json()
    assert list(body) == VIDEO_FIELDS
    assert (body["id"], body["name"], body["status"]) == (created["id"], "Intro", "ready")
    assert body["url"].startswith("http://testserver/media/jobs/video/") and body["url"].endswith(".mp4")
    job = MediaJob.objects.get(pk=int(created["id"]))
    assert (job.person, job.params["script"]) == (replica, SCRIPT)
    assert parse_datetime(body["created_at"]) == job.created_at

    facts = probe(download(client, body["url"], tmp_path / "video.mp4"))
    assert facts["streams"] == ["audio", "video"]
    assert facts["codecs"] == ("h264", "aac")
    assert facts["fps"] == 25.0
    assert facts["size"] == (256, 256)  # the portrait's own size
    assert 1.0 < facts["audio_seconds"] < 5.0
    assert abs(len(facts["frames"]) - facts["audio_seconds"] * 25) <= 1
    assert (job.result["frames"], job.result["fps"]) == (len(facts["frames"]), 25)
    # The face moves while it speaks: not one still picture repeated.
    changes = [np.abs(frame.astype(int) - facts["frames"][0]).max() for frame in facts["frames"]]
    assert max(changes) > 40


def test_a_replica_with_a_large_photo_speaks_in_720p(client, workspace, tmp_path, django_capture_on_commit_callbacks):
    photo = photo_from_bytes(factories.image_bytes(portrait=True, size=(800, 900)))
    tall = person_create(workspace=workspace, owner=workspace.owner, name="Tall", photo=photo)
    created = generate(client, django_capture_on_commit_callbacks, replica_id=str(tall.pk), script="Hello.")

    body = client.get(f"/v1/videos/{created['id']}").json()
    facts = probe(download(client, body["url"], tmp_path / "video.mp4"))
    assert facts["size"] == (640, 720)  # 720 tall, the photo's shape kept (sides even)
    assert (MediaJob.objects.get(pk=int(created["id"])).result["height"]) == 720


def test_list_pages_and_filters_by_status(client, workspace, replica, django_capture_on_commit_callbacks):
    ready = generate(client, django_capture_on_commit_callbacks, replica_id=str(replica.pk), script="Hi.", name="One")
    MediaJob.objects.create(workspace=workspace, kind="video", name="Two", params={}, status="failed", error="boom")
    MediaJob.objects.create(workspace=workspace, kind="video", name="Three", params={}, status="queued")
    MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "Not a video."}, status="ready")

    everything = client.get("/v1/videos").json()
    failed = client.get("/v1/videos", {"status": "failed"}).json()
    processing = client.get("/v1/videos", {"status": "processing"}).json()
    first_page = client.get("/v1/videos", {"limit": 2}).json()

    assert list(everything) == ["videos", "pagination"]
    assert [item["name"] for item in everything["videos"]] == ["Three", "Two", "One"]
    assert everything["pagination"] == {"total": 3, "page": 1, "pages": 1}
    assert everything["videos"][2]["id"] == ready["id"] and everything["videos"][2]["url"].endswith(".mp4")
    assert failed["videos"] == [
        {"id": failed["videos"][0]["id"], "name": "Two", "status": "failed",
         "created_at": failed["videos"][0]["created_at"], "error": "boom"}
    ]  # fmt: skip
    assert [(item["name"], item["status"]) for item in processing["videos"]] == [("Three", "processing")]
    assert "url" not in processing["videos"][0] and "error" not in processing["videos"][0]
    assert first_page["pagination"] == {"total": 3, "page": 1, "pages": 2}


def test_an_unknown_status_filter_is_400(client):
    assert_vendor_error(client.get("/v1/videos", {"status": "queued"}), 400, "ValidationError", "status:")


def test_patch_renames(client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="video", params={}, status="ready")

    response = client.patch(f"/v1/videos/{job.pk}", {"name": "Greeting"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    job.refresh_from_db()
    assert list(body) == ["id", "name", "status", "updated_at"]
    assert (body["id"], body["name"], body["status"]) == (str(job.pk), "Greeting", "ready")
    assert job.name == "Greeting" and parse_datetime(body["updated_at"]) == job.updated_at


def test_delete_removes_the_video_file(client, replica, media_root, django_capture_on_commit_callbacks):
    created = generate(client, django_capture_on_commit_callbacks, replica_id=str(replica.pk), script="Gone soon.")
    name = MediaJob.objects.get(pk=int(created["id"])).result_file.name
    assert name in stored_files(media_root)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/v1/videos/{created['id']}")

    assert response.status_code == 204
    assert name not in stored_files(media_root)
    assert not MediaJob.objects.filter(pk=int(created["id"])).exists()
    assert_vendor_error(client.get(f"/v1/videos/{created['id']}"), 404, "NotFound")


BAD_REQUESTS = [
    ({"script": "Hi"}, "replica_id"),
    ({"replica_id": "REPLICA"}, "script"),
    ({"replica_id": "REPLICA", "script": ""}, "script"),
    ({"replica_id": "REPLICA", "script": "   "}, "script"),
    ({"replica_id": "REPLICA", "script": 42}, "script"),
    ({"replica_id": "REPLICA", "script": "x" * 5001}, "script"),
    ({"replica_id": 7, "script": "Hi"}, "replica_id"),
    ({"replica_id": "REPLICA", "script": "Hi", "name": "x" * 201}, "name"),
    ({"replica_id": "REPLICA", "script": "Hi", "callback_url": "not a url"}, "callback_url"),
]


def test_bad_requests_are_400_and_create_nothing(client, replica, media_root):
    files = stored_files(media_root)

    for body, field in BAD_REQUESTS:
        body = {key: str(replica.pk) if value == "REPLICA" else value for key, value in body.items()}
        response = client.post("/v1/videos", body, format="json")
        assert_vendor_error(response, 400, "ValidationError", f"{field}:")

    assert not MediaJob.objects.exists()
    assert stored_files(media_root) == files


def test_another_workspaces_replica_cannot_be_used(client, other_workspace):
    theirs = factories.person_create(workspace=other_workspace)

    for replica_id in (str(theirs.pk), "999999", "abc"):
        response = client.post("/v1/videos", {"replica_id": replica_id, "script": "Hi"}, format="json")
        assert_vendor_error(response, 404, "NotFound", f"replica_id: no replica with id {replica_id!r}.")
    assert not MediaJob.objects.exists()


def test_a_replica_without_a_photo_is_refused(client, workspace):
    faceless = factories.person_create(workspace=workspace, name="No Photo", with_photo=False)

    response = client.post("/v1/videos", {"replica_id": str(faceless.pk), "script": "Hi"}, format="json")

    assert_vendor_error(response, 400, "ValidationError", "no photo")
    assert not MediaJob.objects.exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_workspaces_video_is_404(other_client, workspace, method):
    job = MediaJob.objects.create(workspace=workspace, kind="video", params={}, status="ready")

    response = getattr(other_client, method)(f"/v1/videos/{job.pk}", {"name": "x"}, format="json")

    assert_vendor_error(response, 404, "NotFound")
    assert MediaJob.objects.get(pk=job.pk).name == ""


def test_a_job_of_another_kind_is_not_a_video(client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "x"}, status="ready")

    assert_vendor_error(client.get(f"/v1/videos/{job.pk}"), 404, "NotFound")


def test_a_video_of_a_deleted_replica_fails_with_its_reason(client, replica, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post("/v1/videos", {"replica_id": str(replica.pk), "script": "Hi"}, format="json").json()
    replica.delete()
    for callback in callbacks:
        callback()

    body = client.get(f"/v1/videos/{created['id']}").json()
    assert (body["status"], body["error"]) == ("failed", "The persona was deleted before its media was made.")
    assert "url" not in body


def test_a_canceled_video_reads_as_failed(client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="video", params={}, status="canceled")

    body = client.get(f"/v1/videos/{job.pk}").json()
    failed = client.get("/v1/videos", {"status": "failed"}).json()["videos"]

    assert (body["status"], body["error"]) == ("failed", "Canceled.")
    assert [item["id"] for item in failed] == [str(job.pk)]
