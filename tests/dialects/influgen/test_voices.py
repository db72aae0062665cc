"""influgen voices: `/api/v1/voices` and `/api/v1/characters/{id}/voice…` (seed: influgen-characters, "Voice
endpoints"): the catalog, a character's voice and settings, cloning from URLs or uploads, preview and generate.

Speech is the local Piper voice; a clone's "speaker" is that voice 5 semitones higher, so the clone is audible.
"""

import io
import tempfile
import time
import wave
from functools import cache
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.dateparse import parse_datetime

from characters.models import Person, Voice
from media_jobs.engines.audio import decode_to_mono, median_pitch_hz
from media_jobs.engines.base import VoiceProfile
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.models import MediaJob
from media_jobs.services import job_fail
from persona_platform import fetch
from tests import factories
from tests.dialects.influgen.test_characters import SEED_CDN, FileServer
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

LOCAL_VOICE = {
    "id": "local", "name": "Joe (US English, local)", "description": "The built-in neural voice.",
    "provider": "local", "category": "premade", "status": "ready", "character_id": None, "settings": {},
    "created_at": None, "similarity": None, "pitch_shift_semitones": None, "likeness": None,
    "status_text": "The built-in voice (Piper); nobody's likeness.",
}  # fmt: skip
VOICE_FIELDS = list(LOCAL_VOICE)
# The seed's example JSON clone request, as written.
SEED_CLONE = {
    "name": "Mila Voice",
    "description": "Warm luxury wellness narrator",
    "sample_urls": ["https://cdn.example.com/audio/mila-1.mp3", "https://cdn.example.com/audio/mila-2.mp3"],
    "stability": 0.55,
    "similarity_boost": 0.8,
    "style": 0.25,
    "use_speaker_boost": True,
}
SEED_VOICE_SETTINGS = {"stability": 0.55, "similarity_boost": 0.8, "style": 0.25, "use_speaker_boost": True}
SAMPLE_TEXTS = (
    "Good afternoon, and thank you for calling. Our team is available from nine to five on weekdays.",
    "Breathe in slowly, hold it for a moment, and let your shoulders fall as you breathe out again.",
)
GENERATION_FIELDS = [
    "id", "character_id", "name", "status", "progress", "duration", "error", "created_at", "completed_at",
    "audio_url", "text", "format",
]  # fmt: skip


@cache
def sample(index: int, audio_format: str = "mp3") -> bytes:
    """A real recording of the "speaker": the local voice 5 semitones up, a few seconds long."""
    with tempfile.TemporaryDirectory(prefix="voice-sample-") as out_dir:
        speech = PiperSpeech().synthesize(
            text=SAMPLE_TEXTS[index],
            voice=VoiceProfile(pitch_semitones=5),
            out_dir=Path(out_dir),
            audio_format=audio_format,
        )
        return speech.path.read_bytes()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnframes() / audio.getframerate()


def pitch_hz(data: bytes, tmp_path) -> float:
    audio_file = tmp_path / f"audio-{len(data)}.wav"
    audio_file.write_bytes(data)
    samples, rate = decode_to_mono(audio_file)
    return median_pitch_hz(samples, rate, fmin=40.0, fmax=400.0)


@pytest.fixture(autouse=True)
def local_voices(settings):
    settings.ELEVENLABS_API_KEY = ""
    settings.ENGINES = {**settings.ENGINES, "speech": "piper"}


@pytest.fixture
def character(workspace):
    return factories.person_create(workspace=workspace, name="Mila Hart")


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def seed_cdn(file_server, settings, monkeypatch):
    """The seed's CDN played by the local server (see test_characters.seed_cdn), serving the two samples."""
    settings.FETCH_ALLOW_PRIVATE_URLS = True
    real = fetch.fetch_url
    monkeypatch.setattr(
        fetch, "fetch_url", lambda url, **kwargs: real(url.replace(SEED_CDN, file_server.base, 1), **kwargs)
    )
    for index in range(2):
        file_server.put(f"/audio/mila-{index + 1}.mp3", sample(index), content_type="audio/mpeg")
    return file_server


def path(person, route: str = "voice") -> str:
    return f"/api/v1/characters/{person.character_id}/{route}"


def preview(client, person, **body):
    return client.post(path(person, "voice/preview"), body, format="json")


# --- the catalog and a character's voice ----------------------------------------------------------


def test_voices_lists_the_local_voice_then_the_workspaces_clones(api_client, workspace, other_workspace, character):
    mine = factories.voice_create(person=character, provider=Voice.Provider.LOCAL, voice_id="local_1")
    library = Voice.objects.create(workspace=workspace, name="Library", provider="local", provider_voice_id="")
    factories.voice_create(person=factories.person_create(workspace=other_workspace, with_photo=False))

    response = api_client.get("/api/v1/voices")

    assert response.status_code == 200
    voices = response.json()["voices"]
    assert list(response.json()) == ["voices"]
    assert voices[0] == LOCAL_VOICE
    assert sorted((v["id"], v["name"], v["status"], v["character_id"]) for v in voices[1:]) == sorted(
        [
            (str(mine.pk), "Mila Hart's voice", "ready", character.character_id),
            (str(library.pk), "Library", "processing", None),
        ]
    )
    assert all(list(v) == VOICE_FIELDS and v["category"] == "cloned" for v in voices[1:])


def test_a_character_without_a_voice_speaks_with_the_local_one(api_client, character):
    response = api_client.get(path(character))

    assert response.status_code == 200
    assert response.json() == {"voice": LOCAL_VOICE, "settings": {}, "voice_clone": None}


def test_a_characters_voice_is_its_clone(api_client, character):
    voice = factories.voice_create(person=character, provider=Voice.Provider.LOCAL, voice_id="local_9")

    body = api_client.get(f"/api/v1/influencers/{character.character_id}/voice").json()

    assert body["voice"]["id"] == str(voice.pk) and body["voice"]["category"] == "cloned"
    assert parse_datetime(body["voice"]["created_at"]) == voice.created_at


# --- settings -------------------------------------------------------------------------------------


def test_voice_settings_take_the_seeds_fields_and_keep_the_others(api_client, character):
    assert api_client.get(path(character, "voice/settings")).json() == {"settings": {}}

    first = api_client.put(path(character, "voice/settings"), SEED_VOICE_SETTINGS, format="json")
    second = api_client.put(path(character, "voice/settings"), {"speed": 1.25, "pitch": -2}, format="json")

    assert first.status_code == second.status_code == 200, second.content
    assert first.json() == {"settings": SEED_VOICE_SETTINGS}
    expected = {**SEED_VOICE_SETTINGS, "speed": 1.25, "pitch": -2.0}
    assert second.json() == {"settings": expected}
    assert api_client.get(path(character, "voice/settings")).json() == {"settings": expected}
    assert api_client.get(path(character)).json()["settings"] == expected
    character.refresh_from_db()
    assert character.voice_settings == expected


BAD_SETTINGS = [
    ({"stability": 1.5}, "stability:"),
    ({"stability": -0.1}, "stability:"),
    ({"similarity_boost": 2}, "similarity_boost:"),
    ({"style": "loud"}, "style:"),
    ({"use_speaker_boost": "perhaps"}, "use_speaker_boost:"),
    ({"speed": 3}, "speed:"),
    ({"speed": 0.4}, "speed:"),
    ({"pitch": 13}, "pitch:"),
    ({"pitch": -12.5}, "pitch:"),
    ({"speed": 1.0, "pitch": 13}, "pitch:"),
]


def test_voice_settings_out_of_range_are_422_and_change_nothing(api_client, character):
    api_client.put(path(character, "voice/settings"), {"speed": 1.1}, format="json")

    for body, message in BAD_SETTINGS:
        response = api_client.put(path(character, "voice/settings"), body, format="json")
        assert_vendor_error(response, 422, "ValidationError", message)

    assert api_client.get(path(character, "voice/settings")).json() == {"settings": {"speed": 1.1}}


def test_the_demo_persons_voice_settings_are_read_only(api_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    response = api_client.put(path(demo, "voice/settings"), {"speed": 1.5}, format="json")

    assert_vendor_error(response, 403, "Forbidden", "demo person")
    demo.refresh_from_db()
    assert demo.voice_settings == {}


# --- preview --------------------------------------------------------------------------------------


def test_a_preview_is_a_few_seconds_of_wav_at_once(api_client, character):
    preview(api_client, character)  # the voice model loads once per process
    started = time.monotonic()

    response = preview(api_client, character)

    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response.content[:4] == b"RIFF" and response.content[8:12] == b"WAVE"
    seconds = wav_seconds(response.content)
    assert 1.0 <= seconds <= 6.0
    assert float(response["X-Audio-Duration"]) == pytest.approx(seconds, abs=0.01)
    assert elapsed < 5, elapsed
    assert not MediaJob.objects.exists()  # no job: the answer is the audio


def test_voice_settings_change_the_preview(api_client, character):
    text = "The quick brown fox jumps over the lazy dog, twice."
    normal = wav_seconds(preview(api_client, character, text=text).content)
    api_client.put(path(character, "voice/settings"), {"speed": 1.5}, format="json")

    fast = wav_seconds(preview(api_client, character, text=text).content)

    assert fast < normal * 0.8, (fast, normal)


def test_a_preview_text_is_at_most_200_characters(api_client, character):
    assert_vendor_error(preview(api_client, character, text="x" * 201), 422, "ValidationError", "text:")
    assert preview(api_client, character, text="Hello there.").status_code == 200


# --- clone ----------------------------------------------------------------------------------------


def test_the_seed_clone_request_gives_the_character_the_voice(
    api_client, workspace, character, seed_cdn, media_root, tmp_path, django_capture_on_commit_callbacks
):
    before = pitch_hz(preview(api_client, character).content, tmp_path)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(path(character, "voice-clone"), SEED_CLONE, format="json")

    assert response.status_code == 202, response.content
    voice = Voice.objects.get()
    assert response.json() == {
        "voice": {
            "id": str(voice.pk), "name": "Mila Voice", "description": "Warm luxury wellness narrator",
            "provider": "local", "category": "cloned", "status": "processing",
            "character_id": character.character_id, "settings": SEED_VOICE_SETTINGS,
            "created_at": response.json()["voice"]["created_at"], "similarity": None,
            "pitch_shift_semitones": None, "likeness": None, "status_text": "Being measured from its samples.",
        },
        "settings": {},
    }  # fmt: skip
    assert seed_cdn.requested == ["/audio/mila-1.mp3", "/audio/mila-2.mp3"]
    job = MediaJob.objects.get(kind="voice_clone")
    assert job.status == "ready", job.error
    assert not (media_root / "voice-samples").exists() or not any((media_root / "voice-samples").iterdir())

    shown = api_client.get(path(character)).json()
    assert shown["voice"]["id"] == str(voice.pk) and shown["voice_clone"] is None
    assert (shown["voice"]["status"], shown["voice"]["provider"]) == ("ready", "local")
    assert [v["id"] for v in api_client.get("/api/v1/voices").json()["voices"]] == ["local", str(voice.pk)]
    after = pitch_hz(preview(api_client, character).content, tmp_path)
    assert after > before * 1.15, (before, after)  # the sample's higher voice, about 5 semitones up


@pytest.mark.parametrize(("field", "count"), [("sample", 1), ("samples", 2)])
def test_a_multipart_clone_takes_sample_or_samples(api_client, character, field, count):
    uploads = [SimpleUploadedFile(f"take-{n}.wav", sample(n, "wav"), "audio/wav") for n in range(count)]
    body = {"name": "Mila Voice", field: uploads if count > 1 else uploads[0], "stability": "0.4"}

    response = api_client.post(path(character, "voice-clone"), body, format="multipart")

    assert response.status_code == 202, response.content
    assert response.json()["voice"]["status"] == "processing"
    assert response.json()["voice"]["settings"]["stability"] == 0.4
    job = MediaJob.objects.get(kind="voice_clone")
    assert (job.status, len(job.params["sample_files"]), job.person_id) == ("queued", count, character.pk)


def test_the_characters_voice_shows_a_clone_in_progress_until_it_is_ready(
    api_client, character, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("take.wav", sample(0, "wav"), "audio/wav")
    with django_capture_on_commit_callbacks() as queued:  # the job is queued, not yet run
        response = api_client.post(
            path(character, "voice-clone"), {"name": "Mila Voice", "sample": upload}, format="multipart"
        )
    assert response.status_code == 202, response.content
    voice, job = Voice.objects.get(), MediaJob.objects.get(kind="voice_clone")

    shown = api_client.get(path(character)).json()

    assert shown["voice"] == LOCAL_VOICE  # the character speaks as before until the clone is ready
    assert shown["voice_clone"] == {
        "job_id": str(job.pk), "voice_id": str(voice.pk), "name": "Mila Voice", "status": "queued",
        "progress": 0, "error": None, "created_at": shown["voice_clone"]["created_at"],
    }  # fmt: skip
    assert parse_datetime(shown["voice_clone"]["created_at"]) == job.created_at
    MediaJob.objects.filter(pk=job.pk).update(status="processing", progress=40)
    assert api_client.get(path(character)).json()["voice_clone"]["status"] == "processing"
    assert api_client.get(path(character)).json()["voice_clone"]["progress"] == 40

    # The job runs: the clone is the character's voice, and nothing is in progress any more.
    MediaJob.objects.filter(pk=job.pk).update(status="queued", progress=0)
    for run in queued:
        run()
    job.refresh_from_db()
    assert job.status == "ready", job.error
    ready = api_client.get(f"/api/v1/influencers/{character.character_id}/voice").json()
    assert (ready["voice"]["id"], ready["voice"]["status"], ready["voice_clone"]) == (str(voice.pk), "ready", None)


def test_a_failed_clone_is_shown_with_its_error(api_client, character):
    upload = SimpleUploadedFile("take.wav", sample(0, "wav"), "audio/wav")
    api_client.post(path(character, "voice-clone"), {"name": "Mila Voice", "sample": upload}, format="multipart")
    job = MediaJob.objects.get(kind="voice_clone")
    job_fail(job_id=job.pk, error="The samples hold no speech.")
    Voice.objects.all().delete()  # a failed clone's voice is discarded

    shown = api_client.get(path(character)).json()

    assert shown["voice"] == LOCAL_VOICE
    assert {key: shown["voice_clone"][key] for key in ("job_id", "voice_id", "status", "error")} == {
        "job_id": str(job.pk), "voice_id": None, "status": "failed", "error": "The samples hold no speech.",
    }  # fmt: skip


def test_a_multipart_clone_stores_only_the_settings_sent(api_client, character):
    upload = SimpleUploadedFile("take.wav", sample(0, "wav"), "audio/wav")

    response = api_client.post(
        path(character, "voice-clone"), {"name": "Mila Voice", "sample": upload, "stability": "0.4"}, format="multipart"
    )

    assert response.status_code == 202, response.content
    assert Voice.objects.get().settings == {"stability": 0.4}


REFUSED_CLONES = [
    ({"name": "Mila Voice"}, "sample_urls:"),
    ({"sample_urls": ["https://cdn.example.com/a.mp3"]}, "name:"),
    ({"name": "Mila Voice", "sample_urls": ["not a url"]}, "sample_urls"),
    ({"name": "Mila Voice", "sample_urls": ["https://cdn.example.com/a.mp3"], "stability": 2}, "stability:"),
]


def test_refused_clone_requests_create_nothing(api_client, character, media_root):
    before = stored_files(media_root)

    for body, message in REFUSED_CLONES:
        response = api_client.post(path(character, "voice-clone"), body, format="json")
        assert_vendor_error(response, 422, "ValidationError", message)

    assert not Voice.objects.exists() and not MediaJob.objects.exists()
    assert stored_files(media_root) == before


@pytest.mark.parametrize("template", ["http://127.0.0.1:{port}/a.mp3", "http://10.0.0.1/a.mp3", "http://[::1]/a.mp3"])
def test_a_private_sample_url_is_refused(api_client, character, file_server, settings, media_root, template):
    settings.FETCH_ALLOW_PRIVATE_URLS = False
    file_server.put("/a.mp3", sample(0), content_type="audio/mpeg")
    url = template.format(port=file_server.port)
    before = stored_files(media_root)

    response = api_client.post(
        path(character, "voice-clone"), {"name": "Mila Voice", "sample_urls": [url]}, format="json"
    )

    assert_vendor_error(response, 422, "ValidationError", f"sample_urls[0]: {url} resolves to a private address")
    assert file_server.requested == []
    assert not Voice.objects.exists() and not MediaJob.objects.exists()
    assert stored_files(media_root) == before


def test_a_sample_url_that_is_not_audio_is_refused(api_client, character, file_server, settings):
    settings.FETCH_ALLOW_PRIVATE_URLS = True
    url = file_server.put("/a.mp3", b"<html>nope</html>" * 20, content_type="audio/mpeg")

    response = api_client.post(
        path(character, "voice-clone"), {"name": "Mila Voice", "sample_urls": [url]}, format="json"
    )

    assert_vendor_error(response, 400, "InvalidMedia", "sample 1: cannot be decoded as audio")
    assert not Voice.objects.exists() and not MediaJob.objects.exists()


# --- generate -------------------------------------------------------------------------------------


def test_generate_is_a_speech_job_that_ends_with_audio(api_client, character, django_capture_on_commit_callbacks):
    api_client.put(path(character, "voice/settings"), {"speed": 1.2}, format="json")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            path(character, "voice/generate"), {"text": "Welcome back to the studio.", "name": "Intro"}, format="json"
        )

    assert response.status_code == 202, response.content
    assert list(response.json()) == ["generation"]
    created = response.json()["generation"]
    assert list(created) == GENERATION_FIELDS
    assert {key: created[key] for key in ("character_id", "name", "status", "audio_url", "text", "format")} == {
        "character_id": character.character_id, "name": "Intro", "status": "queued", "audio_url": None,
        "text": "Welcome back to the studio.", "format": "wav",
    }  # fmt: skip

    detail = api_client.get(path(character, f"voice/generations/{created['id']}"))
    listed = api_client.get(path(character, "voice/generations")).json()

    generation = detail.json()["generation"]
    assert (generation["status"], generation["progress"], generation["error"]) == ("ready", 100, None)
    assert generation["audio_url"].startswith("http://testserver/media/jobs/speech/")
    audio = api_client.get(generation["audio_url"])
    data = b"".join(audio.streaming_content)
    assert data[:4] == b"RIFF"
    assert wav_seconds(data) == pytest.approx(generation["duration"], abs=0.05)
    assert listed["generations"] == [generation] and listed["pagination"]["total"] == 1
    job = MediaJob.objects.get()
    assert (job.kind, job.person_id, job.params["person_voice"]) == ("speech", character.pk, True)


def test_generate_refuses_blank_text(api_client, character):
    for body in ({}, {"text": ""}, {"text": "   "}, {"text": "Hi", "format": "ogg"}):
        response = api_client.post(path(character, "voice/generate"), body, format="json")
        assert_vendor_error(response, 422, "ValidationError")
    assert not MediaJob.objects.exists()


def test_a_generation_is_found_only_under_its_character(api_client, workspace, character):
    other = factories.person_create(workspace=workspace, with_photo=False)
    job = MediaJob.objects.create(workspace=workspace, person=character, kind="speech", params={"text": "Hi"})
    talking = MediaJob.objects.create(workspace=workspace, person=character, kind="talking_head", params={})

    assert api_client.get(path(character, f"voice/generations/{job.pk}")).status_code == 200
    assert_vendor_error(api_client.get(path(other, f"voice/generations/{job.pk}")), 404, "NotFound")
    assert_vendor_error(api_client.get(path(character, f"voice/generations/{talking.pk}")), 404, "NotFound")


# --- tenancy --------------------------------------------------------------------------------------

VOICE_ROUTES = [
    ("get", "voice", None),
    ("get", "voice/settings", None),
    ("put", "voice/settings", {"speed": 2}),
    ("post", "voice-clone", {"name": "Stolen", "sample_urls": ["https://cdn.example.com/a.mp3"]}),
    ("post", "voice/preview", {"text": "Hi"}),
    ("post", "voice/generate", {"text": "Hi"}),
    ("get", "voice/generations", None),
    ("get", "voice/generations/{job}", None),
]


def test_another_workspace_gets_404_on_every_voice_route(other_client, character, media_root):
    voice = factories.voice_create(person=character, provider=Voice.Provider.LOCAL, voice_id="local_1")
    job = MediaJob.objects.create(workspace=character.workspace, person=character, kind="speech", params={})
    before = stored_files(media_root)

    for method, route, body in VOICE_ROUTES:
        response = getattr(other_client, method)(path(character, route.format(job=job.pk)), body, format="json")
        assert_vendor_error(response, 404, "NotFound", character.character_id)

    assert [v["id"] for v in other_client.get("/api/v1/voices").json()["voices"]] == ["local"]
    character.refresh_from_db()
    assert (character.voice_settings, character.voice_id) == ({}, voice.pk)
    assert list(Voice.objects.all()) == [voice] and list(MediaJob.objects.all()) == [job]
    assert stored_files(media_root) == before
