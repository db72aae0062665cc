"""Provenance over HTTP: every route that makes a file hands out one the c2pa library verifies, naming its persona
and consent; `GET /api/v1/jobs/{id}/provenance` and `POST /api/v1/provenance/verify` (Celery eager, real engines)."""

import base64
import io
import json

import av
import c2pa
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from characters.models import Consent, SpeakingProfile, Voice
from characters.services.voices import voice_training_audio
from media_jobs import provenance
from media_jobs.engines.talking_head import LocalTalkingHead
from media_jobs.models import MediaJob
from tests import factories
from tests.dialects.influgen.test_motion_transfer import _talking_video as driving_video
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db

IPTC_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_FIELDS = ["job_id", "content_type", "signed", "valid", "altered", "manifest", "consent"]


@pytest.fixture
def character(workspace):
    return factories.person_create(workspace=workspace, name="Ada")


def served(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content)


def c2pa_verified(data: bytes, content_type: str) -> dict:
    """The active manifest, once the c2pa library itself has found the file trusted and unaltered."""
    anchors = provenance.signing_credentials().anchors_pem.decode()
    context = c2pa.Context.from_dict({"trust": {"trust_anchors": anchors}, "verify": {"remote_manifest_fetch": False}})
    with c2pa.Reader(content_type, io.BytesIO(data), context=context) as reader:
        store = json.loads(reader.json())
    assert store["validation_state"] == "Trusted", store.get("validation_results")
    return store["manifests"][store["active_manifest"]]


def made(manifest: dict) -> tuple[list, dict]:
    """(the actions, the platform's own assertion) of a manifest."""
    assertions = {assertion["label"]: assertion["data"] for assertion in manifest["assertions"]}
    return assertions["c2pa.actions.v2"]["actions"], assertions["org.personaplatform.persona"]


def assert_created_by_a_trained_model(actions: list, engine: str) -> None:
    assert [(action["action"], action["digitalSourceType"]) for action in actions] == [("c2pa.created", IPTC_TRAINED)]
    assert actions[0]["softwareAgent"]["engine"] == engine


@pytest.mark.parametrize(("audio_format", "content_type"), [("wav", "audio/wav"), ("mp3", "audio/mpeg")])
def test_twintone_speech_verifies_and_its_provenance_names_the_persona(
    api_client, workspace, character, django_capture_on_commit_callbacks, audio_format, content_type
):
    persona = SpeakingProfile.objects.create(workspace=workspace, name="Narrator", person=character)
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(
            "/v1/speech", {"text": "Hello there.", "persona_id": str(persona.pk), "format": audio_format}, format="json"
        ).json()
    url = api_client.get(f"/v1/speech/{created['id']}").json()["url"]

    manifest = c2pa_verified(served(api_client, url), content_type)
    answer = api_client.get(f"/api/v1/jobs/{created['id']}/provenance")

    actions, platform = made(manifest)
    assert_created_by_a_trained_model(actions, "piper speech")
    assert platform == {
        "persona": {"id": character.pk, "name": "Ada"}, "consent": {"voice": "unverified"}, "engine": "piper speech",
    }  # fmt: skip
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert list(body) == PROVENANCE_FIELDS
    assert body == {
        "job_id": int(created["id"]), "content_type": content_type, "signed": True, "valid": True, "altered": False,
        "manifest": manifest, "consent": {"at_generation": {"voice": "unverified"}, "now": {"voice": "unverified"}},
    }  # fmt: skip


def test_a_twintone_video_verifies_with_the_persona_both_consents_and_its_sound(
    api_client, character, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post("/v1/videos", {"replica_id": str(character.pk), "script": "Hi."}, format="json")
    data = served(api_client, api_client.get(f"/v1/videos/{created.json()['id']}").json()["url"])

    actions, platform = made(c2pa_verified(data, "video/mp4"))

    assert_created_by_a_trained_model(actions, "local talking head")
    assert platform == {
        "persona": {"id": character.pk, "name": "Ada"}, "consent": {"voice": "unverified", "face": "unverified"},
        "engine": "local talking head", "audio_origin": "piper speech",
    }  # fmt: skip


def test_an_influgen_talking_head_verifies_and_a_flipped_byte_is_caught_by_the_verify_route(
    api_client, character, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        path = f"/api/v1/characters/{character.character_id}/talking-head/preview"
        generation = api_client.post(path, {"script": "Hi there!"}, format="json").json()["generation"]
    url = api_client.get(f"/api/v1/talking-head/{generation['id']}").json()["generation"]["video_url"]
    data = served(api_client, url)
    manifest = c2pa_verified(data, "video/mp4")
    altered = bytearray(data)
    altered[len(altered) // 2] ^= 0x55

    intact = api_client.post("/api/v1/provenance/verify", {"file": SimpleUploadedFile("v.mp4", data)})
    flipped = api_client.post("/api/v1/provenance/verify", {"file": SimpleUploadedFile("v.mp4", bytes(altered))})

    assert intact.status_code == 200, intact.content
    assert intact.json() == {"signed": True, "valid": True, "altered": False, "manifest": manifest}
    assert flipped.status_code == 200, flipped.content
    assert {key: flipped.json()[key] for key in ("signed", "valid", "altered")} == {
        "signed": True, "valid": False, "altered": True,
    }  # fmt: skip


def test_a_motion_transfer_verifies_naming_the_face_and_the_driving_videos_sound(
    api_client, character, django_capture_on_commit_callbacks
):
    base = f"/api/v1/characters/{character.character_id}"
    with django_capture_on_commit_callbacks(execute=True):
        video = base64.b64encode(driving_video()).decode()
        created = api_client.post(f"{base}/motion-transfer", {"video": video}, format="json").json()["job"]
    url = api_client.get(f"{base}/motion-transfer/{created['id']}").json()["job"]["video_url"]

    actions, platform = made(c2pa_verified(served(api_client, url), "video/mp4"))

    assert_created_by_a_trained_model(actions, "local talking head")
    assert platform == {
        "persona": {"id": character.pk, "name": "Ada"}, "consent": {"face": "unverified"},
        "engine": "local talking head", "audio_origin": "the driving video's sound",
    }  # fmt: skip


def test_a_characters_generated_voice_and_its_preview_are_signed(
    api_client, character, django_capture_on_commit_callbacks
):
    base = f"/api/v1/characters/{character.character_id}"
    with django_capture_on_commit_callbacks(execute=True):
        generation = api_client.post(f"{base}/voice/generate", {"text": "Welcome back."}, format="json").json()
    detail = api_client.get(f"{base}/voice/generations/{generation['generation']['id']}").json()["generation"]
    preview = api_client.post(f"{base}/voice/preview", {"text": "Hi."}, format="json")

    for data in (served(api_client, detail["audio_url"]), preview.content):
        _, platform = made(c2pa_verified(data, "audio/wav"))
        assert (platform["persona"], platform["consent"]) == (
            {"id": character.pk, "name": "Ada"},
            {"voice": "unverified"},
        )


def test_a_voices_training_recording_is_signed(workspace, character):
    voice = Voice.objects.create(
        workspace=workspace, person=character, name="Ada's voice", provider=Voice.Provider.LOCAL,
        provider_voice_id="local_ada", measurements={"speed_factor": 1.0},
    )  # fmt: skip

    voice = voice_training_audio(voice=voice)

    _, platform = made(c2pa_verified(voice.training_audio.read(), "audio/wav"))
    assert platform["persona"] == {"id": character.pk, "name": "Ada"}


def test_an_output_made_before_a_revocation_says_the_consent_was_later_revoked(
    api_client, workspace, character, django_capture_on_commit_callbacks
):
    consent = Consent.objects.create(
        workspace=workspace, person=character, kind=Consent.Kind.BOTH, status=Consent.Status.VERIFIED,
        phrase="green apples sing", phrase_expires_at=timezone.now(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post("/v1/videos", {"replica_id": str(character.pk), "script": "Hi."}, format="json")
    job_id = created.json()["id"]
    before = api_client.get(f"/api/v1/jobs/{job_id}/provenance").json()["consent"]
    Consent.objects.filter(pk=consent.pk).update(status=Consent.Status.REVOKED, revoked_at=timezone.now())

    after = api_client.get(f"/api/v1/jobs/{job_id}/provenance").json()

    assert before == {"at_generation": {"voice": "verified", "face": "verified"},
                      "now": {"voice": "verified", "face": "verified"}}  # fmt: skip
    assert after["consent"] == {"at_generation": {"voice": "verified", "face": "verified"},
                                "now": {"voice": "revoked", "face": "revoked"}}  # fmt: skip
    assert (after["signed"], after["valid"], after["altered"]) == (True, True, False)


def test_a_job_without_a_file_is_409_and_another_workspaces_job_is_404(api_client, other_client, workspace):
    queued = MediaJob.objects.create(workspace=workspace, kind="video", params={"script": "Hi"})
    clone = MediaJob.objects.create(workspace=workspace, kind="voice_clone", params={}, status="ready")

    assert_vendor_error(
        api_client.get(f"/api/v1/jobs/{queued.pk}/provenance"), 409, "Conflict", f"Job {queued.pk} is queued"
    )
    assert_vendor_error(
        api_client.get(f"/api/v1/jobs/{clone.pk}/provenance"), 409, "Conflict", "made no file (a voice clone)"
    )
    assert_vendor_error(other_client.get(f"/api/v1/jobs/{queued.pk}/provenance"), 404, "NotFound")
    assert_vendor_error(api_client.get("/api/v1/jobs/999999/provenance"), 404, "NotFound")


def test_verify_answers_unsigned_for_a_file_without_a_manifest(api_client):
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(png, "PNG")

    response = api_client.post("/api/v1/provenance/verify", {"file": SimpleUploadedFile("x.png", png.getvalue())})

    assert response.status_code == 200, response.content
    assert response.json() == {"signed": False, "valid": False, "altered": False, "manifest": None}


def test_verify_refuses_a_file_that_is_not_supported_media_naming_what_is(api_client):
    response = api_client.post("/api/v1/provenance/verify", {"file": SimpleUploadedFile("notes.txt", b"hello")})

    assert_vendor_error(response, 400, "InvalidMedia", "the platform signs WAV, MP3, MP4, JPEG and PNG files")


def test_verify_needs_a_file_within_the_media_limit(api_client, settings):
    settings.MAX_MEDIA_BYTES = 1000

    missing = api_client.post("/api/v1/provenance/verify", {"other": "x"})
    large = api_client.post("/api/v1/provenance/verify", {"file": SimpleUploadedFile("big.png", bytes(2000))})

    assert_vendor_error(missing, 422, "ValidationError", "file")
    assert_vendor_error(large, 413, "PayloadTooLarge", "the limit is")


def _corner_difference(first: bytes, second: bytes) -> tuple[float, float]:
    """(mean difference in the bottom-right corner, in the top-left corner) of two MP4s' first frames (the label's
    exact frames and pixels are the engine's test: tests/engines/test_disclosure_label.py)."""
    a, b = (_first_frame(data) for data in (first, second))
    height, width = a.shape
    corner = np.abs(a[-height // 8 :, -width // 3 :] - b[-height // 8 :, -width // 3 :]).mean()
    away = np.abs(a[: height // 8, : width // 3] - b[: height // 8, : width // 3]).mean()
    return float(corner), float(away)


def _first_frame(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(video=0)).to_ndarray(format="gray").astype(np.float32)


def test_the_disclosure_label_is_burned_in_for_the_workspace_setting_and_the_demo_person(
    api_client, workspace, character, monkeypatch, django_capture_on_commit_callbacks
):
    labels = []
    render = LocalTalkingHead.render_speech

    def spy(self, request, **kwargs):
        labels.append(request.disclosure_label)
        return render(self, request, **kwargs)

    monkeypatch.setattr(LocalTalkingHead, "render_speech", spy)
    demo = workspace.persons.get(is_demo=True)

    def video(person) -> bytes:
        with django_capture_on_commit_callbacks(execute=True):
            path = f"/api/v1/characters/{person.character_id}/talking-head/preview"
            generation = api_client.post(path, {"script": "Hi there!"}, format="json").json()["generation"]
        job = MediaJob.objects.get(pk=int(generation["id"]))
        return job.result_file.read()

    plain = video(character)
    workspace.ai_disclosure_overlay = True
    workspace.save(update_fields=["ai_disclosure_overlay"])
    labelled = video(character)
    workspace.ai_disclosure_overlay = False
    workspace.save(update_fields=["ai_disclosure_overlay"])
    video(demo)

    assert labels == [False, True, True]
    corner, away = _corner_difference(plain, labelled)
    assert corner > 15 and away < 2, (corner, away)
