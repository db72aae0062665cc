"""TwinTone `/v1/personas`, exactly as the seed shows: string ids, the pagination envelope, 400 errors."""

import pytest
from django.utils.dateparse import parse_datetime

from characters.models import SpeakingProfile
from tests import factories
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(raw_key):
    from rest_framework.test import APIClient

    return APIClient(HTTP_X_API_KEY=raw_key)


def test_create_answers_the_seed_shape(client, workspace):
    response = client.post(
        "/v1/personas",
        {"name": "Narrator", "description": "Calm", "voice_settings": {"pitch": 2, "speed": 1.25}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == ["id", "name", "description", "created_at"]
    profile = SpeakingProfile.objects.get(pk=int(body["id"]))
    assert isinstance(body["id"], str)
    assert (body["name"], body["description"]) == ("Narrator", "Calm")
    assert (profile.workspace, profile.pitch, profile.speed) == (workspace, 2.0, 1.25)
    assert parse_datetime(body["created_at"]) == profile.created_at


def test_get_shows_the_voice_settings(client, workspace):
    profile = SpeakingProfile.objects.create(workspace=workspace, name="N", pitch=-3, speed=0.8)

    body = client.get(f"/v1/personas/{profile.pk}").json()

    assert body == {
        "id": str(profile.pk),
        "name": "N",
        "description": "",
        "voice_settings": {"pitch": -3.0, "speed": 0.8},
        "created_at": body["created_at"],
    }


def test_list_pages_in_the_envelope(client, workspace):
    for index in range(3):
        SpeakingProfile.objects.create(workspace=workspace, name=f"P{index}")

    body = client.get("/v1/personas", {"page": 2, "limit": 2}).json()

    assert [item["name"] for item in body["personas"]] == ["P0"]
    assert body["pagination"] == {"total": 3, "page": 2, "pages": 2}
    assert list(body["personas"][0]) == ["id", "name", "description", "created_at"]


def test_patch_changes_what_is_sent_and_answers_updated_at(client, workspace):
    profile = SpeakingProfile.objects.create(workspace=workspace, name="Old", description="Keep", pitch=1, speed=1)

    response = client.patch(
        f"/v1/personas/{profile.pk}", {"name": "New", "voice_settings": {"speed": 1.5}}, format="json"
    )

    body = response.json()
    assert response.status_code == 200
    assert list(body) == ["id", "name", "description", "voice_settings", "updated_at"]
    assert (body["name"], body["description"], body["voice_settings"]) == ("New", "Keep", {"pitch": 1.0, "speed": 1.5})


def test_delete_is_204(client, workspace):
    profile = SpeakingProfile.objects.create(workspace=workspace, name="Gone")

    response = client.delete(f"/v1/personas/{profile.pk}")

    assert response.status_code == 204 and not SpeakingProfile.objects.filter(pk=profile.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "voice_settings": {"speed": 3}}, "voice_settings.speed"),
        ({"name": "x", "voice_settings": {"pitch": -20}}, "voice_settings.pitch"),
        ({"name": "x", "voice_settings": "fast"}, "voice_settings"),
        ({"name": "x", "replica_id": 999999}, "replica_id"),
    ],
)
def test_bad_input_is_400_in_the_seed_envelope(client, body, field):
    response = client.post("/v1/personas", body, format="json")

    assert_vendor_error(response, 400, "ValidationError", f"{field}:")


def test_an_unknown_replica_id_is_404_naming_the_field(client):
    response = client.post("/v1/personas", {"name": "x", "replica_id": "999999"}, format="json")

    assert_vendor_error(response, 404, "NotFound", "replica_id: no replica with id '999999'.")
    assert not SpeakingProfile.objects.filter(name="x").exists()


def test_a_persona_can_speak_with_a_replicas_voice(client, workspace):
    person = factories.person_create(workspace=workspace)

    body = client.post("/v1/personas", {"name": "With voice", "replica_id": str(person.pk)}, format="json").json()

    assert SpeakingProfile.objects.get(pk=int(body["id"])).person == person


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_workspaces_persona_is_404(other_client, workspace, method):
    profile = SpeakingProfile.objects.create(workspace=workspace, name="Mine")

    response = getattr(other_client, method)(f"/v1/personas/{profile.pk}", {"name": "x"}, format="json")

    assert_vendor_error(response, 404, "NotFound")
    assert SpeakingProfile.objects.get(pk=profile.pk).name == "Mine"
