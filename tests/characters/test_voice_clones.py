"""Local voice clones end to end: the service, the real job (Piper + Resemblyzer), the voice it makes.

The "speaker" is Piper's own voice 5 semitones higher, uploaded as an MP3, so we know what the clone
must sound like. Celery runs eagerly in tests: the job runs when the creating transaction commits.
"""

import numpy as np
import pytest

from characters.models import Voice
from characters.services.voice_clones import voice_clone_start, voice_samples_delete
from characters.services.voices import clone_likeness, speaking_profile_create, voice_profile_for_speech
from media_jobs.engines.audio import decode_to_mono, median_pitch_hz
from media_jobs.engines.base import VoiceProfile
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.models import MediaJob
from persona_platform.errors import InvalidInput, InvalidMedia, MediaTooLarge
from tests import factories
from tests.helpers import replace_runner, wav_bytes

SAMPLE_TEXT = (
    "Good afternoon, and thank you for calling. Our team is available from nine to five on weekdays, "
    "and we will answer your question as soon as we can."
)
SPOKEN_TEXT = "Thank you for waiting. Your order left our warehouse this morning and should arrive on Monday."
PITCH_RANGE = {"fmin": 40.0, "fmax": 400.0}


def pitch_of(path) -> float:
    samples, rate = decode_to_mono(path)
    return median_pitch_hz(samples, rate, **PITCH_RANGE)


@pytest.fixture(scope="module")
def speaker(tmp_path_factory):
    """(path, bytes) of the sample: the local voice 5 semitones up, as an MP3."""
    out_dir = tmp_path_factory.mktemp("clone_sample")
    speech = PiperSpeech().synthesize(
        text=SAMPLE_TEXT, voice=VoiceProfile(pitch_semitones=5), out_dir=out_dir, audio_format="mp3"
    )
    return speech.path, speech.path.read_bytes()


@pytest.fixture
def person(workspace):
    return factories.person_create(workspace=workspace, with_photo=False)


def stored_samples(media_root) -> list:
    folder = media_root / "voice-samples"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_clone_job_measures_the_samples_and_gives_the_person_the_voice(
    workspace, person, speaker, api_client, media_root, django_capture_on_commit_callbacks
):
    path, data = speaker
    with django_capture_on_commit_callbacks(execute=True):
        voice, job = voice_clone_start(workspace=workspace, name="Higher Joe", samples=[data], person=person)
        assert person.voice_id is None  # not before the job has succeeded
        assert len(stored_samples(media_root)) == 1
    job.refresh_from_db()
    assert job.status == MediaJob.Status.READY, job.error
    assert job.kind == "voice_clone"
    assert job.person_id == person.pk
    assert job.params["voice_id"] == voice.pk

    voice.refresh_from_db()
    person.refresh_from_db()
    assert person.voice_id == voice.pk
    assert voice.provider == Voice.Provider.LOCAL
    assert voice.provider_voice_id == f"local_{voice.pk}"
    measured = voice.measurements
    assert len(measured["embedding"]) == 256
    assert np.linalg.norm(measured["embedding"]) == pytest.approx(1.0, abs=0.01)
    assert measured["median_pitch_hz"] == pytest.approx(pitch_of(path), rel=0.08)
    assert measured["pitch_semitones"] == pytest.approx(5, abs=1.5)
    assert 0.7 <= measured["speed_factor"] <= 1.3  # a pitch shift keeps the tempo
    assert measured["sample_count"] == 1
    assert 6 <= measured["total_seconds"] <= 12
    assert 70 <= measured["base_median_pitch_hz"] <= 110
    # the fitted local voice sounds far more like the sample than the unfitted one
    assert measured["similarity"] > 0.8
    assert measured["similarity"] > measured["base_similarity"] + 0.1

    assert "embedding" not in job.result
    assert job.result["provider_voice_id"] == f"local_{voice.pk}"
    assert job.result["pitch_semitones"] == measured["pitch_semitones"]
    assert job.result_file.name == ""
    assert stored_samples(media_root) == []  # the recordings are not kept

    response = api_client.get(f"/api/v1/persons/{person.pk}")
    assert response.status_code == 200
    body = response.json()
    listed = {v["id"]: v for v in api_client.get("/api/v1/voices").json()["voices"]}
    shown = listed[str(voice.pk)]
    assert (shown["similarity"], shown["pitch_shift_semitones"]) == (
        measured["similarity"],
        measured["pitch_semitones"],
    )
    assert shown["likeness"] is True
    assert listed["local"]["similarity"] is None and listed["local"]["likeness"] is None
    assert body["has_voice"] is True
    assert body["voice_provider"] == "local"
    assert body["voice_id"] == f"local_{voice.pk}"

    # Speech through the person's profile now comes out at the sample's pitch.
    profile = speaking_profile_create(workspace=workspace, name="Default", person=person)
    engine, voice_profile = voice_profile_for_speech(workspace_id=workspace.pk, profile_id=profile.pk)
    assert engine == "piper"
    assert voice_profile.pitch_semitones == pytest.approx(measured["pitch_semitones"])
    speech = PiperSpeech().synthesize(text=SPOKEN_TEXT, voice=voice_profile, out_dir=media_root / "spoken")
    assert pitch_of(speech.path) == pytest.approx(pitch_of(path), rel=0.10)


def test_a_library_clone_has_no_person(workspace, speaker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        voice, job = voice_clone_start(workspace=workspace, name="Library", samples=[speaker[1], speaker[1]])
    job.refresh_from_db()
    voice.refresh_from_db()
    assert job.status == MediaJob.Status.READY, job.error
    assert voice.person_id is None
    assert voice.measurements["sample_count"] == 2


def too_many(speaker):
    return [speaker[1]] * 11


@pytest.mark.parametrize(
    ("samples", "error", "message"),
    [
        (lambda s: [], InvalidInput, "give 1 to 10 recordings"),
        (too_many, InvalidInput, "give 1 to 10 recordings"),
        (lambda s: [b"<html>not audio</html>" * 20], InvalidMedia, "sample 1: cannot be decoded as audio"),
        (lambda s: [b""], InvalidMedia, r"samples\[0\]: is empty"),
        (lambda s: [s[1], wav_bytes(np.sin(np.arange(8000) / 10) * 0.3)], InvalidMedia, "sample 2: is 0.5 s long"),
        (lambda s: [wav_bytes(np.zeros(48000))], InvalidMedia, "sample 1: is silent"),
    ],
    ids=["none", "eleven", "not-audio", "empty", "half-a-second", "silent"],
)
def test_bad_samples_are_refused_and_leave_nothing(
    workspace, person, speaker, media_root, django_capture_on_commit_callbacks, samples, error, message
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(error, match=message):
        voice_clone_start(workspace=workspace, name="Bad", samples=samples(speaker), person=person)
    assert not Voice.objects.exists()
    assert not MediaJob.objects.exists()
    assert stored_samples(media_root) == []
    person.refresh_from_db()
    assert person.voice_id is None


def test_a_sample_over_the_size_limit_is_refused(workspace, speaker, settings, media_root):
    settings.MAX_MEDIA_BYTES = len(speaker[1]) - 1
    with pytest.raises(MediaTooLarge, match=r"samples\[0\]"):
        voice_clone_start(workspace=workspace, name="Big", samples=[speaker[1]])
    assert not Voice.objects.exists()
    assert stored_samples(media_root) == []


def test_a_person_of_another_workspace_is_refused(workspace, other_workspace, speaker, media_root):
    stranger = factories.person_create(workspace=other_workspace, with_photo=False)
    with pytest.raises(InvalidInput, match="person"):
        voice_clone_start(workspace=workspace, name="Theirs", samples=[speaker[1]], person=stranger)
    assert not Voice.objects.exists()
    assert stored_samples(media_root) == []


def test_a_failing_job_removes_the_unmeasured_voice_and_the_samples(
    workspace, person, speaker, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        voice, job = voice_clone_start(
            workspace=workspace, name="Lost", samples=[speaker[1], speaker[1]], person=person
        )
    first, second = stored_samples(media_root)
    first.unlink()  # storage lost a file before the job ran
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.status == MediaJob.Status.FAILED
    assert "no longer stored" in job.error
    assert not Voice.objects.filter(pk=voice.pk).exists()
    assert stored_samples(media_root) == []
    person.refresh_from_db()
    assert person.voice_id is None


def test_deleting_a_voice_before_its_job_ran_deletes_its_samples(
    workspace, speaker, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:  # the job is never sent
        voice, job = voice_clone_start(workspace=workspace, name="Gone", samples=[speaker[1]])
    assert len(callbacks) == 1
    assert len(stored_samples(media_root)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        voice_samples_delete(voice=voice)
        voice.delete()
    assert stored_samples(media_root) == []
    # and a job that runs after its voice is gone fails without making anything
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.status == MediaJob.Status.FAILED
    assert "deleted" in job.error


def test_with_an_elevenlabs_key_the_clone_is_made_by_the_provider_and_speaks_through_it(
    workspace, person, speaker, api_client, settings, media_root, tmp_path, django_capture_on_commit_callbacks
):
    from tests.engines.elevenlabs_server import ElevenLabsServer

    with ElevenLabsServer(api_key="key-123") as server:
        settings.ELEVENLABS_BASE_URL, settings.ELEVENLABS_API_KEY = server.url, "key-123"
        with django_capture_on_commit_callbacks(execute=True):
            voice, job = voice_clone_start(workspace=workspace, name="Cloud", samples=[speaker[1]], person=person)
        job.refresh_from_db()
        voice.refresh_from_db()
        assert job.status == "ready", job.error
        assert voice.provider == "elevenlabs" and voice.provider_voice_id == job.result["provider_voice_id"]
        uploads = [request for request in server.requests if request.path == "/v1/voices/add"]
        assert len(uploads) == 1 and uploads[0].fields["name"] == "Cloud" and len(uploads[0].files) == 1
        assert stored_samples(media_root) == []  # the recordings are not kept

        body = api_client.get(f"/api/v1/persons/{person.pk}").json()
        assert (body["has_voice"], body["voice_provider"], body["voice_id"]) == (
            True,
            "elevenlabs",
            voice.provider_voice_id,
        )

        profile = speaking_profile_create(workspace=workspace, name="Cloud persona", person=person)
        engine_name, voice_profile = voice_profile_for_speech(workspace_id=workspace.pk, profile_id=profile.pk)
        assert (engine_name, voice_profile.voice_id) == ("elevenlabs", voice.provider_voice_id)


def test_staff_clone_a_voice_in_the_admin(client, workspace, person, speaker, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from accounts.models import User

    client.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    url = reverse("admin:characters_voice_add")
    refused = client.post(url, {"workspace": workspace.pk, "person": person.pk, "name": "Bad", "samples": [
        SimpleUploadedFile("bad.wav", b"not audio at all")]})  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(url, {"workspace": workspace.pk, "person": person.pk, "name": "Admin clone", "samples": [
            SimpleUploadedFile("sample.mp3", speaker[1])]})  # fmt: skip

    assert refused.status_code == 200 and b"cannot be decoded as audio" in refused.content
    assert added.status_code == 302
    voice = Voice.objects.get(name="Admin clone")
    person.refresh_from_db()
    assert voice.provider_voice_id == f"local_{voice.pk}" and person.voice == voice


@pytest.mark.parametrize("ending", ["retries run out", "canceled while queued", "the sweep gives up"])
def test_a_clone_that_ends_without_running_to_its_end_leaves_nothing(
    workspace, person, speaker, media_root, monkeypatch, settings, django_capture_on_commit_callbacks, ending
):
    from datetime import timedelta

    from django.utils import timezone

    from media_jobs import services
    from media_jobs.engines.base import EngineError

    if ending == "retries run out":

        def always_busy(**kwargs):
            raise EngineError("storage busy", retryable=True)

        replace_runner(monkeypatch, "voice_clone", always_busy)
        with django_capture_on_commit_callbacks(execute=True):
            voice, job = voice_clone_start(workspace=workspace, name="Busy", samples=[speaker[1]], person=person)
    else:
        with django_capture_on_commit_callbacks(execute=False):
            voice, job = voice_clone_start(workspace=workspace, name="Stopped", samples=[speaker[1]], person=person)
        assert len(stored_samples(media_root)) == 1
        with django_capture_on_commit_callbacks(execute=True):
            if ending == "canceled while queued":
                services.job_cancel(job=job)
            else:
                MediaJob.objects.filter(pk=job.pk).update(
                    status="processing", attempts=services.MAX_ATTEMPTS,
                    started_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120),
                )  # fmt: skip
                assert services.jobs_reap_stale()["failed"] == 1

    job.refresh_from_db()
    assert job.status in {"failed", "canceled"}
    assert not Voice.objects.filter(pk=voice.pk).exists()
    assert stored_samples(media_root) == []
    person.refresh_from_db()
    assert person.voice_id is None


@pytest.mark.parametrize(
    ("similarity", "base", "likeness"),
    [(0.86, 0.62, True), (0.613, 0.610, False), (0.561, 0.493, False)],  # the last two: the measures
)
def test_a_clone_no_closer_than_the_built_in_voice_is_called_an_approximation(workspace, similarity, base, likeness):
    voice = Voice.objects.create(
        workspace=workspace, name="Clone", provider=Voice.Provider.LOCAL, provider_voice_id="local_x",
        measurements={"similarity": similarity, "base_similarity": base, "pitch_semitones": 7.5},
    )  # fmt: skip
    report = clone_likeness(voice)
    assert (report.similarity, report.pitch_shift_semitones, report.is_likeness) == (similarity, 7.5, likeness)
    if likeness:
        assert report.status_text.startswith("A local clone: similarity 0.86")
    else:
        assert report.status_text.startswith("An approximation, not a likeness:")
        assert "ELEVENLABS_API_KEY" in report.status_text
