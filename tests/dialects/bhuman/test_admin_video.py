"""BHuman `POST /persona/api/admin/video`: a video is probed for what it really is before it is kept."""

import base64
import io
import subprocess
import tempfile
import wave
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from characters.models import Person, ProfileVideo
from tests import factories
from tests.helpers import assert_bhuman_error, stored_files

pytestmark = pytest.mark.django_db

URL = "/persona/api/admin/video"


@cache
def _video(container: str = "mp4", *, seconds: int = 2, size: str = "320x240") -> bytes:
    """A test pattern with a 440 Hz tone, encoded by ffmpeg: H.264/AAC, or VP9/Opus for WebM."""
    from imageio_ffmpeg import get_ffmpeg_exe

    codecs = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"] if container == "webm" else [
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"clip.{container}"
        subprocess.run(
            [
                get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                *codecs, "-pix_fmt", "yuv420p", "-shortest", str(path),
            ],
            check=True,
        )  # fmt: skip
        return path.read_bytes()


@cache
def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(bytes(32000))
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(**video_data) -> dict:
    instance_id = video_data.pop("instance_id", None)
    data = {
        "video_data": {
            "file": _b64(_video()),
            "title": "Product demo",
            "description": "Two seconds of test pattern",
            "duration": 2,
            "resolution": "240p",
            **video_data,
        }
    }
    if instance_id is not None:
        data["instance_id"] = instance_id
    return data


@pytest.fixture
def persona(workspace):
    return factories.person_create(workspace=workspace, name="Ada")


def _snapshot(media_root):
    return ProfileVideo.objects.count(), stored_files(media_root)


# --- success ------------------------------------------------------------------------------------


def test_a_video_is_added_with_what_probing_found(api_client, workspace, persona, media_root):
    response = api_client.post(URL, body(), format="json")

    assert response.status_code == 201, response.content
    payload = response.json()
    video = ProfileVideo.objects.get()
    assert payload == {
        "status": "success",
        "message": "Video added successfully",
        "video_id": str(video.pk),
        "declared": {"duration": 2, "resolution": "240p"},
        "measured": {"duration": video.duration, "resolution": "240p", "width": 320, "height": 240},
        "matches_declared": True,
    }
    assert (video.declared_duration, video.declared_resolution) == (2, "240p")
    assert (video.workspace, video.person, video.title, video.description) == (
        workspace, persona, "Product demo", "Two seconds of test pattern",
    )  # fmt: skip
    assert (video.container, video.video_codec, video.audio_codec) == ("mp4", "h264", "aac")
    assert (video.width, video.height) == (320, 240)
    assert video.duration == pytest.approx(2.0, abs=0.05)
    assert video.file.name.startswith("persons/videos/") and video.file.name.endswith(".mp4")
    assert video.file.name in stored_files(media_root)
    with video.file.open("rb") as handle:
        assert handle.read() == _video()


def test_a_resolution_may_be_declared_several_ways_and_a_duration_a_second_off(api_client, persona):
    declarations = [{"resolution": value} for value in ("240p", "240", "320x240", "240x320", "320X240", " 240P ")]
    declarations += [{"duration": value} for value in (1, 3)]

    for declared in declarations:
        response = api_client.post(URL, body(**declared), format="json")
        assert response.status_code == 201, (declared, response.content)

    assert ProfileVideo.objects.count() == len(declarations)


def test_a_webm_is_probed_as_webm(api_client, persona):
    response = api_client.post(
        URL, {"video_data": {"file": _b64(_video("webm")), "title": "W", "duration": 2, "resolution": "240p"}},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.content
    video = ProfileVideo.objects.get(pk=int(response.json()["video_id"]))
    assert (video.container, video.video_codec, video.audio_codec, video.description) == ("webm", "vp9", "opus", "")
    assert video.file.name.endswith(".webm")


def test_instance_id_names_the_persona(api_client, workspace, persona):
    other = factories.person_create(workspace=workspace, name="Other")

    response = api_client.post(URL, body(instance_id=str(other.pk)), format="json")

    assert response.status_code == 201, response.content
    assert ProfileVideo.objects.get().person == other


def test_without_instance_id_the_default_persona_is_used(api_client, workspace, persona):
    newer = factories.person_create(workspace=workspace, name="Newer")
    Person.objects.filter(pk=newer.pk).update(is_default=True)

    api_client.post(URL, body(), format="json")

    assert ProfileVideo.objects.get().person == newer


def test_without_a_default_the_oldest_own_persona_is_used(api_client, workspace, persona):
    factories.person_create(workspace=workspace, name="Newer")

    api_client.post(URL, body(), format="json")

    assert ProfileVideo.objects.get().person == persona


# --- refusals -----------------------------------------------------------------------------------


def test_a_workspace_with_only_the_demo_persona_is_409(api_client, media_root):
    before = _snapshot(media_root)

    response = api_client.post(URL, body(), format="json")

    assert_bhuman_error(
        response, 409, "This workspace has no persona yet: create one first (POST /persona/api/instance)"
    )
    assert _snapshot(media_root) == before


def test_the_demo_persona_is_read_only(api_client, workspace, media_root):
    demo = Person.objects.get(workspace=workspace, is_demo=True)
    before = _snapshot(media_root)

    response = api_client.post(URL, body(instance_id=str(demo.pk)), format="json")

    assert_bhuman_error(response, 403, "read-only")
    assert _snapshot(media_root) == before


def test_an_unknown_or_foreign_instance_id_is_404(api_client, other_workspace, persona, media_root):
    theirs = factories.person_create(workspace=other_workspace)
    before = _snapshot(media_root)

    for instance_id in (str(theirs.pk), "999999", "abc", "-1", "1" * 19):
        response = api_client.post(URL, body(instance_id=instance_id), format="json")
        assert_bhuman_error(response, 404, f"instance_id: no instance with id {instance_id!r}.")

    assert _snapshot(media_root) == before


NOT_VIDEOS = {
    "image": (lambda: factories.image_bytes(portrait=True), "The file is an image (JPEG), not a video."),
    "png": (lambda: factories.image_bytes(image_format="PNG"), "The file is an image (PNG), not a video."),
    "wav": (_wav, "The file is audio only (WAV), not a video."),
    "random-bytes": (lambda: np.random.default_rng(0).bytes(5000), "not a video in a supported format"),
    "truncated-mp4": (lambda: _video()[: len(_video()) // 2], "video_data.file: The video"),
    "header-only": (lambda: _video()[:40], "video_data.file: The video"),
    "empty-ish": (lambda: b"\x00" * 8, "too short to be a video"),
}


@pytest.mark.parametrize(("make", "message"), NOT_VIDEOS.values(), ids=NOT_VIDEOS.keys())
def test_what_is_not_a_video_is_400_and_kept_nowhere(api_client, persona, media_root, make, message):
    before = _snapshot(media_root)

    response = api_client.post(URL, body(file=_b64(make())), format="json")

    assert_bhuman_error(response, 400, message)
    assert _snapshot(media_root) == before


@pytest.mark.parametrize(
    ("overrides", "declared"),
    [
        ({"duration": 10}, {"duration": 10, "resolution": "240p"}),
        ({"duration": 120}, {"duration": 120, "resolution": "240p"}),
        ({"resolution": "1080p"}, {"duration": 2, "resolution": "1080p"}),
        ({"resolution": "640x480"}, {"duration": 2, "resolution": "640x480"}),
        ({"resolution": "4k"}, {"duration": 2, "resolution": "4k"}),
        ({"resolution": "tall"}, {"duration": 2, "resolution": "tall"}),
        ({"duration": 60, "resolution": "720p"}, {"duration": 60, "resolution": "720p"}),
    ],
)
def test_a_video_unlike_its_description_is_kept_with_both_values(api_client, persona, media_root, overrides, declared):
    """Phones round durations and re-encodes change sizes: the video is good, so it is kept, and the answer
    shows what was declared beside what was measured."""
    response = api_client.post(URL, body(**overrides), format="json")

    assert response.status_code == 201, response.content
    payload = response.json()
    video = ProfileVideo.objects.get()
    assert payload["declared"] == declared
    assert payload["measured"] == {"duration": video.duration, "resolution": "240p", "width": 320, "height": 240}
    assert payload["measured"]["duration"] == pytest.approx(2.0, abs=0.05)
    assert payload["matches_declared"] is False
    assert (video.declared_duration, video.declared_resolution) == (declared["duration"], declared["resolution"])
    assert (video.duration, video.width, video.height) == (pytest.approx(2.0, abs=0.05), 320, 240)
    assert video.file.name in stored_files(media_root)


MISSING = object()


def video_data(**changes) -> dict:
    """A valid `video_data` with fields changed, or left out where the change is MISSING."""
    data = {"file": _b64(_video()), "title": "T", "duration": 2, "resolution": "240p", **changes}
    return {key: value for key, value in data.items() if value is not MISSING}


WRONG_SHAPES = [
    (lambda: {}, "video_data:"),
    (lambda: {"video_data": "a video"}, "video_data:"),
    (lambda: {"video_data": video_data(file=MISSING)}, "video_data.file:"),
    (lambda: {"video_data": video_data(title=MISSING)}, "video_data.title:"),
    (lambda: {"video_data": video_data(duration=MISSING)}, "video_data.duration:"),
    (lambda: {"video_data": video_data(resolution=MISSING)}, "video_data.resolution:"),
    (lambda: {"video_data": video_data(duration="120")}, "video_data.duration:"),
    (lambda: {"video_data": video_data(duration=2.0)}, "video_data.duration:"),
    (lambda: {"video_data": video_data(duration=True)}, "video_data.duration:"),
    (lambda: {"video_data": video_data(duration=0)}, "video_data.duration:"),
    (lambda: {"video_data": video_data(resolution=240)}, "video_data.resolution:"),
    (lambda: {"video_data": video_data(title=5)}, "video_data.title:"),
    (lambda: {"video_data": video_data(title="")}, "video_data.title:"),
    (lambda: {"video_data": video_data(description=7)}, "video_data.description:"),
    (lambda: {"video_data": video_data(file=5)}, "video_data.file:"),
    (lambda: {"video_data": video_data(file="")}, "video_data.file:"),
    (lambda: {"video_data": video_data(file="!!")}, "file: is not valid base64"),
    (lambda: {"video_data": video_data(), "instance_id": 5}, "instance_id:"),
]


def test_a_body_of_the_wrong_shape_is_400_naming_the_field(api_client, persona, media_root):
    before = _snapshot(media_root)

    for make, field in WRONG_SHAPES:
        response = api_client.post(URL, make(), format="json")
        assert_bhuman_error(response, 400, field)

    assert _snapshot(media_root) == before


def test_malformed_json_is_400(api_client, persona):
    response = api_client.post(URL, data=b'{"video_data": ', content_type="application/json")

    assert_bhuman_error(response, 400, "JSON")


def test_a_video_over_the_media_limit_is_413(api_client, persona, settings, media_root):
    settings.MAX_MEDIA_BYTES = 2000
    before = _snapshot(media_root)

    response = api_client.post(URL, body(), format="json")

    assert_bhuman_error(response, 413, "the limit is")
    assert _snapshot(media_root) == before


def test_a_request_without_a_key_is_401(anonymous_client, persona):
    response = anonymous_client.post(URL, body(), format="json")

    assert_bhuman_error(response, 401)
    assert not ProfileVideo.objects.exists()


def test_a_body_over_the_api_limit_is_413_in_bhumans_shape(api_client, persona, settings, media_root):
    settings.API_MAX_BODY_BYTES = 4000
    before = _snapshot(media_root)

    response = api_client.post(URL, body(), format="json")

    assert_bhuman_error(response, 413, "The request body is")
    assert _snapshot(media_root) == before


def test_a_data_url_is_accepted_too(api_client, persona):
    response = api_client.post(URL, body(file=f"data:video/mp4;base64,{_b64(_video())}"), format="json")

    assert response.status_code == 201, response.content


def test_a_video_longer_than_allowed_is_400(api_client, persona, settings, media_root):
    settings.MAX_VIDEO_SECONDS = 1
    before = _snapshot(media_root)

    response = api_client.post(URL, body(), format="json")

    assert_bhuman_error(response, 400, "video_data.file: The video is longer than 1 seconds.")
    assert _snapshot(media_root) == before


def test_deleting_the_persona_deletes_its_videos_files(
    api_client, persona, media_root, django_capture_on_commit_callbacks
):
    api_client.post(URL, body(), format="json")
    video_file = ProfileVideo.objects.get().file.name
    assert video_file in stored_files(media_root)

    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/v1/replicas/{persona.pk}").status_code == 204

    assert not ProfileVideo.objects.exists()
    assert video_file not in stored_files(media_root)
