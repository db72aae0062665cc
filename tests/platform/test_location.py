"""Every operation that answers 201 or 202 says where its answer points (`Location`), or is one of the
few whose dialect has no route to read what it made. The dialect tests follow each Location they get
(tests/dialects/conftest.py); this one makes sure no such route is left out of that."""

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIRequestFactory

from persona_platform.api.dialects import Location
from tests.dialects.conftest import NO_READABLE_ROUTE


def created_operations() -> list[tuple[str, str, type]]:
    """(path, method, view class) of every documented operation whose answers include a 201 or 202."""
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    found = []
    for path, _, method, callback in generator.endpoints:
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation and {"201", "202"} & set(operation["responses"]):
            found.append((path, method, callback.cls))
    return found


def test_every_creating_operation_declares_its_location_or_has_no_route_to_read():
    without = {
        (path, method) for path, method, view in created_operations() if getattr(view, "created_location", None) is None
    }

    assert without == {
        ("/persona/api/admin/add_voice", "POST"),
        ("/persona/api/admin/instance", "POST"),
        ("/persona/api/admin/video", "POST"),
        ("/persona/api/instance", "POST"),
        ("/persona/api/kb/review-data", "POST"),
        ("/voice/api/v2/voice/generate", "POST"),
    }
    assert len(NO_READABLE_ROUTE) == len(without)


def test_every_declared_location_names_a_route():
    for _, _, view in created_operations():
        location = getattr(view, "created_location", None)
        if location is not None:
            reverse(
                location.route,
                kwargs={
                    name: "1" if name != "character_id" else "char_01HZX6FQJ5N6E7T2M3A4B5C6D7" for name in location.args
                },
            )


@pytest.mark.parametrize(
    ("location", "body", "path", "expected"),
    [
        (Location("persons:person-detail", {"person_id": "id"}), {"id": 7}, {}, "http://testserver/api/v1/persons/7"),
        (
            Location(
                "influgen-characters:motion-transfer-detail", {"character_id": "path:character_id", "job_id": "job.id"}
            ),
            {"job": {"id": "12"}},
            {"character_id": "01HZX6FQJ5N6E7T2M3A4B5C6D7"},
            "http://testserver/api/v1/characters/char_01HZX6FQJ5N6E7T2M3A4B5C6D7/motion-transfer/12",
        ),
        (
            Location(
                "bhuman-persona:kb-training-data-item",
                {"data_id": "page_ids.0"},
                query={"instance_id": "request:instance_id"},
            ),
            {"page_ids": ["5", "6"]},
            {},
            "http://testserver/persona/api/kb/training-data/5?instance_id=9",
        ),
    ],
)
def test_a_location_is_built_from_the_answer_the_path_and_the_request(location, body, path, expected):
    request = APIRequestFactory().post("/", {"instance_id": "9"}, format="json")
    request.data = {"instance_id": "9"}
    request.query_params = {}

    assert location.url(request, body, path) == expected


def test_a_query_value_the_request_does_not_name_is_left_out():
    location = Location(
        "bhuman-persona:kb-training-data-item", {"data_id": "page_ids.0"}, query={"instance_id": "request:instance_id"}
    )
    request = APIRequestFactory().post("/", {}, format="json")
    request.data, request.query_params = {}, {}

    assert location.url(request, {"page_ids": ["5"]}, {}) == "http://testserver/persona/api/kb/training-data/5"


def test_an_answer_without_the_named_field_gets_no_location_rather_than_a_500(caplog):
    request = APIRequestFactory().post("/", {}, format="json")
    request.data, request.query_params = {}, {}

    assert Location("persons:person-detail", {"person_id": "id"}).url(request, {"name": "x"}, {}) is None
    assert "no Location for persons:person-detail" in caplog.text
