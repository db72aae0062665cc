"""Checks every dialect test makes on the way: each 201 and 202 answer's `Location` names a route of
the same API that answers 200 and names the same resource. The dialect tests already create every kind
of resource and start every kind of job with valid bodies, so checking their answers covers each route
that creates one, and a new route that forgets its `created_location` fails the test that exercises it."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import resolve

from persona_platform.api.dialects import dialect_for_path

# Routes that create something that their dialect has no route to read (BHuman's instances, a profile
# video, data sent for review, voices: `/persona/voice/{id}` answers only once a voice is ready): their
# 201 or 202 carries no Location. Adding a read route means naming it in the view's `created_location` and
# removing the route here.
NO_READABLE_ROUTE = {
    "bhuman-persona:instance",
    "bhuman-persona:admin-instance",
    "bhuman-persona:admin-video",
    "bhuman-persona:admin-add-voice",
    "bhuman-voice-generate",
    "bhuman-persona:kb-review-data",
}
KEY_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY")


def assert_location(client: Client, send, environ: dict, response) -> None:
    route = resolve(environ["PATH_INFO"]).view_name
    if route in NO_READABLE_ROUTE:
        assert "Location" not in response, route
        return
    assert "Location" in response, (
        f"{environ['REQUEST_METHOD']} {route} answered {response.status_code} without Location"
    )
    location = urlsplit(response["Location"])
    sent = {**client.defaults, **environ}
    host = sent.get("HTTP_HOST") or sent.get("SERVER_NAME", "testserver")
    assert (location.scheme, location.netloc) == ("http", host), response["Location"]
    assert dialect_for_path(location.path) == dialect_for_path(environ["PATH_INFO"]), response["Location"]
    keys = {name: environ[name] for name in KEY_HEADERS if name in environ}
    followed = send(client, REQUEST_METHOD="GET", PATH_INFO=location.path, QUERY_STRING=location.query, **keys)
    assert followed.status_code == 200, (response["Location"], followed.content)
    # The ids in the Location are the created resource's (from the answer) or its parent's (from the path).
    created = response.content.decode()
    for segment in location.path.split("/"):
        if segment.isdigit() or segment.startswith("char_"):
            assert segment in environ["PATH_INFO"] or f'"{segment}"' in created or segment in created, (
                response["Location"],
                created,
            )


@pytest.fixture(autouse=True)
def created_answers_locate_what_they_made(monkeypatch):
    send = Client.request

    def request(self, **environ):
        response = send(self, **environ)
        if response.status_code in (201, 202) and dialect_for_path(environ.get("PATH_INFO", "")):
            assert_location(self, send, environ, response)
        return response

    monkeypatch.setattr(Client, "request", request)
