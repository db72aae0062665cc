"""The OpenAPI document as a client's tooling reads it: valid OpenAPI 3, every parameter described,
ReDoc served beside Swagger UI."""

import json

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from openapi_spec_validator import validate

from persona_platform.api.examples import EXAMPLES


@pytest.fixture(scope="module")
def schema() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(generated))  # plain JSON types, as a client reads the document


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_is_valid_openapi(schema):
    validate(schema)  # raises OpenAPIValidationError naming the first fault


def operations_by_id(schema: dict) -> dict:
    return {operation["operationId"]: operation for _, _, operation in operations(schema)}


def example_errors(schema: dict, media: dict, validator) -> list[str]:
    """What the schema refuses in a media type's example ($refs resolve against the document's components)."""
    media_schema = {**media["schema"], "components": schema["components"]}
    return [error.message for error in validator(media_schema).iter_errors(media["example"])]


def test_every_example_names_an_operation_and_an_answer_it_has(schema):
    by_id = operations_by_id(schema)

    for operation_id, examples in EXAMPLES.items():
        assert operation_id in by_id, f"{operation_id}: no such operation (renamed?)"
        operation = by_id[operation_id]
        if "request" in examples:
            assert operation["requestBody"]["content"]["application/json"]["example"] == examples["request"]
        for status, body in examples.get("responses", {}).items():
            assert operation["responses"][status]["content"]["application/json"]["example"] == body, operation_id


def test_every_example_is_valid_against_its_schema(schema):
    faults = {}
    for operation_id, examples in EXAMPLES.items():
        operation = operations_by_id(schema)[operation_id]
        if "request" in examples:
            media = operation["requestBody"]["content"]["application/json"]
            faults[f"{operation_id} request"] = example_errors(schema, media, OAS30WriteValidator)
        for status in examples.get("responses", {}):
            media = operation["responses"][status]["content"]["application/json"]
            faults[f"{operation_id} {status}"] = example_errors(schema, media, OAS30ReadValidator)

    assert {name: errors for name, errors in faults.items() if errors} == {}


def test_each_dialect_has_examples_from_its_document():
    prefixes = {operation_id.split("_")[0] for operation_id in EXAMPLES}

    assert prefixes == {"persons", "influgen", "twintone", "bhuman"}
    assert EXAMPLES["influgen_character_list_post"]["request"]["name"] == "Mila Hart"


def test_every_path_and_query_parameter_is_described(schema):
    undescribed = [
        (operation["operationId"], parameter["in"], parameter["name"])
        for _, _, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["in"] in {"path", "query"} and not parameter.get("description", "").strip()
    ]

    assert undescribed == []


def test_path_ids_say_what_they_name(schema):
    parameters = {
        parameter["name"]: parameter["description"]
        for parameter in schema["paths"]["/api/v1/characters/{character_id}"]["get"]["parameters"]
    }

    assert parameters["character_id"].startswith("The character's id: `char_` and a ULID")


def test_influgen_operations_are_tagged_influgen(schema):
    influgen = [
        (path, method, operation)
        for path, method, operation in operations(schema)
        if path.startswith(("/api/v1/characters", "/api/v1/voices", "/api/v1/talking-head"))
    ]

    assert influgen
    assert {tuple(operation["tags"]) for _, _, operation in influgen} == {("influgen",)}
    assert all(operation["operationId"].startswith("influgen_") for _, _, operation in influgen)


def test_redoc_is_served_without_a_cdn():
    response = Client().get("/api/redoc/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/static/drf_spectacular_sidecar/redoc" in response.content
    assert b"/api/schema/" in response.content
    assert b"cdn.jsdelivr" not in response.content


def test_the_headers_the_plumbing_sets_are_documented(schema):
    created = schema["paths"]["/v1/videos"]["post"]["responses"]
    listed = schema["paths"]["/v1/videos"]["get"]["responses"]
    health = schema["paths"]["/healthz"]["get"]["responses"]

    assert set(created["201"]["headers"]) == {"X-Request-ID", "RateLimit-Policy", "RateLimit", "Location"}
    assert set(listed["200"]["headers"]) == {"X-Request-ID", "RateLimit-Policy", "RateLimit"}
    assert set(listed["429"]["headers"]) == {"X-Request-ID", "RateLimit-Policy", "RateLimit"}
    assert "headers" not in health["200"] or "RateLimit" not in health["200"]["headers"]
    assert schema["components"]["headers"]["Location"]["schema"] == {"type": "string", "format": "uri"}
    assert "draft-ietf-httpapi-ratelimit-headers" in schema["components"]["headers"]["RateLimit-Policy"]["description"]
