import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(settings):
    settings.API_RATE_LIMIT = "3/minute"


def test_requests_beyond_the_rate_get_429_with_retry_after(api_client, three_a_minute):
    statuses = [api_client.get("/api/v1/persons").status_code for _ in range(3)]

    response = api_client.get("/api/v1/persons")

    assert statuses == [200, 200, 200]
    assert_vendor_error(response, 429, "TooManyRequests", "Retry in")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_limit_is_per_key_not_per_client(workspace, three_a_minute):
    first, second = factories.api_key_create(workspace=workspace), factories.api_key_create(workspace=workspace)
    for _ in range(3):
        APIClient(HTTP_X_API_KEY=first.raw).get("/api/v1/persons")

    # A fresh client with the same key is throttled: the count lives in the shared cache.
    assert APIClient(HTTP_AUTHORIZATION=first.raw).get("/api/v1/persons").status_code == 429
    assert APIClient(HTTP_X_API_KEY=second.raw).get("/api/v1/persons").status_code == 200


def test_writes_count_too(api_client, three_a_minute):
    for _ in range(3):
        api_client.post("/api/v1/persons", {}, format="json")

    assert api_client.post("/api/v1/persons", {}, format="json").status_code == 429


def test_the_window_resets(api_client, three_a_minute, monkeypatch):
    import persona_platform.api.throttling as throttling

    now = [1_000_000.0]
    monkeypatch.setattr(throttling.time, "time", lambda: now[0])
    for _ in range(4):
        api_client.get("/api/v1/persons")
    assert api_client.get("/api/v1/persons").status_code == 429

    now[0] += 60

    assert api_client.get("/api/v1/persons").status_code == 200
