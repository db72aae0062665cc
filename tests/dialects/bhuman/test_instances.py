"""BHuman `/persona/api/admin/instance` and `/persona/api/instance`: an instance is a persona."""

import pytest

from characters.models import Person, Voice
from knowledge.models import Conversation, KnowledgePage
from tests import factories
from tests.helpers import assert_bhuman_error

pytestmark = pytest.mark.django_db

ROUTES = ["/persona/api/admin/instance", "/persona/api/instance"]
DELETE_URL = "/persona/api/instance"

# The seed's body, as sent (bhuman-persona-a, "POST /api/admin/instance" and "POST /api/instance").
SEED_BODY = {
    "instance_data": {
        "name": "PersonaName",
        "description": "A detailed description of the persona",
        "configuration": {"setting1": "value1", "setting2": "value2"},
    }
}


@pytest.mark.parametrize("url", ROUTES)
def test_the_seed_body_creates_a_persona_with_its_configuration(api_client, workspace, url):
    response = api_client.post(url, SEED_BODY, format="json")

    assert response.status_code == 201, response.content
    payload = response.json()
    assert list(payload) == ["status", "message", "instance_id"]
    assert (payload["status"], payload["message"]) == ("success", "Instance created successfully")
    assert isinstance(payload["instance_id"], str) and payload["instance_id"].isdigit()
    person = Person.objects.get(pk=int(payload["instance_id"]))
    assert (person.workspace, person.name, person.description) == (
        workspace, "PersonaName", "A detailed description of the persona",
    )  # fmt: skip
    assert person.settings == {"setting1": "value1", "setting2": "value2"}
    assert person.is_demo is False


def test_each_create_is_a_new_instance_the_other_dialects_see(api_client):
    first = api_client.post(ROUTES[0], SEED_BODY, format="json").json()["instance_id"]
    second = api_client.post(ROUTES[1], SEED_BODY, format="json").json()["instance_id"]

    assert first != second
    replica = api_client.get(f"/v1/replicas/{first}")
    assert replica.status_code == 200 and replica.json()["name"] == "PersonaName"


def test_an_empty_configuration_and_description_are_kept(api_client):
    body = {"instance_data": {"name": "Plain", "description": "", "configuration": {}}}

    response = api_client.post(ROUTES[1], body, format="json")

    assert response.status_code == 201, response.content
    person = Person.objects.get(pk=int(response.json()["instance_id"]))
    assert (person.description, person.settings) == ("", {})


def test_admin_instance_does_not_delete(api_client, workspace):
    person = factories.person_create(workspace=workspace, with_photo=False)

    response = api_client.delete(ROUTES[0], {"instance_id": str(person.pk)}, format="json")

    assert_bhuman_error(response, 405)
    assert Person.objects.filter(pk=person.pk).exists()


# --- delete -------------------------------------------------------------------------------------


def test_delete_removes_the_instance_with_its_voices_knowledge_and_chats(api_client, workspace):
    instance_id = api_client.post(ROUTES[1], SEED_BODY, format="json").json()["instance_id"]
    person = Person.objects.get(pk=int(instance_id))
    factories.voice_create(person=person, provider=Voice.Provider.LOCAL, voice_id="local_1")
    KnowledgePage.objects.create(workspace=workspace, person=person, title="T", content="Some content.")
    Conversation.objects.create(workspace=workspace, person=person, public_id="chat_x", user_id="u")
    kept = factories.person_create(workspace=workspace, with_photo=False)

    response = api_client.delete(DELETE_URL, {"instance_id": instance_id}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "success", "message": "Instance deleted successfully"}
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not Voice.objects.exists() and not KnowledgePage.objects.exists()
    assert Person.objects.filter(pk=kept.pk).exists()
    # A second delete of the same id finds nothing.
    assert_bhuman_error(
        api_client.delete(DELETE_URL, {"instance_id": instance_id}, format="json"),
        404,
        f"instance_id: no instance with id {instance_id!r}",
    )


def test_delete_of_an_unknown_or_foreign_instance_is_404_and_deletes_nothing(api_client, workspace, other_workspace):
    mine = factories.person_create(workspace=workspace, with_photo=False)
    theirs = factories.person_create(workspace=other_workspace, with_photo=False)
    before = Person.objects.count()

    # An instance id is a string: any string that names nothing this workspace has is a 404.
    for instance_id in (str(theirs.pk), "999999", "abc", "-1", "1" * 19):
        response = api_client.delete(DELETE_URL, {"instance_id": instance_id}, format="json")
        assert_bhuman_error(response, 404, f"instance_id: no instance with id {instance_id!r}.")
    # Not a string, or an empty one, is not an id at all: a validation error.
    for instance_id in ("", 5, None, ["1"]):
        response = api_client.delete(DELETE_URL, {"instance_id": instance_id}, format="json")
        assert_bhuman_error(response, 400, "instance_id:")

    assert Person.objects.count() == before
    assert Person.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2


def test_the_demo_person_cannot_be_deleted(api_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    response = api_client.delete(DELETE_URL, {"instance_id": str(demo.pk)}, format="json")

    assert_bhuman_error(response, 403, "read-only")
    assert Person.objects.filter(pk=demo.pk).exists()


def test_delete_without_a_body_or_with_a_number_is_400_naming_instance_id(api_client, workspace):
    person = factories.person_create(workspace=workspace, with_photo=False)

    assert_bhuman_error(api_client.delete(DELETE_URL, {}, format="json"), 400, "instance_id: This field is required.")
    assert_bhuman_error(api_client.delete(DELETE_URL, {"instance_id": person.pk}, format="json"), 400, "instance_id:")
    assert Person.objects.filter(pk=person.pk).exists()


# --- wrong shapes -------------------------------------------------------------------------------

MISSING = object()


def instance_data(**changes) -> dict:
    data = {**SEED_BODY["instance_data"], **changes}
    return {"instance_data": {key: value for key, value in data.items() if value is not MISSING}}


WRONG_SHAPES = [
    ({}, "instance_data: This field is required."),
    ({"instance_data": "PersonaName"}, "instance_data:"),
    ({"instance_data": []}, "instance_data:"),
    (instance_data(name=MISSING), "instance_data.name: This field is required."),
    (instance_data(description=MISSING), "instance_data.description: This field is required."),
    (instance_data(configuration=MISSING), "instance_data.configuration: This field is required."),
    (instance_data(name=""), "instance_data.name:"),
    (instance_data(name=5), "instance_data.name:"),
    (instance_data(name=None), "instance_data.name:"),
    (instance_data(name="x" * 201), "instance_data.name:"),
    (instance_data(description=["a"]), "instance_data.description:"),
    (instance_data(configuration="setting1=value1"), "instance_data.configuration:"),
    (instance_data(configuration=["value1"]), "instance_data.configuration:"),
    # PostgreSQL's jsonb holds no NUL: these were 500s there.
    (instance_data(configuration={"setting1": "value\x00"}), "instance_data.configuration: Null characters"),
    (instance_data(configuration={"setting\x001": "value1"}), "instance_data.configuration: Null characters"),
]


@pytest.mark.parametrize("url", ROUTES)
def test_a_body_of_the_wrong_shape_is_400_naming_the_field(api_client, url):
    before = Person.objects.count()

    for body, message in WRONG_SHAPES:
        assert_bhuman_error(api_client.post(url, body, format="json"), 400, message)

    assert Person.objects.count() == before


def test_malformed_json_and_a_missing_key_are_refused_in_bhumans_shape(api_client, anonymous_client):
    assert_bhuman_error(
        api_client.post(ROUTES[1], data=b'{"instance_data": ', content_type="application/json"), 400, "JSON"
    )
    assert_bhuman_error(anonymous_client.post(ROUTES[1], SEED_BODY, format="json"), 401)
    assert_bhuman_error(anonymous_client.delete(DELETE_URL, {"instance_id": "1"}, format="json"), 401)
