"""TwinTone `/v1/speech` end to end: the job runs (Celery eager) with the real local voice."""

import io
import wave

import pytest
from rest_framework.test import APIClient

from characters.models import SpeakingProfile
from media_jobs.engines.audio import decode_to_mono, median_pitch_hz, rms_dbfs
from media_jobs.models import MediaJob
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

TEXT = "Hello there. This is a short test of the speech route."


@pytest.fixture
def client(raw_key):
    return APIClient(HTTP_X_API_KEY=raw_key)


@pytest.fixture
def persona(workspace):
    return SpeakingProfile.objects.create(workspace=workspace, name="Narrator")


def generate(client, capture, **body) -> dict:
    with capture(execute=True):
        response = client.post("/v1/speech", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def download(client, url: str, tmp_path, name="speech.wav"):
    response = client.get(url)
    assert response.status_code == 200
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    return path


def test_create_answers_processing_then_the_audio_is_ready(
    client, persona, tmp_path, django_capture_on_commit_callbacks
):
    created = generate(client, django_capture_on_commit_callbacks, text=TEXT, persona_id=str(persona.pk), name="intro")

    assert list(created) == ["id", "status", "created_at"]
    assert created["status"] == "processing" and isinstance(created["id"], str)
    body = client.get(f"/v1/speech/{created['id']}").json()
    assert list(body) == ["id", "text", "status", "url", "created_at"]
    assert (body["text"], body["status"]) == (TEXT, "ready")
    path = download(client, body["url"], tmp_path)
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)
        duration = audio.getnframes() / audio.getframerate()
    words_per_second = len(TEXT.split()) / duration
    assert 1.5 < words_per_second < 5, duration
    samples, _ = decode_to_mono(path)
    assert rms_dbfs(samples) > -40
    job = MediaJob.objects.get(pk=int(created["id"]))
    assert job.result["phonemes"] and abs(job.result["duration"] - duration) < 0.05


def test_the_persona_settings_shape_the_voice(client, workspace, tmp_path, django_capture_on_commit_callbacks):
    plain = SpeakingProfile.objects.create(workspace=workspace, name="Plain")
    higher = SpeakingProfile.objects.create(workspace=workspace, name="Higher", pitch=4)
    faster = SpeakingProfile.objects.create(workspace=workspace, name="Faster", speed=1.5)
    results = {}
    for profile in (plain, higher, faster):
        created = generate(client, django_capture_on_commit_callbacks, text=TEXT, persona_id=str(profile.pk))
        url = client.get(f"/v1/speech/{created['id']}").json()["url"]
        samples, rate = decode_to_mono(download(client, url, tmp_path, f"{profile.name}.wav"))
        results[profile.name] = (len(samples) / rate, median_pitch_hz(samples, rate))

    assert results["Higher"][1] > results["Plain"][1] * 1.15
    assert abs(results["Higher"][0] - results["Plain"][0]) < 0.1 * results["Plain"][0]
    assert results["Faster"][0] < results["Plain"][0] * 0.8


def test_mp3_on_request(client, persona, tmp_path, django_capture_on_commit_callbacks):
    created = generate(
        client, django_capture_on_commit_callbacks, text="Short one.", persona_id=str(persona.pk), format="mp3"
    )

    body = client.get(f"/v1/speech/{created['id']}").json()
    assert body["url"].endswith(".mp3")
    samples, _ = decode_to_mono(download(client, body["url"], tmp_path, "speech.mp3"))
    assert len(samples) > 0 and rms_dbfs(samples) > -40


def test_list_pages_and_filters_by_status(client, workspace, persona, django_capture_on_commit_callbacks):
    ready = generate(client, django_capture_on_commit_callbacks, text="One.", persona_id=str(persona.pk))
    MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "Two."}, status="failed", error="boom")
    MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "Three."}, status="queued")
    MediaJob.objects.create(workspace=workspace, kind="noop", params={})

    everything = client.get("/v1/speech").json()
    failed = client.get("/v1/speech", {"status": "failed"}).json()
    processing = client.get("/v1/speech", {"status": "processing", "limit": 1}).json()

    assert [item["text"] for item in everything["speech"]] == ["Three.", "Two.", "One."]
    assert everything["pagination"] == {"total": 3, "page": 1, "pages": 1}
    assert [(item["text"], item["status"]) for item in failed["speech"]] == [("Two.", "failed")]
    assert "url" not in failed["speech"][0] and failed["speech"][0]["error"] == "boom"
    assert processing["speech"][0]["status"] == "processing" and processing["pagination"]["total"] == 1
    assert everything["speech"][2]["id"] == ready["id"] and everything["speech"][2]["url"]


def test_patch_renames(client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "x"}, status="ready")

    body = client.patch(f"/v1/speech/{job.pk}", {"name": "Greeting"}, format="json").json()

    assert list(body) == ["id", "name", "status", "updated_at"]
    assert (body["id"], body["name"], body["status"]) == (str(job.pk), "Greeting", "ready")


def test_delete_removes_the_audio_file(client, persona, media_root, django_capture_on_commit_callbacks):
    created = generate(client, django_capture_on_commit_callbacks, text="Gone soon.", persona_id=str(persona.pk))
    name = MediaJob.objects.get(pk=int(created["id"])).result_file.name
    assert name in stored_files(media_root)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/v1/speech/{created['id']}").status_code == 204

    assert name not in stored_files(media_root)
    assert_vendor_error(client.get(f"/v1/speech/{created['id']}"), 404, "NotFound")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"persona_id": "1"}, "text"),
        ({"text": "Hi"}, "persona_id"),
        ({"text": "Hi", "persona_id": 999999}, "persona_id"),
        ({"text": "x" * 5001, "persona_id": "1"}, "text"),
        ({"text": "Hi", "persona_id": "1", "format": "ogg"}, "format"),
    ],
)
def test_bad_requests_are_400_and_create_nothing(client, body, field):
    response = client.post("/v1/speech", body, format="json")

    assert_vendor_error(response, 400, "ValidationError", f"{field}:")
    assert not MediaJob.objects.exists()


def test_another_workspaces_persona_cannot_be_used(client, other_workspace):
    theirs = SpeakingProfile.objects.create(workspace=other_workspace, name="Theirs")

    for persona_id in (str(theirs.pk), "999999", "abc"):
        response = client.post("/v1/speech", {"text": "Hi", "persona_id": persona_id}, format="json")
        assert_vendor_error(response, 404, "NotFound", f"persona_id: no persona with id {persona_id!r}.")
    assert not MediaJob.objects.exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_workspaces_speech_is_404(other_client, workspace, method):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "x"}, status="ready")

    response = getattr(other_client, method)(f"/v1/speech/{job.pk}", {"name": "x"}, format="json")

    assert_vendor_error(response, 404, "NotFound")
    assert MediaJob.objects.filter(pk=job.pk).exists()


def test_a_job_of_another_kind_is_not_speech(client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="noop", params={})

    assert_vendor_error(client.get(f"/v1/speech/{job.pk}"), 404, "NotFound")


def test_audio_is_a_real_wav_not_canned(client, persona, tmp_path, django_capture_on_commit_callbacks):
    first = generate(client, django_capture_on_commit_callbacks, text="One two three.", persona_id=str(persona.pk))
    second = generate(
        client,
        django_capture_on_commit_callbacks,
        text="A much longer sentence with many more words in it.",
        persona_id=str(persona.pk),
    )

    durations = []
    for created in (first, second):
        url = client.get(f"/v1/speech/{created['id']}").json()["url"]
        with wave.open(io.BytesIO(b"".join(client.get(url).streaming_content))) as audio:
            durations.append(audio.getnframes() / audio.getframerate())
    assert durations[1] > durations[0] * 1.8


def test_a_callback_url_receives_the_signed_final_state(
    client, persona, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import json

    from media_jobs import webhooks

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.PUBLIC_BASE_URL = "https://api.example.com"
    sent = []

    class Response:
        status_code, headers, text = 204, {}, ""

        def close(self):
            pass

    def fake_post(url, *, data, headers, **kwargs):
        sent.append((url, data, headers))
        return Response()

    monkeypatch.setattr(webhooks.requests.Session, "post", lambda self, url, **kwargs: fake_post(url, **kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        created = generate(
            client, django_capture_on_commit_callbacks, text="Done.", persona_id=str(persona.pk),
            callback_url="http://127.0.0.1:9/hook",
        )  # fmt: skip

    assert len(sent) == 1
    _, body, headers = sent[0]
    assert webhooks.webhook_signature_verify(
        secret=webhooks.webhook_secret(workspace_id=persona.workspace_id), headers=headers, body=body
    )
    payload = json.loads(body)
    assert payload["type"] == "job.ready" and payload["data"]["id"] == created["id"]
    assert payload["data"]["url"].startswith("https://api.example.com/media/jobs/speech/")


def test_a_private_callback_url_is_refused(client, persona):
    response = client.post(
        "/v1/speech",
        {"text": "Hi", "persona_id": str(persona.pk), "callback_url": "http://169.254.169.254/x"},
        format="json",
    )

    assert_vendor_error(response, 400, "ValidationError", "callback_url")
    assert not MediaJob.objects.exists()
