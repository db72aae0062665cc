"""influgen LoRA routes: `/api/v1/characters/{id}/lora`, `/lora/status`, `/lora/images`, `/lora/train`
(seed: influgen-characters, "LoRA endpoints"). Training runs against a local server speaking fal.ai's protocol."""

import io
import threading
from functools import cache

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import ImageFilter, ImageOps
from rest_framework.test import APIClient

from accounts.models import CreditEntry, Plan, Workspace
from accounts.services import credits_grant
from characters.models import LoraModel, LoraTrainingImage
from characters.services.characters import reference_image_add
from characters.services.lora import lora_training_abandoned
from characters.services.photos import photo_from_bytes
from media_jobs import services as job_services
from media_jobs.models import MediaJob
from media_jobs.services import job_fail
from persona_platform.media import random_name
from tests import factories
from tests.engines.fal_server import TRAINING_APP, FalServer
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

FAL_KEY = "fal-key-id:fal-key-secret-0123456789"
# The seed's example training request, as written.
SEED_TRAIN = {"base_model": "fal-ai/flux-lora", "training_steps": 1200, "lora_rank": 16}
LORA_FIELDS = [
    "status", "base_model", "training_steps", "lora_rank", "trigger_word", "weights_url", "config_url",
    "credits_charged", "progress", "error", "training_images", "started_at", "completed_at",
]  # fmt: skip


@cache
def portrait() -> bytes:
    return factories.image_bytes(portrait=True)


def _jpeg(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


@cache
def someone_else() -> bytes:
    """The portrait solarized: dlib still finds a face, at an identity distance of about 0.7 (another person)."""
    return _jpeg(ImageOps.solarize(factories._portrait(), 100))


@cache
def same_face_altered() -> bytes:
    """The portrait stretched and blurred: the same person by dlib's rule (distance about 0.57, under 0.6)."""
    stretched = factories._portrait().resize((256, 358)).crop((0, 44, 256, 300))
    return _jpeg(stretched.filter(ImageFilter.GaussianBlur(3)))


@pytest.fixture
def character(workspace):
    """A character made the influgen way: a primary reference image gives its photo and identity."""
    person = factories.person_create(workspace=workspace, name="Mila Hart", with_photo=False)
    reference_image_add(person=person, photo=photo_from_bytes(portrait(), field="file"), image_type="primary")
    person.refresh_from_db()
    return person


@pytest.fixture
def fal(settings):
    with FalServer(api_key=FAL_KEY) as server:
        settings.FAL_KEY = FAL_KEY
        settings.FAL_QUEUE_URL = server.queue_url
        settings.FAL_REST_URL = server.rest_url
        settings.FAL_PLATFORM_URL = server.platform_url
        settings.FAL_LORA_TRAINING_APP = TRAINING_APP
        settings.FAL_POLL_SECONDS = 0.01
        settings.FAL_TRAINING_TIMEOUT_SECONDS = 30
        settings.ENGINE_TIMEOUT_SECONDS = 5
        settings.ENGINES = {**settings.ENGINES, "lora": "fal"}
        yield server


@pytest.fixture
def no_provider(settings):
    settings.FAL_KEY = ""
    settings.ENGINES = {**settings.ENGINES, "lora": ""}


def add_training_images(person, count: int) -> None:
    """Training images stored directly (the upload route is tested on its own)."""
    for _ in range(count):
        LoraTrainingImage.objects.create(
            workspace=person.workspace,
            person=person,
            image=default_storage.save(random_name("persons/lora", "jpg"), ContentFile(portrait())),
            width=256,
            height=256,
        )


def images(*contents: bytes) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"face-{n}.jpg", data, "image/jpeg") for n, data in enumerate(contents)]


def url(person, route: str = "") -> str:
    return f"/api/v1/characters/{person.character_id}/lora{route}"


def train(client, person, **body):
    return client.post(url(person, "/train"), body or SEED_TRAIN, format="json")


def ledger(workspace) -> list[tuple[int, int, str]]:
    return list(
        CreditEntry.objects.filter(workspace=workspace).order_by("pk").values_list("amount", "balance_after", "reason")
    )


def balance(workspace) -> int:
    return Workspace.objects.get(pk=workspace.pk).credit_balance


def assert_nothing_charged(workspace, credits: int) -> None:
    assert balance(workspace) == credits
    assert not CreditEntry.objects.filter(workspace=workspace, amount__lt=0).exists()
    assert not MediaJob.objects.filter(kind="lora_training").exists()
    assert not LoraModel.objects.exclude(status="none").exists()


# --- the happy path -------------------------------------------------------------------------------


def test_the_seed_training_request_trains_a_lora(
    api_client, workspace, character, fal, django_capture_on_commit_callbacks
):
    credits_grant(workspace=workspace, amount=600, reason="Top-up")
    ten = images(*[portrait()] * 10)
    uploaded = api_client.post(url(character, "/images"), {"images": ten}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    assert (uploaded.json()["count"], uploaded.json()["min_images"], uploaded.json()["max_images"]) == (10, 10, 30)
    assert len(uploaded.json()["images"]) == 10

    with django_capture_on_commit_callbacks(execute=True):
        response = train(api_client, character)

    assert response.status_code == 202, response.content
    assert list(response.json()) == ["lora"]
    lora = response.json()["lora"]
    assert list(lora) == LORA_FIELDS
    assert {key: lora[key] for key in ("status", "base_model", "training_steps", "lora_rank", "credits_charged")} == {
        "status": "pending", "base_model": "fal-ai/flux-lora", "training_steps": 1200, "lora_rank": 16,
        "credits_charged": 500,
    }  # fmt: skip
    assert lora["trigger_word"] == f"char_{character.ulid[-8:].lower()}"
    assert (lora["training_images"], lora["weights_url"], lora["completed_at"]) == (10, "", None)
    assert lora["started_at"]
    (entry,) = CreditEntry.objects.filter(workspace=workspace, amount__lt=0)
    row = LoraModel.objects.get(person=character)
    assert (entry.amount, entry.balance_after, entry.reference) == (-500, 100, f"lora:{row.pk}")
    assert balance(workspace) == 100

    (request_id,) = fal.trainings
    assert fal.trainings[request_id].input["steps"] == 1200
    weights = f"{fal.url}/cdn/files/{request_id}/pytorch_lora_weights.safetensors"
    ready = api_client.get(url(character)).json()
    assert list(ready) == ["lora"]
    assert {key: ready["lora"][key] for key in ("status", "progress", "weights_url", "error", "credits_charged")} == {
        "status": "ready", "progress": 100, "weights_url": weights, "error": "", "credits_charged": 500,
    }  # fmt: skip
    assert ready["lora"]["config_url"] == f"{fal.url}/cdn/files/{request_id}/config.json"
    assert ready["lora"]["completed_at"]
    assert api_client.get(url(character, "/status")).json() == {
        "status": "ready", "progress": 100, "face_consistency_tier": "lora", "error": "",
    }  # fmt: skip
    shown = api_client.get(f"/api/v1/characters/{character.character_id}").json()["character"]
    assert (shown["face_consistency_tier"], shown["lora_training_status"]) == ("lora", "ready")
    assert MediaJob.objects.get(kind="lora_training").status == "ready"
    assert len(ledger(workspace)) == 2  # the top-up and the one debit


def test_before_any_training_the_lora_is_none(api_client, character):
    add_training_images(character, 3)

    lora = api_client.get(url(character)).json()["lora"]
    status = api_client.get(url(character, "/status")).json()
    listed = api_client.get(url(character, "/images")).json()

    assert lora == {
        "status": "none", "base_model": "", "training_steps": None, "lora_rank": None, "trigger_word": "",
        "weights_url": "", "config_url": "", "credits_charged": 0, "progress": 0, "error": "", "training_images": 3,
        "started_at": None, "completed_at": None,
    }  # fmt: skip
    assert status == {"status": "none", "progress": 0, "face_consistency_tier": "ip_adapter", "error": ""}
    assert (listed["count"], len(listed["images"])) == (3, 3)
    assert list(listed["images"][0]) == ["id", "url", "width", "height", "created_at"]
    assert listed["images"][0]["url"].startswith("http://testserver/media/persons/lora/")


# --- the rules ------------------------------------------------------------------------------------


def test_a_free_plan_cannot_upload_or_train(fal, media_root):
    workspace = factories.workspace_create(plan=Plan.FREE)
    person = factories.person_create(workspace=workspace, name="Mila Hart")
    add_training_images(person, 10)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_create(workspace=workspace).raw}")
    before = stored_files(media_root)

    upload = client.post(url(person, "/images"), {"images": images(portrait())}, format="multipart")
    trained = train(client, person)

    assert_vendor_error(upload, 403, "Forbidden", "needs the Pro or Agency plan")
    assert_vendor_error(trained, 403, "Forbidden", "needs the Pro or Agency plan; this workspace is on the free plan")
    assert stored_files(media_root) == before
    assert_nothing_charged(workspace, 1000)


def test_the_pro_plan_may_train(api_client, workspace, character, fal):
    Workspace.objects.filter(pk=workspace.pk).update(plan=Plan.PRO)
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")

    assert train(api_client, character).status_code == 202
    assert balance(workspace) == 0


@pytest.mark.parametrize("count", [0, 9])
def test_fewer_than_ten_images_are_refused(api_client, workspace, character, fal, count):
    add_training_images(character, count)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")

    response = train(api_client, character)

    assert_vendor_error(response, 422, "ValidationError", f"10 to 30 images of the character; it has {count}")
    assert_nothing_charged(workspace, 1000)
    assert api_client.get(url(character)).json()["lora"]["status"] == "none"


def test_an_upload_beyond_thirty_images_is_refused(api_client, character, media_root):
    add_training_images(character, 30)
    before = stored_files(media_root)

    response = api_client.post(url(character, "/images"), {"image": images(portrait())[0]}, format="multipart")

    assert_vendor_error(response, 422, "ValidationError", "at most 30 images; this character has 30")
    assert LoraTrainingImage.objects.count() == 30
    assert stored_files(media_root) == before


def test_thirty_images_are_enough_to_upload(api_client, character):
    add_training_images(character, 28)

    response = api_client.post(
        url(character, "/images"), {"images": images(portrait(), portrait())}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert response.json()["count"] == 30


@pytest.mark.parametrize(
    ("existing", "second", "message"),
    [(0, lambda: factories.image_bytes(portrait=False), "no face was found"), (29, portrait, "at most 30 images")],
    ids=["second-has-no-face", "second-is-the-31st"],
)
def test_a_refused_image_keeps_none_of_the_upload(api_client, character, media_root, existing, second, message):
    add_training_images(character, existing)
    before = stored_files(media_root)

    response = api_client.post(url(character, "/images"), {"images": images(portrait(), second())}, format="multipart")

    assert_vendor_error(response, 422, "ValidationError", message)
    assert LoraTrainingImage.objects.count() == existing
    assert stored_files(media_root) == before


BAD_TRAININGS = [
    ({**SEED_TRAIN, "training_steps": 999}, "training_steps:"),
    ({**SEED_TRAIN, "training_steps": 1501}, "training_steps:"),
    ({**SEED_TRAIN, "lora_rank": 15}, "lora_rank:"),
    ({**SEED_TRAIN, "lora_rank": 33}, "lora_rank:"),
    ({**SEED_TRAIN, "base_model": "fal-ai/flux-pro"}, "base_model:"),
    ({**SEED_TRAIN, "training_steps": "many"}, "training_steps:"),
    ({**SEED_TRAIN, "trigger_word": "x" * 65}, "trigger_word:"),
]


def test_bad_parameters_are_refused_and_charge_nothing(api_client, workspace, character, fal):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")

    for body, message in BAD_TRAININGS:
        assert_vendor_error(train(api_client, character, **body), 422, "ValidationError", message)

    assert_nothing_charged(workspace, 1000)


def test_the_parameter_bounds_are_inclusive(api_client, workspace, character, fal):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")

    response = train(api_client, character, base_model="fal-ai/flux-lora", training_steps=1500, lora_rank=32)

    assert response.status_code == 202, response.content
    assert (response.json()["lora"]["training_steps"], response.json()["lora"]["lora_rank"]) == (1500, 32)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda: factories.image_bytes(portrait=False), "images[0]: no face was found"),
        (someone_else, "images[0]: the face in this image is not Mila Hart's"),
    ],
    ids=["no-face", "someone-else"],
)
def test_a_training_image_must_show_the_characters_face(api_client, character, media_root, content, message):
    before = stored_files(media_root)

    response = api_client.post(url(character, "/images"), {"images": images(content())}, format="multipart")

    assert_vendor_error(response, 422, "ValidationError", message)
    assert not LoraTrainingImage.objects.exists()
    assert stored_files(media_root) == before


def test_an_altered_photo_of_the_same_face_is_accepted_for_a_person_with_only_a_photo(api_client, workspace):
    person = factories.person_create(workspace=workspace, name="Mila Hart")  # a face, no reference images

    response = api_client.post(url(person, "/images"), {"images": images(same_face_altered())}, format="multipart")

    assert response.status_code == 201, response.content


def test_an_altered_photo_of_the_same_face_is_accepted_for_a_character_with_reference_images(api_client, character):
    response = api_client.post(url(character, "/images"), {"images": images(same_face_altered())}, format="multipart")

    assert response.status_code == 201, response.content


def test_without_a_provider_training_is_503_and_charges_nothing(api_client, workspace, character, no_provider):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")

    response = train(api_client, character)

    body = assert_vendor_error(response, 503, "ServiceUnavailable", "set FAL_KEY")
    assert "Nothing was charged" in body["message"]
    assert_nothing_charged(workspace, 1000)
    assert ledger(workspace) == [(1000, 1000, "Top-up")]


@pytest.mark.parametrize(
    "images_stored, credits, plan, body, status, kind, message",
    [
        (9, 1000, Plan.AGENCY, SEED_TRAIN, 422, "ValidationError", "it has 9"),
        (31, 1000, Plan.AGENCY, SEED_TRAIN, 422, "ValidationError", "it has 31"),
        (10, 1000, Plan.AGENCY, {**SEED_TRAIN, "training_steps": 999}, 422, "ValidationError", "training_steps"),
        (10, 1000, Plan.AGENCY, {**SEED_TRAIN, "lora_rank": 64}, 422, "ValidationError", "lora_rank"),
        (10, 1000, Plan.FREE, SEED_TRAIN, 403, "Forbidden", "needs the Pro or Agency plan"),
        (10, 499, Plan.AGENCY, SEED_TRAIN, 402, "PaymentRequired", "This needs 500 credits"),
    ],
)
def test_a_bad_request_is_refused_for_what_it_is_before_the_missing_provider(
    api_client, workspace, character, no_provider, images_stored, credits, plan, body, status, kind, message
):
    """A client learns what to fix in its request even where this installation cannot train at all."""
    Workspace.objects.filter(pk=workspace.pk).update(plan=plan)
    add_training_images(character, images_stored)
    credits_grant(workspace=workspace, amount=credits, reason="Top-up")

    response = api_client.post(url(character, "/train"), body, format="json")

    assert_vendor_error(response, status, kind, message)
    assert_nothing_charged(workspace, credits)


def test_a_lora_engine_without_its_key_is_503_too(api_client, workspace, character, settings):
    settings.FAL_KEY = ""
    settings.ENGINES = {**settings.ENGINES, "lora": "fal"}
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")

    response = train(api_client, character)

    assert_vendor_error(response, 503, "ServiceUnavailable", "set FAL_KEY")
    assert_nothing_charged(workspace, 1000)


@pytest.mark.parametrize("credits", [0, 499])
def test_not_enough_credits_is_402_and_charges_nothing(api_client, workspace, character, fal, credits):
    add_training_images(character, 10)
    if credits:
        credits_grant(workspace=workspace, amount=credits, reason="Top-up")

    response = train(api_client, character)

    assert_vendor_error(response, 402, "PaymentRequired", f"This needs 500 credits and the workspace has {credits}.")
    assert_nothing_charged(workspace, credits)
    assert fal.requests == []


def test_the_demo_person_cannot_train(api_client, workspace, fal):
    demo = workspace.persons.get(is_demo=True)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")

    assert_vendor_error(train(api_client, demo), 403, "Forbidden", "demo person")
    assert_vendor_error(
        api_client.post(url(demo, "/images"), {"images": images(portrait())}, format="multipart"),
        403,
        "Forbidden",
        "demo person",
    )
    assert_nothing_charged(workspace, 1000)


# --- failures, conflicts, deletion ----------------------------------------------------------------


def test_a_failing_provider_fails_the_lora_and_refunds_once(
    api_client, workspace, character, fal, django_capture_on_commit_callbacks
):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")
    fal.fail_next(422, route="submit")

    with django_capture_on_commit_callbacks(execute=True):
        response = train(api_client, character)

    assert response.status_code == 202, response.content
    job = MediaJob.objects.get(kind="lora_training")
    assert job.status == "failed" and "422" in job.error
    assert fal.routes()[-1] == "submit"
    lora = api_client.get(url(character)).json()["lora"]
    assert (lora["status"], lora["credits_charged"]) == ("failed", 0)
    assert "422" in lora["error"] and lora["completed_at"]
    assert api_client.get(url(character, "/status")).json() == {
        "status": "failed", "progress": lora["progress"], "face_consistency_tier": "ip_adapter", "error": lora["error"],
    }  # fmt: skip
    row = LoraModel.objects.get()
    assert ledger(workspace) == [
        (500, 500, "Top-up"),
        (-500, 0, "LoRA training of Mila Hart"),
        (500, 500, "Refund: LoRA training failed"),
    ]
    assert list(CreditEntry.objects.filter(amount__gt=0, reference=f"lora:{row.pk}").values_list("amount")) == [(500,)]

    with django_capture_on_commit_callbacks(execute=True):  # a late second failure report, a second abandon
        assert job_fail(job_id=job.pk, error="again") is False
        lora_training_abandoned(job=job)
        assert api_client.delete(url(character)).status_code == 204

    assert len(ledger(workspace)) == 3 and balance(workspace) == 500


def test_a_failed_lora_can_be_trained_again(api_client, workspace, character, fal, django_capture_on_commit_callbacks):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")
    fal.fail_next(422, route="submit")
    with django_capture_on_commit_callbacks(execute=True):
        train(api_client, character)

    with django_capture_on_commit_callbacks(execute=True):
        response = train(api_client, character)

    assert response.status_code == 202, response.content
    assert api_client.get(url(character)).json()["lora"]["status"] == "ready"
    assert balance(workspace) == 0
    assert [amount for amount, _, _ in ledger(workspace)] == [500, -500, 500, -500]


def test_training_while_one_is_pending_is_409_and_charges_once(api_client, workspace, character, fal):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=1000, reason="Top-up")

    first = train(api_client, character)  # its job is queued: no worker runs in this test
    second = train(api_client, character)

    assert first.status_code == 202, first.content
    assert_vendor_error(second, 409, "Conflict", "already training")
    assert balance(workspace) == 500
    assert [amount for amount, _, _ in ledger(workspace)] == [1000, -500]
    assert MediaJob.objects.filter(kind="lora_training").count() == 1
    assert api_client.get(url(character, "/status")).json()["status"] == "pending"


def test_deleting_a_pending_lora_cancels_and_refunds_it(
    api_client, workspace, character, fal, django_capture_on_commit_callbacks
):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")
    assert train(api_client, character).status_code == 202

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(url(character))

    assert response.status_code == 204 and response.content == b""
    assert MediaJob.objects.get(kind="lora_training").status == "canceled"
    assert not LoraModel.objects.exists()
    assert api_client.get(url(character, "/status")).json()["status"] == "none"
    assert [amount for amount, _, _ in ledger(workspace)] == [500, -500, 500]
    assert ledger(workspace)[-1][2] == "Refund: LoRA training canceled"
    assert LoraTrainingImage.objects.filter(person=character).count() == 10  # kept, to train again


def test_deleting_a_ready_lora_goes_back_to_none_without_a_refund(
    api_client, workspace, character, fal, django_capture_on_commit_callbacks
):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")
    with django_capture_on_commit_callbacks(execute=True):
        train(api_client, character)
    assert api_client.get(url(character)).json()["lora"]["status"] == "ready"

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(url(character))
        again = api_client.delete(url(character))

    assert response.status_code == again.status_code == 204
    assert api_client.get(url(character)).json()["lora"]["status"] == "none"
    assert api_client.get(url(character, "/status")).json()["face_consistency_tier"] == "ip_adapter"
    shown = api_client.get(f"/api/v1/characters/{character.character_id}").json()["character"]
    assert (shown["face_consistency_tier"], shown["lora_training_status"]) == ("ip_adapter", "none")
    assert [amount for amount, _, _ in ledger(workspace)] == [500, -500]


def test_the_influencers_alias_serves_the_lora_routes(api_client, workspace, character, fal):
    add_training_images(character, 10)
    credits_grant(workspace=workspace, amount=500, reason="Top-up")
    base = f"/api/v1/influencers/{character.character_id}/lora"

    assert api_client.post(f"{base}/train", SEED_TRAIN, format="json").status_code == 202
    assert api_client.get(base).json()["lora"]["status"] == "pending"
    assert api_client.get(f"{base}/status").json()["status"] == "pending"
    assert api_client.get(f"{base}/images").json()["count"] == 10
    assert api_client.delete(base).status_code == 204


# --- concurrency ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_training_requests_charge_once(fal, monkeypatch):
    """Eight requests race to train one character: one starts it and pays, the others get 409."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes writers anyway")
    monkeypatch.setattr(job_services, "_enqueue", lambda job_id: None)  # the training itself never runs
    workspace = factories.workspace_create()
    person = factories.person_create(workspace=workspace, name="Mila Hart")
    add_training_images(person, 10)
    credits_grant(workspace=workspace, amount=5000, reason="Top-up")
    raw_key = factories.api_key_create(workspace=workspace).raw
    barrier = threading.Barrier(8)
    statuses = []

    def post():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
            barrier.wait()
            statuses.append(train(client, person).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [202] + [409] * 7
    assert balance(workspace) == 4500
    assert CreditEntry.objects.filter(workspace=workspace, amount=-500).count() == 1
    assert MediaJob.objects.filter(kind="lora_training").count() == 1
    assert LoraModel.objects.get(person=person).status == "pending"
