"""Every number a client sends has a range checked before any work, bodies have a bounded shape, and
no bad input is a 500. Each case here once took a worker down or answered 500."""

import json

import pytest

from knowledge.models import KnowledgePage, KnowledgeStream
from knowledge.services.pages import MAX_STREAM_BATCHES
from persona_platform.api.pagination import MAX_PAGE
from tests import factories
from tests.helpers import assert_bhuman_error, assert_vendor_error

pytestmark = pytest.mark.django_db

HUGE = 99999999999999999999


@pytest.fixture
def persona(workspace):
    return factories.person_create(workspace=workspace, name="Maya")


def stream(client, batch_index: int):
    return client.post(
        "/persona/api/kb/stream-pages",
        {"stream_data": {"stream_id": "s1", "pages": [{"title": "T", "content": "C"}], "batch_index": batch_index}},
        format="json",
    )


@pytest.mark.parametrize("batch_index", [2**62, 10**6, MAX_STREAM_BATCHES])
def test_a_batch_index_past_the_streams_bound_is_a_400_and_costs_nothing(api_client, persona, batch_index):
    response = stream(api_client, batch_index)

    assert_bhuman_error(response, 400, "batch_index")
    assert not KnowledgePage.objects.exists() and not KnowledgeStream.objects.exists()


def test_the_last_batch_index_of_the_bound_is_accepted_and_its_answer_stays_small(
    api_client, persona, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = stream(api_client, MAX_STREAM_BATCHES - 1)

    assert response.status_code == 200, response.content
    assert len(response.json()["missing_batches"]) == MAX_STREAM_BATCHES - 1 and len(response.content) < 100_000


VENDOR_LISTS = ["/api/v1/persons", "/api/v1/characters", "/api/v1/influencers"]
TWINTONE_LISTS = ["/v1/personas", "/v1/replicas", "/v1/speech", "/v1/videos", "/v1/conversations"]
BHUMAN_LISTS = ["/persona/api/kb/training-data", "/persona/api/persona/chats?user_id=u1"]


@pytest.mark.parametrize("path", VENDOR_LISTS + TWINTONE_LISTS + BHUMAN_LISTS)
@pytest.mark.parametrize("page", [HUGE, MAX_PAGE + 1, 0, -1])
def test_a_page_number_out_of_range_is_a_4xx_in_the_dialects_envelope(api_client, persona, path, page):
    joiner = "&" if "?" in path else "?"

    response = api_client.get(f"{path}{joiner}page={page}")

    assert 400 <= response.status_code < 500, response.content
    if path.startswith("/persona/"):
        assert_bhuman_error(response, response.status_code)
    else:
        assert_vendor_error(response, response.status_code, response.json()["error"], "page")


def test_the_last_allowed_page_is_an_empty_page(api_client):
    response = api_client.get(f"/v1/replicas?page={MAX_PAGE}")

    assert response.status_code == 200 and response.json()["replicas"] == []


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_json_nested_past_32_levels_is_a_400(api_client, depth):
    response = api_client.post("/v1/personas", nested(depth), content_type="application/json")

    assert_vendor_error(response, 400, "BadRequest", "nested")


def test_a_deep_profile_object_is_refused_before_it_reaches_the_database(api_client, persona):
    configuration = '{"a": ' * 5_000 + "{}" + "}" * 5_000  # too deep for json.dumps to even write

    response = api_client.post(
        "/persona/api/admin/instance",
        f'{{"name": "Deep", "configuration": {configuration}}}',
        content_type="application/json",
    )

    assert_bhuman_error(response, 400, "nested")


def test_json_at_32_levels_is_parsed_as_usual(api_client):
    response = api_client.post("/v1/personas", nested(32), content_type="application/json")

    assert response.status_code == 400 and "nested" not in response.json()["message"]  # a shape error, not a bound


def test_json_with_too_many_keys_is_a_400(api_client, settings):
    body = json.dumps({f"k{index}": index for index in range(settings.API_MAX_JSON_KEYS + 1)})

    assert_vendor_error(api_client.post("/v1/personas", body, content_type="application/json"), 400, "BadRequest")


def test_brackets_inside_strings_do_not_count_as_nesting(api_client):
    response = api_client.post(
        "/v1/personas", json.dumps({"name": "[" * 100, "system_prompt": "{" * 100}), content_type="application/json"
    )

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("path", ["/media/jobs/", "/media/jobs", "/media/", "/media/persons"])
def test_a_media_folder_is_a_404_not_a_500(client, media_root, path):
    (media_root / "jobs").mkdir(exist_ok=True)
    (media_root / "persons").mkdir(exist_ok=True)

    assert client.get(path).status_code == 404


@pytest.mark.parametrize("value", [False, True])
def test_a_boolean_is_not_a_number(api_client, persona, value):
    response = api_client.put(
        f"/api/v1/characters/{persona.character_id}/voice/settings", {"pitch": value}, format="json"
    )

    assert_vendor_error(response, 422, "ValidationError", "pitch")
    persona.refresh_from_db()
    assert "pitch" not in persona.voice_settings


@pytest.mark.parametrize("company_id", [2**63, 2**70])
def test_an_id_past_64_bits_is_a_validation_error_not_a_500(api_client, company_id):
    body = {"name": "Alex", "photo_base64": factories.image_base64(), "company_id": company_id}

    assert_vendor_error(api_client.post("/api/v1/persons", body, format="json"), 422, "ValidationError", "company_id")
    assert_vendor_error(
        api_client.get(f"/api/v1/persons?company_id={company_id}"), 422, "ValidationError", "company_id"
    )


def test_a_route_without_media_takes_a_small_body_and_a_media_route_a_large_one(api_client, settings):
    padding = "x" * (settings.API_MAX_JSON_BODY_BYTES + 1)

    small = api_client.post("/v1/personas", {"name": "P", "system_prompt": padding}, format="json")
    large = api_client.post("/api/v1/persons", {"name": "P", "photo_base64": padding}, format="json")

    assert_vendor_error(small, 413, "PayloadTooLarge", "the limit for this route is 1.0 MB")
    assert large.status_code in (400, 422)  # read and checked (not a photo), within the media route's limit
