"""The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers) on every answer to a counted key."""

import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

RATE_LIMIT = re.compile(r'"default";r=(\d+);t=(\d+)')


@pytest.fixture
def three_a_minute(settings):
    settings.API_RATE_LIMIT = "3/minute"


def remaining_and_reset(response) -> tuple[int, int]:
    match = RATE_LIMIT.fullmatch(response["RateLimit"])
    assert match, response["RateLimit"]
    return int(match[1]), int(match[2])


def test_each_answer_says_the_policy_and_what_is_left(api_client, three_a_minute):
    responses = [api_client.get("/api/v1/persons") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert {response["RateLimit-Policy"] for response in responses} == {'"default";q=3;w=60'}
    assert [remaining_and_reset(response)[0] for response in responses] == [2, 1, 0]
    assert all(1 <= remaining_and_reset(response)[1] <= 60 for response in responses)


def test_a_429_carries_them_too(api_client, three_a_minute):
    for _ in range(3):
        api_client.get("/api/v1/persons")

    response = api_client.get("/api/v1/persons")

    assert response.status_code == 429
    assert response["RateLimit-Policy"] == '"default";q=3;w=60'
    remaining, reset = remaining_and_reset(response)
    assert remaining == 0
    assert 1 <= reset <= 60
    assert abs(reset - int(response["Retry-After"])) <= 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/personas"),
        ("get", "/persona/api/persona/chats"),
        ("get", "/api/v1/characters/char_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ],
)
def test_every_dialect_and_errors_carry_them(api_client, method, path):
    response = getattr(api_client, method)(path)

    assert response["RateLimit-Policy"] == '"default";q=600;w=60', response.status_code
    assert remaining_and_reset(response)[0] == 599


def test_an_answer_to_no_key_has_none(anonymous_client):
    response = anonymous_client.get("/api/v1/persons")

    assert response.status_code == 401
    assert "RateLimit" not in response
    assert "RateLimit-Policy" not in response


def test_none_when_rate_limiting_is_off(api_client, settings):
    settings.API_RATE_LIMIT = ""

    response = api_client.get("/api/v1/persons")

    assert response.status_code == 200
    assert "RateLimit" not in response


def test_a_key_whose_limit_another_client_used_sees_its_count(workspace, three_a_minute, raw_key):
    APIClient(HTTP_X_API_KEY=raw_key).get("/v1/personas")

    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get("/api/v1/persons")

    assert remaining_and_reset(response)[0] == 1
