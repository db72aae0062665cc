"""BHuman voices: `admin/add_voice`, `GET /persona/voice/{embed_name}` and `POST /voice/api/v2/voice/generate`.

The second document chains them: a voice's training URL is handed to voice/generate, which learns a new
voice from it. The "speaker" is the local voice 5 semitones up, so each clone's pitch can be checked.
Celery runs eagerly: a clone job runs when the request's transaction commits.
"""

import base64
import wave

import numpy as np
import pytest
from django.core.files.storage import default_storage

from characters.models import Person, Voice
from media_jobs.engines.base import VoiceProfile
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.models import MediaJob
from tests import factories
from tests.fake_http import serving
from tests.helpers import assert_bhuman_error, stored_files, wav_bytes

pytestmark = pytest.mark.django_db

ADD_URL = "/persona/api/admin/add_voice"
GENERATE_URL = "/voice/api/v2/voice/generate"
SAMPLE_TEXT = (
    "Good afternoon, and thank you for calling. Our team is available from nine to five on weekdays, "
    "and we will answer your question as soon as we can."
)
SPEAKER_SEMITONES = 5


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> bytes:
    """A real, short speech recording (WAV, about 8 s): the local voice 5 semitones higher."""
    speech = PiperSpeech().synthesize(
        text=SAMPLE_TEXT,
        voice=VoiceProfile(pitch_semitones=SPEAKER_SEMITONES),
        out_dir=tmp_path_factory.mktemp("bhuman_voice"),
    )
    return speech.path.read_bytes()


def seed_body(audio: bytes | str, **extra) -> dict:
    """bhuman-persona-a, "POST /api/admin/add_voice", with a real recording as `sample_audio`."""
    encoded = audio if isinstance(audio, str) else base64.b64encode(audio).decode()
    return {"voice_data": {"language": "en", "tone": "friendly", "pitch": "medium", "sample_audio": encoded}, **extra}


@pytest.fixture
def persona(workspace):
    return factories.person_create(workspace=workspace, name="Ada", with_photo=False)


@pytest.fixture
def api_client(api_client):
    """Requests to `localhost`, as a real client would make them; a test below checks that a training URL
    on a host without a dot (the test client's `testserver`) is accepted too."""
    api_client.defaults["SERVER_NAME"] = "localhost"
    return api_client


def ready_voice(person: Person) -> Voice:
    """A local voice as a finished clone job leaves it (no measurements: the local voice unchanged)."""
    return Voice.objects.create(
        workspace=person.workspace, person=person, name=f"{person.name}'s", provider=Voice.Provider.LOCAL,
        provider_voice_id="local_x",
    )  # fmt: skip


def add_voice(client, capture, audio: bytes, **extra) -> Voice:
    with capture(execute=True):
        response = client.post(ADD_URL, seed_body(audio, **extra), format="json")
    assert response.status_code == 201, response.content
    payload = response.json()
    assert list(payload) == ["status", "message", "voice_id"]
    assert (payload["status"], payload["message"]) == ("success", "Voice profile added successfully")
    return Voice.objects.get(pk=int(payload["voice_id"]))


def download_wav(client, url: str, tmp_path, name: str) -> tuple[bytes, float]:
    response = client.get(url)
    assert response.status_code == 200, url
    data = b"".join(response.streaming_content)
    path = tmp_path / name
    path.write_bytes(data)
    with wave.open(str(path)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    return data, seconds


def test_the_voice_chain_of_the_documents(
    api_client, workspace, persona, sample, tmp_path, django_capture_on_commit_callbacks
):
    # 1. admin/add_voice with the seed's body: a voice is cloned by a job, and the persona speaks with it.
    voice = add_voice(api_client, django_capture_on_commit_callbacks, sample)

    job = MediaJob.objects.get(kind="voice_clone", params__voice_id=voice.pk)
    assert job.status == MediaJob.Status.READY, job.error
    assert (voice.workspace, voice.person, voice.provider) == (workspace, persona, Voice.Provider.LOCAL)
    assert voice.provider_voice_id == f"local_{voice.pk}"
    assert voice.settings == {"language": "en", "tone": "friendly", "pitch": "medium"}
    assert voice.name == "Ada (friendly)"
    assert voice.measurements["pitch_semitones"] == pytest.approx(SPEAKER_SEMITONES, abs=1.5)
    persona.refresh_from_db()
    assert persona.voice_id == voice.pk

    # 2. GET /persona/voice/{voice_id}: an absolute URL of a WAV spoken in that voice, made once.
    response = api_client.get(f"/persona/voice/{voice.pk}")
    assert response.status_code == 200, response.content
    training_url = response.json()["training_url"]
    assert list(response.json()) == ["training_url"]
    assert training_url.startswith("http://localhost/media/voices/training/") and training_url.endswith(".wav")
    data, seconds = download_wav(api_client, training_url, tmp_path, "training.wav")
    assert data[:4] == b"RIFF" and 5 < seconds < 30
    assert api_client.get(f"/persona/voice/{voice.pk}").json()["training_url"] == training_url

    # 3. voice/generate with that URL (the second document's body): a new voice learned from it.
    body = {"config": None, "names": ["Ada again"], "training_urls": [training_url], "use_prosody": True}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(GENERATE_URL, body, format="json")
    assert response.status_code == 201, response.content
    payload = response.json()
    assert list(payload) == ["status", "message", "voice_id"]
    assert (payload["status"], payload["message"]) == ("success", "Voice generated successfully")
    generated = Voice.objects.get(pk=int(payload["voice_id"]))
    assert generated.pk != voice.pk
    job = MediaJob.objects.get(kind="voice_clone", params__voice_id=generated.pk)
    assert job.status == MediaJob.Status.READY, job.error
    assert (generated.person, generated.name, generated.settings) == (persona, "Ada again", {"use_prosody": True})
    # Measured from the training recording, which speaks at the first voice's pitch.
    assert generated.measurements["pitch_semitones"] == pytest.approx(voice.measurements["pitch_semitones"], abs=1.5)
    assert generated.measurements["sample_count"] == 1
    persona.refresh_from_db()
    assert persona.voice_id == generated.pk
    # The training recording is the voice's own reference: it stays for the next chain.
    voice.refresh_from_db()
    assert voice.training_audio and voice.training_audio.url in training_url


def test_instance_id_adds_the_voice_to_that_persona(api_client, workspace, persona, sample):
    other = factories.person_create(workspace=workspace, name="Grace", with_photo=False)

    response = api_client.post(ADD_URL, seed_body(sample, instance_id=str(other.pk)), format="json")

    assert response.status_code == 201, response.content
    voice = Voice.objects.get(pk=int(response.json()["voice_id"]))
    assert (voice.person, voice.name) == (other, "Grace (friendly)")
    assert MediaJob.objects.get(kind="voice_clone").person == other


def test_a_training_url_of_a_voice_still_being_made_is_409(api_client, persona, sample):
    # Without running the on-commit callbacks the clone job never runs: the voice is not measured yet.
    response = api_client.post(ADD_URL, seed_body(sample), format="json")
    assert response.status_code == 201, response.content
    voice_id = response.json()["voice_id"]

    response = api_client.get(f"/persona/voice/{voice_id}")

    assert_bhuman_error(response, 409, "still being made")
    assert not Voice.objects.get(pk=int(voice_id)).training_audio


NOT_A_RECORDING = {
    "image": (lambda: factories.image_bytes(portrait=True), "sample 1: cannot be decoded as audio."),
    "zeros": (lambda: b"\x00" * 4000, "sample 1: cannot be decoded as audio."),
    "broken-wav": (lambda: b"RIFF" + b"\x01" * 2000, "sample 1: cannot be decoded as audio."),
    "silence": (lambda: wav_bytes(np.zeros(3 * 16000)), "sample 1: is silent."),
    "half-a-second": (
        lambda: wav_bytes(0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000)),
        "sample 1: is 0.5 s long; each sample needs at least 1 s.",
    ),
}


@pytest.mark.parametrize(("make", "message"), NOT_A_RECORDING.values(), ids=NOT_A_RECORDING.keys())
def test_what_is_not_a_recording_is_400_and_nothing_is_kept(api_client, persona, media_root, make, message):
    before = stored_files(media_root)

    response = api_client.post(ADD_URL, seed_body(make()), format="json")

    assert_bhuman_error(response, 400, message)
    assert not Voice.objects.exists() and not MediaJob.objects.exists()
    assert stored_files(media_root) == before


def test_a_refused_recording_is_named_by_its_field(api_client, persona):
    response = api_client.post(ADD_URL, seed_body(b"\x00" * 4000), format="json")

    assert_bhuman_error(response, 400, "voice_data.sample_audio:")


MISSING = object()


def voice_data(**changes) -> dict:
    data = {"language": "en", "tone": "friendly", "pitch": "medium", "sample_audio": "AAAA", **changes}
    return {"voice_data": {key: value for key, value in data.items() if value is not MISSING}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "voice_data: This field is required."),
        ({"voice_data": "en"}, "voice_data:"),
        (voice_data(language=MISSING), "voice_data.language: This field is required."),
        (voice_data(tone=MISSING), "voice_data.tone: This field is required."),
        (voice_data(pitch=MISSING), "voice_data.pitch: This field is required."),
        (voice_data(sample_audio=MISSING), "voice_data.sample_audio: This field is required."),
        (voice_data(language=5), "voice_data.language:"),
        (voice_data(pitch=["medium"]), "voice_data.pitch:"),
        (voice_data(sample_audio=""), "voice_data.sample_audio:"),
        (voice_data(sample_audio="!!not base64!!"), "sample_audio:"),
        ({**voice_data(), "instance_id": 7}, "instance_id:"),
    ],
)
def test_a_body_of_the_wrong_shape_is_400_naming_the_field(api_client, persona, body, message):
    assert_bhuman_error(api_client.post(ADD_URL, body, format="json"), 400, message)
    assert not Voice.objects.exists()


def test_an_unknown_or_foreign_instance_id_is_404(api_client, other_workspace, persona, sample):
    theirs = factories.person_create(workspace=other_workspace, with_photo=False)
    for instance_id in ("999999", str(theirs.pk), "abc"):
        response = api_client.post(ADD_URL, seed_body(sample, instance_id=instance_id), format="json")
        assert_bhuman_error(response, 404, f"instance_id: no instance with id {instance_id!r}.")
    assert not Voice.objects.exists()


def test_a_new_workspace_gets_its_first_persona_with_the_voice(
    api_client, workspace, sample, django_capture_on_commit_callbacks
):
    voice = add_voice(api_client, django_capture_on_commit_callbacks, sample)

    person = Person.objects.get(workspace=workspace, is_demo=False)
    assert (person.name, voice.person, voice.workspace) == (workspace.name, person, workspace)
    person.refresh_from_db()
    assert person.voice == voice  # the clone job has run: the new persona speaks with it
    # The next voice goes to the same persona: there is one first persona, not one per call.
    second = add_voice(api_client, django_capture_on_commit_callbacks, sample)
    assert second.person == person
    assert Person.objects.filter(workspace=workspace, is_demo=False).count() == 1


def test_a_refused_recording_on_a_new_workspace_makes_no_persona(api_client, workspace):
    response = api_client.post(ADD_URL, seed_body(b"\x00" * 4000), format="json")

    assert_bhuman_error(response, 400, "voice_data.sample_audio:")
    assert not Person.objects.filter(workspace=workspace, is_demo=False).exists()


# --- voice/generate -----------------------------------------------------------------------------


@pytest.fixture
def sample_server(sample):
    """A server on 127.0.0.1 with the sample at /sample.wav (a private address, as a fetch sees it)."""
    with serving(sample, "audio/wav", "/sample.wav") as url:
        yield url


def test_a_private_training_url_is_refused_naming_the_field(api_client, persona, sample_server, settings):
    settings.FETCH_ALLOW_PRIVATE_URLS = False
    body = {"config": None, "names": [], "training_urls": [sample_server], "use_prosody": False}

    response = api_client.post(GENERATE_URL, body, format="json")

    assert_bhuman_error(response, 400, f"training_urls[0]: {sample_server} resolves to a private address")
    assert not Voice.objects.exists() and not MediaJob.objects.exists()


def test_a_fetched_training_url_is_the_clones_sample(api_client, persona, sample, sample_server, settings):
    settings.FETCH_ALLOW_PRIVATE_URLS = True  # the local server stands in for a public one

    response = api_client.post(GENERATE_URL, {"training_urls": [sample_server, sample_server]}, format="json")

    assert response.status_code == 201, response.content
    voice = Voice.objects.get(pk=int(response.json()["voice_id"]))
    assert (voice.person, voice.name, voice.settings) == (persona, "Ada (generated)", {"use_prosody": False})
    job = MediaJob.objects.get(kind="voice_clone")  # queued: its callbacks were not run
    assert job.params["voice_id"] == voice.pk and len(job.params["sample_files"]) == 2
    for name in job.params["sample_files"]:
        with default_storage.open(name, "rb") as handle:
            assert handle.read() == sample


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "training_urls: This field is required."),
        ({"training_urls": []}, "training_urls:"),
        ({"training_urls": "https://example.com/a.wav"}, "training_urls:"),
        ({"training_urls": ["not a url"]}, "training_urls"),
        ({"training_urls": ["ftp://example.com/a.wav"]}, "training_urls"),
        ({"training_urls": ["https://example.com/a.wav"], "names": "Ada"}, "names:"),
        ({"training_urls": ["https://example.com/a.wav"], "use_prosody": "maybe"}, "use_prosody:"),
        ({"training_urls": ["https://example.com/a.wav"], "instance_id": 5}, "instance_id:"),
    ],
)
def test_generate_with_a_body_of_the_wrong_shape_is_400_naming_the_field(api_client, persona, body, message):
    assert_bhuman_error(api_client.post(GENERATE_URL, body, format="json"), 400, message)
    assert not Voice.objects.exists()


# --- other workspaces ---------------------------------------------------------------------------


def test_another_workspaces_voice_and_training_url_stay_theirs(
    api_client, other_client, other_workspace, workspace, persona, settings
):
    settings.FETCH_ALLOW_PRIVATE_URLS = False
    other_client.defaults["SERVER_NAME"] = "localhost"
    their_voice = ready_voice(factories.person_create(workspace=other_workspace, name="Bob", with_photo=False))
    their_url = other_client.get(f"/persona/voice/{their_voice.pk}").json()["training_url"]
    their_voice.refresh_from_db()
    assert their_voice.training_audio.name in their_url

    # Their voice id is a missing one for us.
    assert_bhuman_error(api_client.get(f"/persona/voice/{their_voice.pk}"), 404, "not found")
    assert_bhuman_error(api_client.get("/persona/voice/999999"), 404)

    # Their training URL is not read from storage for us: it is fetched like any foreign URL, and
    # localhost is a private address.
    body = {"training_urls": [their_url]}
    response = api_client.post(GENERATE_URL, body, format="json")
    assert_bhuman_error(response, 400, f"training_urls[0]: {their_url} resolves to a private address")
    assert not Voice.objects.filter(workspace=workspace).exists()
    assert not MediaJob.objects.filter(workspace=workspace).exists()


def test_a_training_url_on_a_single_label_host_is_accepted(persona, raw_key, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw_key}")  # host: testserver
    training_url = client.get(f"/persona/voice/{ready_voice(persona).pk}").json()["training_url"]
    assert training_url.startswith("http://testserver/")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(GENERATE_URL, {"training_urls": [training_url]}, format="json")

    assert response.status_code == 201, response.content
