"""The twin.actor Persons API, request by request as the seed shows it."""

import io

import pytest
from django.utils.dateparse import parse_datetime
from PIL import Image

from characters.models import Person, Voice
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

SUMMARY_FIELDS = ["id", "name", "description", "photo_url", "has_voice", "voice_provider", "created_at"]
PERSON_FIELDS = [
    "id", "name", "description", "photo_url", "has_voice", "voice_provider", "voice_id",
    "company_id", "user_id", "created_at", "updated_at",
]  # fmt: skip


def create_body(**overrides) -> dict:
    return {
        "name": "Alex Chen",
        "description": "Tech startup founder",
        "photo_base64": factories.image_base64(),
        **overrides,
    }


def fetch_photo(client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200
    return Image.open(io.BytesIO(b"".join(response.streaming_content)))


def test_create_returns_the_person_object_of_the_seed(api_client, workspace):
    response = api_client.post(
        "/api/v1/persons", create_body(photo_base64=factories.image_base64(data_url=True)), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == PERSON_FIELDS
    person = Person.objects.get(pk=body["id"])
    assert body["name"] == "Alex Chen"
    assert body["description"] == "Tech startup founder"
    assert body["has_voice"] is False
    assert body["voice_provider"] is None and body["voice_id"] is None and body["company_id"] is None
    assert body["user_id"] == workspace.owner_id
    assert parse_datetime(body["created_at"]) == person.created_at
    assert body["photo_url"].startswith("http://testserver/media/persons/photos/")
    assert body["photo_url"].endswith(".jpg")
    assert person.workspace == workspace and not person.is_demo


def test_create_serves_the_photo_at_its_absolute_url(api_client):
    body = api_client.post("/api/v1/persons", create_body(), format="json").json()

    photo = fetch_photo(api_client, body["photo_url"])

    assert photo.format == "JPEG" and photo.size == (256, 256)


def test_photo_names_are_random_not_the_person_id(api_client):
    first = api_client.post("/api/v1/persons", create_body(), format="json").json()
    second = api_client.post("/api/v1/persons", create_body(), format="json").json()

    assert f"/{first['id']}/" not in first["photo_url"]
    name = first["photo_url"].rsplit("/", 1)[1]
    assert len(name.split(".")[0]) >= 20
    assert first["photo_url"] != second["photo_url"]


def test_create_with_a_company_of_the_workspace(api_client, workspace):
    company = factories.company_create(workspace=workspace)

    body = api_client.post("/api/v1/persons", create_body(company_id=company.pk), format="json").json()

    assert body["company_id"] == company.pk


def test_create_refuses_another_workspaces_company(api_client, other_workspace):
    company = factories.company_create(workspace=other_workspace)

    response = api_client.post("/api/v1/persons", create_body(company_id=company.pk), format="json")

    assert_vendor_error(response, 404, "NotFound", f"company_id: no company with id {company.pk}.")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "no name"}, "name"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "A", "description": ["list"]}, "description"),
        ({"name": "A", "company_id": "7"}, "company_id"),
        ({"name": "A", "company_id": 0}, "company_id"),
    ],
)
def test_create_answers_422_naming_the_bad_field(api_client, body, field):
    payload = {"photo_base64": factories.image_base64(), **body}

    response = api_client.post("/api/v1/persons", payload, format="json")

    assert_vendor_error(response, 422, "ValidationError", f"{field}:")
    assert not Person.objects.filter(is_demo=False).exists()


def test_create_answers_400_to_malformed_json(api_client):
    response = api_client.post("/api/v1/persons", data=b'{"name": ', content_type="application/json")

    assert_vendor_error(response, 400, "BadRequest", "JSON")


def test_create_answers_422_to_a_json_array(api_client):
    response = api_client.post("/api/v1/persons", data=b"[]", content_type="application/json")

    assert_vendor_error(response, 422, "ValidationError")


def test_create_refuses_beyond_the_plan_limit(api_client, workspace, settings):
    workspace.plan = "free"
    workspace.save()
    from accounts.plans import PLAN_LIMITS

    for _ in range(PLAN_LIMITS["free"].max_persons):
        factories.person_create(workspace=workspace, with_photo=False)

    response = api_client.post("/api/v1/persons", create_body(), format="json")

    assert_vendor_error(response, 403, "Forbidden", "free plan allows")


def test_list_returns_the_seed_fields_newest_first_with_the_demo_person(api_client, workspace):
    older = factories.person_create(workspace=workspace, name="Older")
    newer = factories.person_create(workspace=workspace, name="Newer")

    response = api_client.get("/api/v1/persons")

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [item["id"] for item in body[:2]] == [newer.pk, older.pk]
    assert [item["name"] for item in body] == ["Newer", "Older", "Nova Demo"]
    assert all(list(item) == SUMMARY_FIELDS for item in body)
    assert response["X-Total-Count"] == "3"


def test_list_pages_with_page_and_limit(api_client, workspace):
    for index in range(4):
        factories.person_create(workspace=workspace, name=f"P{index}", with_photo=False)

    response = api_client.get("/api/v1/persons", {"limit": 2, "page": 2})

    assert [item["name"] for item in response.json()] == ["P1", "P0"]
    assert (response["X-Total-Count"], response["X-Page"], response["X-Pages"]) == ("5", "2", "3")


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 1001}, {"page": 0}, {"page": "x"}, {"has_voice": "maybe"}, {"company_id": "x"}]
)
def test_list_refuses_bad_query_parameters(api_client, query):
    response = api_client.get("/api/v1/persons", query)

    assert_vendor_error(response, 422, "ValidationError", f"{next(iter(query))}:")


def test_list_filters_by_has_voice(api_client, workspace):
    speaking = factories.person_create(workspace=workspace, name="Speaking")
    factories.voice_create(person=speaking)

    with_voice = api_client.get("/api/v1/persons", {"has_voice": "true"}).json()
    without_voice = api_client.get("/api/v1/persons", {"has_voice": "false"}).json()

    assert [item["name"] for item in with_voice] == ["Speaking"]
    assert with_voice[0]["has_voice"] is True and with_voice[0]["voice_provider"] == "elevenlabs"
    assert [item["name"] for item in without_voice] == ["Nova Demo"]


def test_list_filters_by_company(api_client, workspace):
    company = factories.company_create(workspace=workspace)
    factories.person_create(workspace=workspace, name="Employee", company=company)

    body = api_client.get("/api/v1/persons", {"company_id": company.pk}).json()

    assert [item["name"] for item in body] == ["Employee"]


def test_get_returns_the_person_with_its_voice(api_client, workspace):
    person = factories.person_create(workspace=workspace, name="Sarah Johnson", description="Marketing director")
    factories.voice_create(person=person, voice_id="voice_xyz")

    response = api_client.get(f"/api/v1/persons/{person.pk}")

    body = response.json()
    assert response.status_code == 200 and list(body) == PERSON_FIELDS
    assert body["id"] == person.pk
    assert (body["name"], body["description"]) == ("Sarah Johnson", "Marketing director")
    assert (body["has_voice"], body["voice_provider"], body["voice_id"]) == (True, "elevenlabs", "voice_xyz")


@pytest.mark.parametrize("path", ["/api/v1/persons/999999", "/api/v1/persons/99999999999999999999999"])
def test_get_unknown_id_is_404(api_client, path):
    assert_vendor_error(api_client.get(path), 404, "NotFound")


def test_put_changes_only_the_fields_sent(api_client, workspace):
    person = factories.person_create(workspace=workspace, name="Alex Chen", description="Founder")
    photo_before = person.photo.name

    response = api_client.put(f"/api/v1/persons/{person.pk}", {"name": "Alex Chen Jr."}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"]) == ("Alex Chen Jr.", "Founder")
    person.refresh_from_db()
    assert person.name == "Alex Chen Jr." and person.photo.name == photo_before
    assert parse_datetime(body["updated_at"]) > parse_datetime(body["created_at"])


def test_put_with_a_new_photo_replaces_the_old_file(
    api_client, workspace, media_root, django_capture_on_commit_callbacks
):
    person = factories.person_create(workspace=workspace)
    old_file = person.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.put(
            f"/api/v1/persons/{person.pk}",
            {"photo_base64": factories.image_base64(image_format="PNG", size=(300, 200)), "description": ""},
            format="json",
        )

    assert response.status_code == 200, response.content
    person.refresh_from_db()
    assert person.photo.name.endswith(".png") and person.description == ""
    assert old_file not in stored_files(media_root)
    assert person.photo.name in stored_files(media_root)
    assert fetch_photo(api_client, response.json()["photo_url"]).size == (300, 200)


def test_put_can_set_and_clear_the_company(api_client, workspace):
    person = factories.person_create(workspace=workspace)
    company = factories.company_create(workspace=workspace)

    assert (
        api_client.put(f"/api/v1/persons/{person.pk}", {"company_id": company.pk}, format="json").json()["company_id"]
        == company.pk
    )
    assert (
        api_client.put(f"/api/v1/persons/{person.pk}", {"company_id": None}, format="json").json()["company_id"] is None
    )


def test_put_answers_422_for_a_blank_name(api_client, workspace):
    person = factories.person_create(workspace=workspace, name="Kept")

    assert_vendor_error(
        api_client.put(f"/api/v1/persons/{person.pk}", {"name": ""}, format="json"), 422, "ValidationError", "name:"
    )
    person.refresh_from_db()
    assert person.name == "Kept"


def test_delete_removes_the_person_its_voice_clones_and_photo_but_keeps_generated_media(
    api_client, workspace, media_root, django_capture_on_commit_callbacks
):
    person = factories.person_create(workspace=workspace)
    factories.voice_create(person=person)
    library_voice = Voice.objects.create(workspace=workspace, name="Library", provider_voice_id="lib")
    job = MediaJob.objects.create(workspace=workspace, person=person, kind="video", status=MediaJob.Status.READY)
    photo = person.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(f"/api/v1/persons/{person.pk}")

    assert response.status_code == 204 and response.content == b""
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not Voice.objects.filter(person_id=person.pk).exists()
    assert Voice.objects.filter(pk=library_voice.pk).exists()
    job.refresh_from_db()
    assert job.person is None and job.status == MediaJob.Status.READY
    assert photo not in stored_files(media_root)
    assert_vendor_error(api_client.get(f"/api/v1/persons/{person.pk}"), 404, "NotFound")


def test_the_demo_person_is_read_only(api_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    put = api_client.put(f"/api/v1/persons/{demo.pk}", {"name": "Renamed"}, format="json")
    delete = api_client.delete(f"/api/v1/persons/{demo.pk}")

    assert_vendor_error(put, 403, "Forbidden", "demo person is read-only")
    assert_vendor_error(delete, 403, "Forbidden", "demo person is read-only")
    demo.refresh_from_db()
    assert demo.name == "Nova Demo"


def test_the_demo_person_is_readable_with_a_photo(api_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    body = api_client.get(f"/api/v1/persons/{demo.pk}").json()

    assert body["name"] == "Nova Demo" and body["company_id"] == demo.company_id
    assert fetch_photo(api_client, body["photo_url"]).size == (512, 512)


@pytest.mark.parametrize("method", ["patch", "post"])
def test_unsupported_methods_answer_405_with_allow(api_client, workspace, method):
    person = factories.person_create(workspace=workspace)

    response = getattr(api_client, method)(f"/api/v1/persons/{person.pk}", {}, format="json")

    assert_vendor_error(response, 405, "MethodNotAllowed")
    assert "PUT" in response["Allow"] and "DELETE" in response["Allow"]
