"""Every admin screen opens for staff, and the admin goes through the same services as the API."""

import pytest
from django.urls import reverse

from accounts.models import ApiKey, Company, CreditEntry, User, Workspace
from characters.models import Person, Voice
from media_jobs.models import MediaJob
from tests import factories

pytestmark = pytest.mark.django_db

MODELS = [User, Workspace, Company, ApiKey, CreditEntry, Person, Voice, MediaJob]


@pytest.fixture
def staff_client(client, db):
    admin = User.objects.create_superuser(email="staff@example.com", password="x")
    client.force_login(admin)
    return client


@pytest.fixture
def populated(workspace):
    person = factories.person_create(workspace=workspace)
    factories.voice_create(person=person)
    MediaJob.objects.create(workspace=workspace, person=person, kind="speech")
    factories.company_create(workspace=workspace)
    factories.api_key_create(workspace=workspace)
    from accounts.services import credits_grant

    credits_grant(workspace=workspace, amount=5, reason="test")
    return workspace


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_pages_open(staff_client, populated, model):
    opts = model._meta
    assert staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
    obj = model.objects.first()
    change = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200


@pytest.mark.parametrize(
    "model", [User, Workspace, Company, ApiKey, CreditEntry, Person, Voice], ids=lambda m: m.__name__
)
def test_add_pages_open(staff_client, model):
    opts = model._meta
    assert staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 200


def test_the_admin_site_is_branded(staff_client):
    assert b"Persona Platform" in staff_client.get(reverse("admin:index")).content


def test_adding_a_workspace_seeds_its_demo_person(staff_client):
    owner = User.objects.create_user(email="owner@example.com")

    response = staff_client.post(
        reverse("admin:accounts_workspace_add"),
        {
            "name": "Agency",
            "owner": owner.pk,
            "plan": "agency",
            "api_keys-TOTAL_FORMS": 0,
            "api_keys-INITIAL_FORMS": 0,
            "credit_entries-TOTAL_FORMS": 0,
            "credit_entries-INITIAL_FORMS": 0,
        },  # fmt: skip
    )

    assert response.status_code == 302, response.content[:2000]
    workspace = Workspace.objects.get(name="Agency")
    assert Person.objects.filter(workspace=workspace, is_demo=True).count() == 1


def test_adding_an_api_key_shows_it_once_and_stores_its_hash(staff_client, workspace):
    response = staff_client.post(
        reverse("admin:accounts_apikey_add"),
        {"workspace": workspace.pk, "user": workspace.owner.pk, "name": "from admin"},
        follow=True,
    )

    api_key = ApiKey.objects.get(name="from admin")
    messages = [str(message) for message in response.context["messages"]]
    raw = next(message.split(": ")[-1] for message in messages if "shown once" in message)
    assert raw.startswith(api_key.prefix) and api_key.key_hash not in raw
    from rest_framework.test import APIClient

    assert APIClient(HTTP_X_API_KEY=raw).get("/api/v1/persons").status_code == 200


def test_revoking_keys_in_the_admin(staff_client, api_key):
    staff_client.post(
        reverse("admin:accounts_apikey_changelist"), {"action": "revoke", "_selected_action": [api_key.pk]}
    )

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_credit_entries_added_in_the_admin_go_through_the_ledger(staff_client, workspace):
    url = reverse("admin:accounts_creditentry_add")
    staff_client.post(url, {"workspace": workspace.pk, "amount": 40, "reason": "Goodwill", "reference": "ticket-1"})
    refused = staff_client.post(url, {"workspace": workspace.pk, "amount": -50, "reason": "Too much"})
    staff_client.post(url, {"workspace": workspace.pk, "amount": -15, "reason": "Correction"})

    assert refused.status_code == 200 and b"cannot go negative" in refused.content
    workspace.refresh_from_db()
    assert workspace.credit_balance == 25
    entries = list(
        CreditEntry.objects.filter(workspace=workspace).values_list("amount", "balance_after", "created_by__email")
    )
    assert entries == [(-15, 25, "staff@example.com"), (40, 40, "staff@example.com")]


def test_credit_entries_cannot_be_deleted_in_the_admin(staff_client, workspace):
    from accounts.services import credits_grant

    entry = credits_grant(workspace=workspace, amount=5, reason="test")
    url = reverse("admin:accounts_creditentry_delete", args=[entry.pk])

    assert staff_client.get(url).status_code == 403


def test_a_bad_photo_uploaded_in_the_admin_is_refused(staff_client, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    person = factories.person_create(workspace=workspace)
    response = staff_client.post(
        reverse("admin:characters_person_change", args=[person.pk]),
        {
            "workspace": workspace.pk,
            "owner": workspace.owner.pk,
            "name": person.name,
            "description": "",
            "photo": SimpleUploadedFile("x.jpg", factories.image_bytes(size=(32, 32)), content_type="image/jpeg"),
            "voice_clones-TOTAL_FORMS": 0,
            "voice_clones-INITIAL_FORMS": 0,
        },  # fmt: skip
    )

    assert response.status_code == 200
    assert b"each side must be at least 64 pixels" in response.content
    person.refresh_from_db()
    assert person.photo.name.startswith("persons/photos/")


def test_a_photo_uploaded_in_the_admin_is_cleaned_and_renamed(staff_client, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    person = factories.person_create(workspace=workspace)
    staff_client.post(
        reverse("admin:characters_person_change", args=[person.pk]),
        {
            "workspace": workspace.pk,
            "owner": workspace.owner.pk,
            "name": person.name,
            "description": "",
            "photo": SimpleUploadedFile(
                "my-face.png", factories.image_bytes(image_format="PNG", portrait=True), content_type="image/png"
            ),
            "voice_clones-TOTAL_FORMS": 0,
            "voice_clones-INITIAL_FORMS": 0,
            "profile_videos-TOTAL_FORMS": 0,
            "profile_videos-INITIAL_FORMS": 0,
            "reference_images-TOTAL_FORMS": 0,
            "reference_images-INITIAL_FORMS": 0,
            "lora-TOTAL_FORMS": 0,
            "lora-INITIAL_FORMS": 0,
        },  # fmt: skip
    )

    person.refresh_from_db()
    assert person.photo.name.startswith("persons/photos/") and person.photo.name.endswith(".png")
    assert "my-face" not in person.photo.name
    assert len(person.face["landmarks"]) == 68 and len(person.face["embedding"]) == 128


def test_a_photo_without_a_face_is_refused_in_the_admin(staff_client, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    person = factories.person_create(workspace=workspace)
    old_photo = person.photo.name
    response = staff_client.post(
        reverse("admin:characters_person_change", args=[person.pk]),
        {
            "workspace": workspace.pk,
            "owner": workspace.owner.pk,
            "name": person.name,
            "description": "",
            "photo": SimpleUploadedFile(
                "wall.png", factories.image_bytes(image_format="PNG"), content_type="image/png"
            ),
            "voice_clones-TOTAL_FORMS": 0,
            "voice_clones-INITIAL_FORMS": 0,
            "profile_videos-TOTAL_FORMS": 0,
            "profile_videos-INITIAL_FORMS": 0,
            "reference_images-TOTAL_FORMS": 0,
            "reference_images-INITIAL_FORMS": 0,
            "lora-TOTAL_FORMS": 0,
            "lora-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 200 and b"no face was found" in response.content
    person.refresh_from_db()
    assert person.photo.name == old_photo


def test_the_workspace_page_shows_its_webhook_signing_secret_when_revealed(staff_client, workspace):
    from media_jobs.webhooks import webhook_secret

    url = reverse("admin:accounts_workspace_change", args=[workspace.pk])
    masked = staff_client.get(url)
    revealed = staff_client.get(url, {"reveal_secret": "1"})

    secret = webhook_secret(workspace_id=workspace.pk).encode()
    assert secret not in masked.content and secret[-4:] in masked.content
    assert secret in revealed.content


def test_the_11th_admin_login_of_a_user_is_refused_even_with_the_right_password(client):
    User.objects.create_superuser(email="ops@example.com", password="the-right-password-1")
    answers = [client.post("/admin/login/", {"username": "ops@example.com", "password": "guess"}).status_code
               for _ in range(10)]  # fmt: skip
    assert answers == [200] * 9 + [429]  # the tenth wrong guess is checked, and locks the user out

    refused = client.post("/admin/login/", {"username": "ops@example.com", "password": "the-right-password-1"})

    assert refused.status_code == 429
    assert client.get("/admin/").status_code == 302  # still not logged in


def test_one_address_guessing_many_users_is_refused_after_10_failures(client):
    User.objects.create_superuser(email="ops@example.com", password="the-right-password-1")
    for number in range(10):
        client.post("/admin/login/", {"username": f"user{number}@example.com", "password": "guess"})

    refused = client.post("/admin/login/", {"username": "ops@example.com", "password": "the-right-password-1"})

    assert refused.status_code == 429


def test_a_right_password_before_the_limit_logs_in_and_clears_the_failures(client):
    User.objects.create_superuser(email="ops@example.com", password="the-right-password-1")
    for _ in range(9):
        client.post("/admin/login/", {"username": "ops@example.com", "password": "guess"})

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "ops@example.com", "password": "the-right-password-1"}
    )

    assert response.status_code == 302 and client.get("/admin/").status_code == 200
