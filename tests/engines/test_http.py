"""The provider HTTP helper every adapter uses, against a local server that answers what each test scripts."""

import email.utils
import json
import socket
import threading
import time
from collections import deque

import pytest
import requests

from media_jobs.engines.base import EngineError
from media_jobs.engines.http import ProviderClient, is_retryable, json_object, retry_after_seconds
from tests.fake_http import LocalServer, QuietHandler

API_KEY = "sk-http-test-0123456789abcdef"


class ScriptedServer(LocalServer):
    """Answers each request with the next scripted (status, JSON body, headers, delay); 200 {} when none is left."""

    def __init__(self):
        self.script: deque[tuple[int, object, dict, float]] = deque()
        self.requests: list[dict[str, str]] = []  # the headers of each request, lower-case names
        self._lock = threading.Lock()
        super().__init__(_Handler)

    def answer(self, status: int, body: object = None, *, headers: dict | None = None, delay: float = 0.0):
        self.script.append((status, {} if body is None else body, headers or {}, delay))


class _Handler(QuietHandler):
    def _dispatch(self):
        owner: ScriptedServer = self.server.owner
        with owner._lock:
            owner.requests.append({name.lower(): value for name, value in self.headers.items()})
            status, body, headers, delay = owner.script.popleft() if owner.script else (200, {}, {}, 0.0)
        if delay:
            owner._released.wait(delay)
        self._send(status, json.dumps(body).encode(), "application/json", headers)


@pytest.fixture
def server():
    with ScriptedServer() as server:
        yield server


def client(**overrides) -> ProviderClient:
    values = {
        "provider": "Acme",
        "api_key": API_KEY,
        "key_setting": "ACME_API_KEY",
        "auth_headers": {"Authorization": f"Key {API_KEY}"},
        "timeout": 5.0,
    } | overrides
    return ProviderClient(**values)


def fail(server, status: int, body: object = None, **kwargs) -> EngineError:
    server.answer(status, body, **kwargs)
    with pytest.raises(EngineError) as caught:
        client().request("POST", server.base_url + "/v1/things", what="Making a thing")
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value.args)
    return caught.value


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_busy_conflicting_and_broken_providers_are_retryable(server, status):
    error = fail(server, status, {"detail": "Try again."})

    assert error.retryable is True
    assert str(error) == f"Making a thing failed: Acme answered {status}: Try again."


@pytest.mark.parametrize("status", [400, 402, 403, 404, 410, 422])
def test_refusals_are_not_retryable(server, status):
    assert fail(server, status, {"error": {"message": "No."}}).retryable is False
    assert [is_retryable(code) for code in (status, 409, 599)] == [False, True, True]


def test_a_refused_key_names_the_setting_and_is_scrubbed_from_the_providers_words(server):
    error = fail(server, 401, {"error": {"message": f"Incorrect API key provided: {API_KEY}."}})

    assert error.retryable is False
    assert str(error) == (
        "Making a thing failed: Acme answered 401: Incorrect API key provided: [key]. (ACME_API_KEY is wrong or revoked)"
    )


def test_retry_after_is_kept_on_the_error_and_said(server):
    error = fail(server, 429, {"detail": "Slow down."}, headers={"Retry-After": "30"})

    assert error.retryable is True and error.retry_after == 30.0
    assert str(error).endswith("Slow down. (retry after 30 s)")
    assert fail(server, 503, headers={"Retry-After": "2.5"}).retry_after == 2.5
    assert fail(server, 429).retry_after is None
    assert fail(server, 400, headers={"Retry-After": "30"}).retry_after is None  # a refusal is not retried at all


def test_retry_after_as_an_http_date():
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)

    assert 58 <= retry_after_seconds(in_a_minute) <= 60
    assert retry_after_seconds(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None and retry_after_seconds(" ") is None


def test_a_long_provider_message_is_cut_but_the_key_setting_still_named(server):
    error = fail(server, 401, {"detail": "x" * 2000})

    assert len(str(error)) < 500
    assert str(error).endswith("… (ACME_API_KEY is wrong or revoked)")


def test_the_key_goes_only_where_authorized_and_ok_statuses_pass(server):
    server.answer(200)
    server.answer(404, {"detail": "gone"})

    client().request("PUT", server.base_url + "/signed", what="Uploading", authorize=False, data=b"bytes")
    response = client().request("DELETE", server.base_url + "/v1/things/1", what="Deleting", ok=(404,))

    assert response.status_code == 404
    assert "authorization" not in server.requests[0]
    assert server.requests[1]["authorization"] == f"Key {API_KEY}"
    assert server.requests[1]["accept"] == "application/json"


def test_redirects_are_not_followed_so_the_key_stays_home(server):
    server.answer(307, headers={"Location": "http://example.invalid/steal"})

    with pytest.raises(EngineError, match="Acme answered 307") as caught:
        client().request("GET", server.base_url + "/v1/things", what="Listing things")

    assert caught.value.retryable is False
    assert len(server.requests) == 1


def test_a_slow_provider_times_out_as_retryable(server):
    server.answer(200, delay=5)

    with pytest.raises(EngineError, match=r"^Listing things timed out after 0.2 s waiting for Acme\.$") as caught:
        client(timeout=0.2).request("GET", server.base_url + "/v1/things", what="Listing things")

    assert caught.value.retryable is True


def test_an_unreachable_provider_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(EngineError, match="^Listing things could not reach Acme") as caught:
        client().request("GET", f"http://127.0.0.1:{port}/v1/things", what="Listing things")

    assert caught.value.retryable is True


def test_a_url_requests_cannot_use_is_a_permanent_failure_without_the_key():
    with pytest.raises(EngineError, match="^Listing things failed: ") as caught:
        client().request("GET", f"ftp://{API_KEY}/things", what="Listing things")

    assert caught.value.retryable is False
    assert API_KEY not in str(caught.value)


def test_json_objects_only():
    def response(body: bytes) -> requests.Response:
        answer = requests.Response()
        answer.status_code, answer._content = 200, body
        return answer

    assert json_object(response(b'{"id": "a"}'), provider="Acme") == {"id": "a"}
    for body, words in ((b"<html>", "is not JSON"), (b"[1, 2]", "is JSON of an unexpected shape")):
        with pytest.raises(EngineError, match=f"The answer from Acme {words}") as caught:
            json_object(response(body), provider="Acme")
        assert caught.value.retryable is True
