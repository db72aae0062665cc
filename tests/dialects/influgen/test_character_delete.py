"""influgen `DELETE /api/v1/characters/{id}` (and the `/influencers` alias): a user removes a likeness, with
everything that holds it, here and at the providers (fal's LoRA files, ElevenLabs' voice)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import CreditEntry, Workspace
from accounts.services import credits_grant
from characters.models import LoraModel, LoraTrainingImage, Person, ReferenceImage, Voice
from characters.services.characters import reference_image_add
from characters.services.photos import photo_from_bytes
from media_jobs.models import MediaJob
from media_jobs.services import job_create
from persona_platform.media import random_name
from tests import factories
from tests.engines.elevenlabs_server import ElevenLabsServer
from tests.engines.fal_server import TRAINING_APP, FalServer, Training
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

PREFIXES = ["/api/v1/characters", "/api/v1/influencers"]
FAL_KEY = "fal-key-id:fal-key-secret-0123456789"
ELEVENLABS_KEY = "elevenlabs-test-key"


@pytest.fixture
def character(workspace):
    """A character with everything a likeness is kept in: a photo and face, a reference image, LoRA training
    images and a ready LoRA, a local voice clone it speaks with, and a video made of it."""
    person = factories.person_create(workspace=workspace, name="Mila Hart", with_photo=False)
    portrait = factories.image_bytes(portrait=True)
    reference_image_add(person=person, photo=photo_from_bytes(portrait, field="file"), image_type="primary")
    for _ in range(2):
        LoraTrainingImage.objects.create(
            workspace=workspace,
            person=person,
            image=default_storage.save(random_name("persons/lora", "jpg"), ContentFile(portrait)),
            width=256,
            height=256,
        )
    factories.voice_create(person=person, provider=Voice.Provider.LOCAL, voice_id="local_mila")
    person.refresh_from_db()
    return person


def url(prefix: str, person) -> str:
    return f"{prefix}/{person.character_id}"


def likeness_files(person) -> list[str]:
    """The files that hold the character's likeness: photo, reference and LoRA training images."""
    names = [person.photo.name, *(image.image.name for image in person.reference_images.all())]
    names += [image.image.name for image in person.lora_training_images.all()]
    return names


def assert_gone(person, media_root, files: list[str]) -> None:
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not ReferenceImage.objects.filter(person_id=person.pk).exists()
    assert not LoraTrainingImage.objects.filter(person_id=person.pk).exists()
    assert not LoraModel.objects.filter(person_id=person.pk).exists()
    assert not Voice.objects.filter(person_id=person.pk).exists()
    assert len(files) == 4 and all(name.startswith("persons/") for name in files), files
    assert not set(files) & set(stored_files(media_root))


@pytest.mark.parametrize("prefix", PREFIXES)
def test_delete_removes_the_character_and_its_likeness(
    api_client, workspace, character, media_root, prefix, django_capture_on_commit_callbacks
):
    video = MediaJob.objects.create(workspace=workspace, person=character, kind="talking_head", status="ready")
    files = likeness_files(character)
    assert character.face and character.photo

    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion has committed
        response = api_client.delete(url(prefix, character))

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert_gone(character, media_root, files)
    video.refresh_from_db()
    assert video.person is None  # generated media is the workspace's and stays
    assert api_client.get(url(prefix, character)).status_code == 404
    assert_vendor_error(api_client.delete(url(prefix, character)), 404, "NotFound")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_demo_character_is_protected(api_client, workspace, prefix):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    response = api_client.delete(url(prefix, demo))

    assert_vendor_error(response, 403, "Forbidden", "read-only")
    assert Person.objects.filter(pk=demo.pk).exists()


def test_another_workspaces_character_is_404_and_kept(other_client, character):
    for prefix in PREFIXES:
        assert_vendor_error(other_client.delete(url(prefix, character)), 404, "NotFound")
    assert Person.objects.filter(pk=character.pk).exists()
    assert ReferenceImage.objects.filter(person=character).count() == 1


# --- at the providers ------------------------------------------------------------------------------------


@pytest.fixture
def fal(settings):
    with FalServer(api_key=FAL_KEY) as server:
        settings.FAL_KEY = FAL_KEY
        settings.FAL_QUEUE_URL = server.queue_url
        settings.FAL_REST_URL = server.rest_url
        settings.FAL_PLATFORM_URL = server.platform_url
        settings.ENGINE_TIMEOUT_SECONDS = 5
        yield server


def ready_lora_at_fal(person, server) -> LoraModel:
    server.trainings["req-mila"] = Training(request_id="req-mila", app=TRAINING_APP, input={}, polls=99)
    return LoraModel.objects.create(
        person=person,
        status=LoraModel.Status.READY,
        provider="fal",
        provider_request_id="req-mila",
        weights_url=f"{server.url}/cdn/files/req-mila/pytorch_lora_weights.safetensors",
    )


def test_a_ready_lora_is_deleted_at_fal_too(api_client, character, fal, media_root, django_capture_on_commit_callbacks):
    ready_lora_at_fal(character, fal)
    files = likeness_files(character)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(url(PREFIXES[0], character))

    assert response.status_code == 204, response.content
    [deleted] = [request for request in fal.requests if request.route == "payloads"]
    assert (deleted.method, deleted.path) == ("DELETE", "/platform/models/requests/req-mila/payloads")
    assert fal.trainings["req-mila"].deleted
    assert_gone(character, media_root, files)


def test_when_fal_fails_to_delete_nothing_is_deleted_and_the_call_can_be_repeated(
    api_client, character, fal, media_root, django_capture_on_commit_callbacks
):
    ready_lora_at_fal(character, fal)
    fal.fail_next(500, route="payloads")
    files = likeness_files(character)

    response = api_client.delete(url(PREFIXES[1], character))

    assert_vendor_error(response, 503, "ServiceUnavailable", "could not be deleted at fal")
    assert Person.objects.filter(pk=character.pk).exists() and LoraModel.objects.filter(person=character).exists()
    assert set(files) <= set(stored_files(media_root))
    # Once fal answers again, the same call finishes the job.
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(url(PREFIXES[1], character)).status_code == 204
    assert fal.trainings["req-mila"].deleted
    assert_gone(character, media_root, files)


def test_a_training_in_progress_is_canceled_and_refunded(api_client, workspace, character):
    Workspace.objects.filter(pk=workspace.pk).update(credit_balance=0)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")
    job = job_create(workspace=workspace, kind="lora_training", person_id=character.pk, name="LoRA", params={})
    lora = LoraModel.objects.create(person=character, status=LoraModel.Status.TRAINING, job=job, credits_charged=500)
    MediaJob.objects.filter(pk=job.pk).update(params={"lora_id": lora.pk})
    Workspace.objects.filter(pk=workspace.pk).update(credit_balance=0)  # the 500 were taken when it started

    response = api_client.delete(url(PREFIXES[0], character))

    assert response.status_code == 204, response.content
    job.refresh_from_db()
    assert job.status == "canceled"
    assert Workspace.objects.get(pk=workspace.pk).credit_balance == 500
    assert CreditEntry.objects.filter(workspace=workspace, reference=f"lora:{lora.pk}", amount=500).exists()
    assert not Person.objects.filter(pk=character.pk).exists()


def test_an_elevenlabs_voice_clone_is_deleted_there_too(api_client, workspace, character, settings):
    with ElevenLabsServer(api_key=ELEVENLABS_KEY) as server:
        settings.ELEVENLABS_BASE_URL = server.url
        settings.ELEVENLABS_API_KEY = ELEVENLABS_KEY
        settings.ENGINE_TIMEOUT_SECONDS = 5
        server.voices["el-mila"] = {"name": "Mila", "files": []}
        factories.voice_create(person=character, provider=Voice.Provider.ELEVENLABS, voice_id="el-mila")

        response = api_client.delete(url(PREFIXES[0], character))

    assert response.status_code == 204, response.content
    assert "el-mila" in server.deleted_voices and "el-mila" not in server.voices
    assert not Voice.objects.filter(person_id=character.pk).exists()


def test_without_the_providers_key_the_likeness_is_still_deleted_here(api_client, character, fal, settings):
    ready_lora_at_fal(character, fal)
    settings.FAL_KEY = ""

    response = api_client.delete(url(PREFIXES[0], character))

    assert response.status_code == 204, response.content
    assert not Person.objects.filter(pk=character.pk).exists()
    assert "payloads" not in fal.routes()


def test_a_key_fal_refuses_to_delete_with_still_deletes_the_likeness_here(api_client, character, fal, caplog):
    ready_lora_at_fal(character, fal)
    fal.fail_next(403, route="payloads")  # an ordinary key, without the admin scope fal's delete needs

    response = api_client.delete(url(PREFIXES[0], character))

    assert response.status_code == 204, response.content
    assert not Person.objects.filter(pk=character.pk).exists()
    assert not fal.trainings["req-mila"].deleted
    assert "req-mila left at fal, which refused to delete it" in caplog.text
