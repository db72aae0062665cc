"""influgen motion transfer: `/api/v1/characters/{id}/motion-transfer...`, a photo moved by a driving video."""

import base64
import io
import subprocess
import tempfile
import wave
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

JOB_FIELDS = [
    "id", "character_id", "name", "status", "progress", "video_url", "duration", "width", "height", "error",
    "created_at", "completed_at", "driving_video",
]  # fmt: skip
DRIVING_SECONDS = 1.2
UNKNOWN_CHARACTER = "char_01HZZZZZZZZZZZZZZZZZZZZZZZ"


@cache
def _talking_video() -> bytes:
    """A 1.2 s MP4 of the portrait opening its mouth and turning a little, with a 440 Hz tone."""
    from media_jobs.engines.face import analyze_face
    from media_jobs.engines.talking_head.motion import FaceMotion
    from media_jobs.engines.talking_head.render import render_video

    frames = round(DRIVING_SECONDS * 25)
    wave_shape = np.sin(np.linspace(0, 3 * np.pi, frames)).astype(np.float32)
    still = FaceMotion.still(frames)
    motion = FaceMotion(
        25, np.abs(wave_shape) * 0.8, still.mouth_width, still.left_eye_closed, still.right_eye_closed,
        wave_shape * 3, still.head_pitch, still.head_roll, still.head_dx, still.head_dy,
    )  # fmt: skip
    photo = np.asarray(Image.open(io.BytesIO(factories.image_bytes(portrait=True))).convert("RGB"))
    with tempfile.TemporaryDirectory() as scratch:
        audio = Path(scratch) / "tone.wav"
        rate = 16000
        time = np.arange(int(DRIVING_SECONDS * rate)) / rate
        with wave.open(str(audio), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes((0.3 * 32767 * np.sin(2 * np.pi * 440 * time)).astype("<i2").tobytes())
        path = Path(scratch) / "driving.mp4"
        render_video(photo=photo, face=analyze_face(photo, embed=False), motion=motion, audio=audio, out_path=path)
        return path.read_bytes()


@cache
def _faceless_video() -> bytes:
    """ffmpeg's test pattern with a tone: a real video without a face."""
    from imageio_ffmpeg import get_ffmpeg_exe

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "pattern.mp4"
        subprocess.run(
            [
                get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=1",
                "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path),
            ],
            check=True,
        )  # fmt: skip
        return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def character(workspace):
    return factories.person_create(workspace=workspace, name="Ada")


def transfer(person, **fields) -> MediaJob:
    """A motion-transfer row made without running anything."""
    return MediaJob.objects.create(workspace=person.workspace, person=person, kind="motion_transfer", **fields)


def _snapshot(media_root):
    return MediaJob.objects.count(), stored_files(media_root)


def test_a_transfer_answers_202_then_is_ready_with_the_driving_videos_length(
    api_client, character, tmp_path, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/characters/{character.character_id}/motion-transfer",
            {"video": _b64(_talking_video()), "name": "Nod"},
            format="json",
        )

    assert response.status_code == 202, response.content
    assert list(response.json()) == ["job"]
    created = response.json()["job"]
    assert list(created) == JOB_FIELDS
    assert (created["character_id"], created["name"], created["status"], created["video_url"]) == (
        character.character_id, "Nod", "queued", None,
    )  # fmt: skip
    assert created["driving_video"] == {"duration": DRIVING_SECONDS, "width": 256, "height": 256, "has_audio": True}

    body = api_client.get(f"/api/v1/characters/{character.character_id}/motion-transfer/{created['id']}").json()["job"]
    assert (body["status"], body["progress"], body["error"]) == ("ready", 100, None)
    job = MediaJob.objects.get(pk=int(created["id"]))
    assert not job.input_file  # the driving video is deleted once the result is made
    assert not any(name.startswith("jobs/inputs/") for name in stored_files(media_root))
    assert body["video_url"].startswith("http://testserver/media/jobs/motion_transfer/")
    assert (body["width"], body["height"]) == (256, 256)
    assert body["duration"] == pytest.approx(DRIVING_SECONDS, abs=0.04)
    response = api_client.get(body["video_url"])
    path = tmp_path / "result.mp4"
    path.write_bytes(b"".join(response.streaming_content))
    with av.open(str(path)) as container:
        assert (container.streams.video[0].codec_context.name, container.streams.audio[0].codec_context.name) == (
            "h264", "aac",
        )  # fmt: skip
        frames = [frame.to_ndarray(format="gray").astype(int) for frame in container.decode(video=0)]
    assert len(frames) == round(DRIVING_SECONDS * 25)
    assert max(np.abs(frame - frames[0]).max() for frame in frames) > 40  # the face follows the driving face


def test_a_multipart_driving_video_is_stored_with_the_job(api_client, character, media_root):
    upload = SimpleUploadedFile("clip.mp4", _talking_video(), "video/mp4")

    response = api_client.post(
        f"/api/v1/characters/{character.character_id}/motion-transfer",
        {"video": upload, "preview": "true"},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    job = MediaJob.objects.get(pk=int(response.json()["job"]["id"]))
    assert job.params["preview"] is True and job.params["driving_video"]["has_audio"] is True
    assert job.input_file.name in stored_files(media_root) and job.input_file.name.endswith(".mp4")
    assert "clip" not in job.input_file.name


def test_a_driving_video_without_a_face_is_refused_at_once(api_client, character, media_root):
    before = _snapshot(media_root)

    response = api_client.post(
        f"/api/v1/characters/{character.character_id}/motion-transfer",
        {"video": _b64(_faceless_video())},
        format="json",
    )

    assert_vendor_error(response, 422, "ValidationError", "video: no face was found")
    assert _snapshot(media_root) == before


def test_a_job_whose_driving_video_shows_no_face_fails_saying_so(api_client, character, media_root):
    """What the worker does when the face check at the door passed but no face can be followed."""
    from django.core.files.base import ContentFile

    from media_jobs.tasks import job_run

    job = transfer(character, params={"driving_video": {"duration": 1.0}})
    job.input_file.save("driving.mp4", ContentFile(_faceless_video()))

    job_run.delay(job.pk)

    body = api_client.get(f"/api/v1/characters/{character.character_id}/motion-transfer/{job.pk}").json()["job"]
    assert (body["status"], body["video_url"]) == ("failed", None)
    assert body["error"] == "No face was found in the driving video; it must show one person facing the camera."
    assert not [name for name in stored_files(media_root) if name.startswith("jobs/motion_transfer/")]


@pytest.mark.parametrize(
    ("video", "message"),
    [
        (lambda: factories.image_base64(), "video: The file is an image (JPEG), not a video."),
        (lambda: _b64(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40)), "video: The file is audio only (WAV)"),
        (lambda: _b64(np.random.default_rng(0).bytes(4000)), "video: The file is not a video"),
        (lambda: _b64(_talking_video()[:3000]), "video: "),
        (lambda: "not base64!!", "video: is not valid base64"),
    ],
    ids=["image", "wav", "random-bytes", "truncated", "not-base64"],
)
def test_what_is_not_a_video_is_400_and_stores_nothing(api_client, character, media_root, video, message):
    before = _snapshot(media_root)

    response = api_client.post(
        f"/api/v1/characters/{character.character_id}/motion-transfer", {"video": video()}, format="json"
    )

    assert_vendor_error(response, 400, "InvalidMedia", message)
    assert _snapshot(media_root) == before


@pytest.mark.parametrize("multipart", [False, True], ids=["json", "multipart"])
def test_a_driving_video_over_the_limit_is_413(api_client, character, settings, media_root, multipart):
    settings.MAX_MEDIA_BYTES = 2000
    video = SimpleUploadedFile("clip.mp4", _talking_video()) if multipart else _b64(_talking_video())
    before = _snapshot(media_root)

    response = api_client.post(
        f"/api/v1/characters/{character.character_id}/motion-transfer",
        {"video": video},
        format="multipart" if multipart else "json",
    )

    assert_vendor_error(response, 413, "PayloadTooLarge", "video: the file is")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "video"),
        ({"video": ""}, "video"),
        ({"video": 5}, "video"),
        ({"video": "VIDEO", "preview": "maybe"}, "preview"),
    ],
)
def test_bad_shapes_are_422(api_client, character, media_root, body, field):
    body = {key: _b64(_talking_video()) if value == "VIDEO" else value for key, value in body.items()}
    before = _snapshot(media_root)

    response = api_client.post(f"/api/v1/characters/{character.character_id}/motion-transfer", body, format="json")

    assert_vendor_error(response, 422, "ValidationError", f"{field}:")
    assert _snapshot(media_root) == before


def test_a_character_without_a_photo_is_refused(api_client, workspace, media_root):
    faceless = factories.person_create(workspace=workspace, with_photo=False)
    before = _snapshot(media_root)

    response = api_client.post(
        f"/api/v1/characters/{faceless.character_id}/motion-transfer", {"video": _b64(_talking_video())}, format="json"
    )

    assert_vendor_error(response, 422, "ValidationError", "no photo")
    assert _snapshot(media_root) == before


def test_an_unknown_or_foreign_character_is_404(api_client, other_workspace, media_root):
    theirs = factories.person_create(workspace=other_workspace)
    their_job = transfer(theirs)
    before = _snapshot(media_root)

    for character_id in (UNKNOWN_CHARACTER, theirs.character_id):
        base = f"/api/v1/characters/{character_id}"
        assert_vendor_error(
            api_client.post(f"{base}/motion-transfer", {"video": _b64(_talking_video())}, format="json"),
            404,
            "NotFound",
        )
        assert_vendor_error(api_client.get(f"{base}/motion-transfers"), 404, "NotFound")
        assert_vendor_error(api_client.get(f"{base}/motion-transfer/{their_job.pk}"), 404, "NotFound")
    assert _snapshot(media_root) == before


def test_a_job_is_found_only_under_its_own_character(api_client, workspace, character):
    other = factories.person_create(workspace=workspace, name="Other")
    job = transfer(character, params={"driving_video": {"duration": 1.0}})
    talking_head = MediaJob.objects.create(workspace=workspace, person=character, kind="talking_head", params={})

    own = api_client.get(f"/api/v1/characters/{character.character_id}/motion-transfer/{job.pk}")

    assert own.status_code == 200 and own.json()["job"]["id"] == str(job.pk)
    assert list(own.json()["job"]) == JOB_FIELDS
    assert_vendor_error(
        api_client.get(f"/api/v1/characters/{other.character_id}/motion-transfer/{job.pk}"), 404, "NotFound"
    )
    assert_vendor_error(
        api_client.get(f"/api/v1/characters/{character.character_id}/motion-transfer/{talking_head.pk}"),
        404,
        "NotFound",
    )


def test_the_list_shows_only_the_characters_transfers(api_client, workspace, character):
    other = factories.person_create(workspace=workspace, name="Other")
    first = transfer(character, name="First", params={"driving_video": {"duration": 1.0}})
    second = transfer(character, name="Second", status="failed", error="No face was found in the driving video.")
    transfer(other, name="Not hers")
    MediaJob.objects.create(workspace=workspace, person=character, kind="talking_head", params={})

    body = api_client.get(f"/api/v1/characters/{character.character_id}/motion-transfers").json()
    failed = api_client.get(
        f"/api/v1/characters/{character.character_id}/motion-transfers", {"status": "failed"}
    ).json()

    assert list(body) == ["motion_transfers", "pagination"]
    assert [item["name"] for item in body["motion_transfers"]] == ["Second", "First"]
    assert body["pagination"] == {"total": 2, "page": 1, "pages": 1}
    assert body["motion_transfers"][1]["driving_video"] == {"duration": 1.0}
    assert [(item["id"], item["error"]) for item in failed["motion_transfers"]] == [
        (str(second.pk), "No face was found in the driving video.")
    ]
    assert first.pk != second.pk


def test_the_influencers_alias_and_a_lower_case_id_reach_the_same_routes(api_client, character):
    lower = f"char_{character.ulid.lower()}"

    created = api_client.post(
        f"/api/v1/influencers/{lower}/motion-transfer", {"video": _b64(_talking_video())}, format="json"
    )
    job_id = created.json()["job"]["id"]
    detail = api_client.get(f"/api/v1/influencers/{character.character_id}/motion-transfer/{job_id}")
    listed = api_client.get(f"/api/v1/influencers/{lower}/motion-transfers")

    assert created.status_code == 202, created.content
    assert created.json()["job"]["character_id"] == character.character_id
    assert detail.json() == created.json()
    assert listed.json()["motion_transfers"] == [created.json()["job"]]


def test_another_workspace_cannot_read_a_transfer(other_client, character):
    job = transfer(character)

    response = other_client.get(f"/api/v1/characters/{character.character_id}/motion-transfer/{job.pk}")

    assert_vendor_error(response, 404, "NotFound")


def test_a_private_callback_url_is_refused_and_stores_nothing(api_client, character, media_root):
    before = _snapshot(media_root)

    response = api_client.post(
        f"/api/v1/characters/{character.character_id}/motion-transfer",
        {"video": _b64(_talking_video()), "callback_url": "http://169.254.169.254/latest"},
        format="json",
    )

    assert_vendor_error(response, 422, "ValidationError", "callback_url")
    assert _snapshot(media_root) == before
