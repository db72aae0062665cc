"""Phoneme timings on the speech resources: `?include=timings` on TwinTone `GET /v1/speech/{id}` and influgen
`GET /api/v1/characters/{id}/voice/generations/{generationId}`. Speech is generated for real (Celery eager,
the local Piper voice), so the timings are the engine's own alignments."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from characters.models import SpeakingProfile
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db

TEXT = "Hello there, welcome back."


@pytest.fixture(autouse=True)
def local_voices(settings):
    settings.ELEVENLABS_API_KEY = ""
    settings.ENGINES = {**settings.ENGINES, "speech": "piper"}


@pytest.fixture
def client(raw_key):
    return APIClient(HTTP_X_API_KEY=raw_key)


def assert_the_stored_timings(timings: list, job: MediaJob) -> None:
    """Exactly what the job stored, as objects; in order, within the audio."""
    stored = job.result["phonemes"]
    assert len(stored) > 10
    assert timings == [{"phoneme": phoneme, "start": start, "end": end} for phoneme, start, end in stored]
    assert all(isinstance(item["phoneme"], str) and item["phoneme"] for item in timings)
    assert all(0 <= item["start"] <= item["end"] for item in timings)
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(timings, timings[1:], strict=False))
    assert timings[-1]["end"] <= job.result["duration"] + 0.05


def twintone_speech(client, workspace, capture) -> MediaJob:
    persona = SpeakingProfile.objects.create(workspace=workspace, name="Narrator")
    with capture(execute=True):
        response = client.post("/v1/speech", {"text": TEXT, "persona_id": str(persona.pk)}, format="json")
    assert response.status_code == 201, response.content
    return MediaJob.objects.get(pk=int(response.json()["id"]))


def test_twintone_speech_has_timings_only_when_asked(client, workspace, django_capture_on_commit_callbacks):
    job = twintone_speech(client, workspace, django_capture_on_commit_callbacks)

    plain = client.get(f"/v1/speech/{job.pk}")
    with_timings = client.get(f"/v1/speech/{job.pk}", {"include": "timings"})

    assert list(plain.json()) == ["id", "text", "status", "url", "created_at"]
    assert with_timings.status_code == 200
    body = with_timings.json()
    assert list(body) == ["id", "text", "status", "url", "created_at", "timings"]
    assert {key: body[key] for key in plain.json()} == plain.json()
    assert_the_stored_timings(body["timings"], job)
    listed = client.get("/v1/speech", {"include": "timings"}).json()["speech"]
    assert [list(item) for item in listed] == [list(plain.json())]  # the list stays in the vendor's shape


def test_twintone_timings_are_empty_until_ready(client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "Hi"}, status="processing")

    body = client.get(f"/v1/speech/{job.pk}?include=timings").json()

    assert (body["status"], body["timings"]) == ("processing", [])


@pytest.mark.parametrize("value", ["phonemes", "", "timings,words", "TIMINGS"])
def test_twintone_refuses_an_unknown_include(client, workspace, value):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", params={"text": "Hi"}, status="ready")

    assert_vendor_error(client.get(f"/v1/speech/{job.pk}", {"include": value}), 400, "ValidationError", "include")


def test_another_workspaces_speech_is_404_with_include_too(client, other_workspace):
    job = MediaJob.objects.create(workspace=other_workspace, kind="speech", params={"text": "Hi"}, status="ready")

    assert_vendor_error(client.get(f"/v1/speech/{job.pk}?include=timings"), 404, "NotFound")


def test_influgen_voice_generation_has_timings_only_when_asked(
    api_client, workspace, django_capture_on_commit_callbacks
):
    character = factories.person_create(workspace=workspace, name="Mila Hart")
    base = f"/api/v1/characters/{character.character_id}/voice"
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(f"{base}/generate", {"text": TEXT}, format="json")
    assert created.status_code == 202, created.content
    detail = f"{base}/generations/{created.json()['generation']['id']}"

    plain = api_client.get(detail).json()["generation"]
    response = api_client.get(detail, {"include": "timings"})

    assert "timings" not in plain and plain["status"] == "ready"
    generation = response.json()["generation"]
    assert list(generation) == [*plain, "timings"]
    assert_the_stored_timings(generation["timings"], MediaJob.objects.get(pk=int(plain["id"])))
    assert_vendor_error(api_client.get(detail, {"include": "words"}), 422, "ValidationError", "include")


def test_the_schema_documents_the_parameter_and_the_field():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = [
        schema["paths"]["/v1/speech/{speech_id}"]["get"],
        schema["paths"]["/api/v1/characters/{character_id}/voice/generations/{generation_id}"]["get"],
    ]
    for operation in operations:
        include = next(p for p in operation["parameters"] if p["name"] == "include")
        assert include["in"] == "query" and include.get("required", False) is False
        assert include["schema"]["enum"] == ["timings"]
        assert "timings" in include["description"]
    components = schema["components"]["schemas"]
    for name in ("TwinToneSpeech", "SpeechGeneration"):
        assert components[name]["properties"]["timings"]["type"] == "array"
        assert "timings" not in components[name].get("required", [])
    timing = components["PhonemeTiming"]
    assert set(timing["properties"]) == {"phoneme", "start", "end"}
    assert timing["properties"]["start"]["type"] == "number"
