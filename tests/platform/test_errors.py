"""Every error of /api/v1 and /v1 comes in the contract's envelope: never HTML, never a traceback."""

import pytest
from django.test import Client

from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/persons/abc", "/v1/nothing", "/api/v1/persons/1/x"])
def test_unknown_routes_are_404_envelopes(api_client, path):
    assert_vendor_error(api_client.get(path), 404, "NotFound")


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_routes_stay_json_in_debug_mode(api_client, settings, debug):
    settings.DEBUG = debug

    assert_vendor_error(api_client.get("/api/v1/nothing-here"), 404, "NotFound")


def test_bhuman_routes_answer_in_the_bhuman_shape(api_client):
    response = api_client.get("/persona/api/nothing")

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "No such route."}


@pytest.mark.urls("tests.platform.error_urls")
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/boom", "/api/v1/plain-boom", "/v1/boom"])
def test_unexpected_errors_are_500_envelopes_without_internals(settings, debug, path):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)

    response = client.get(path)

    body = assert_vendor_error(response, 500, "InternalServerError")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in body["message"]


@pytest.mark.urls("tests.platform.error_urls")
def test_bhuman_500_is_a_bhuman_envelope():
    response = Client(raise_request_exception=False).get("/persona/api/boom")

    assert response.status_code == 500
    assert response.json() == {"status": "error", "message": "An unexpected error occurred. It has been logged."}


def test_a_body_over_the_limit_is_413_before_authentication(anonymous_client, settings):
    settings.API_MAX_BODY_BYTES = 1000

    response = anonymous_client.post("/api/v1/persons", data=b"{" + b" " * 2000 + b"}", content_type="application/json")

    assert_vendor_error(response, 413, "PayloadTooLarge", "limit")


def test_the_default_body_limit_admits_a_10_mb_photo_as_base64(settings):
    assert settings.API_MAX_BODY_BYTES >= 10 * 1024 * 1024 * 4 // 3 + 1024
    assert settings.API_MAX_BODY_BYTES < 15 * 1024 * 1024


def test_a_non_json_content_type_is_415(api_client):
    response = api_client.post("/api/v1/persons", data="name=x", content_type="application/x-www-form-urlencoded")

    assert_vendor_error(response, 415, "UnsupportedMediaType")


def test_html_pages_outside_the_api_are_left_alone(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
