import pytest
from django.core.management import call_command
from django.test import Client


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


@pytest.fixture(scope="module")
def schema():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_the_three_key_headers_are_declared_as_alternatives(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"}
    assert schemes["ApiKeyHeader"]["name"] == "x-api-key" and schemes["ApiKeyHeader"]["in"] == "header"
    assert schemes["BareAuthorization"]["name"] == "Authorization"
    operation = schema["paths"]["/api/v1/persons"]["get"]
    assert operation["security"] == [{"BearerAuth": []}, {"ApiKeyHeader": []}, {"BareAuthorization": []}]


def test_every_persons_operation_is_typed_tagged_and_documents_its_errors(schema):
    operations = {
        ("/api/v1/persons", "get"): {"200", "401", "422", "429"},
        ("/api/v1/persons", "post"): {"201", "400", "401", "403", "404", "413", "415", "422", "429"},
        ("/api/v1/persons/{person_id}", "get"): {"200", "401", "404", "429"},
        ("/api/v1/persons/{person_id}", "put"): {"200", "400", "401", "403", "404", "413", "415", "422", "429"},
        ("/api/v1/persons/{person_id}", "delete"): {"204", "401", "403", "404", "429"},
    }
    for (path, method), codes in operations.items():
        operation = schema["paths"][path][method]
        assert operation["tags"] == ["Persons (twin.actor)"]
        assert operation["operationId"].startswith("persons_")
        assert set(operation["responses"]) == codes, (path, method)
        assert operation.get("description"), (path, method)


def test_the_person_object_is_fully_typed(schema):
    person = schema["components"]["schemas"]["PersonsPerson"]["properties"]

    assert person["id"]["type"] == "integer"
    assert person["has_voice"]["type"] == "boolean"
    assert person["photo_url"]["format"] == "uri"
    assert person["created_at"]["format"] == "date-time"
    create = schema["components"]["schemas"]["PersonsPersonCreateRequest"]
    assert set(create["required"]) == {"name", "photo_base64"}


def test_swagger_ui_is_served_without_a_cdn():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
    assert b"/static/drf_spectacular_sidecar/" in response.content
