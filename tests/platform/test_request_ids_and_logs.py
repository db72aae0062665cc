"""X-Request-ID on every answer, the request and job context on every log line, and the access log."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from characters.api.persons import views as persons_views
from media_jobs.jobs import run_noop
from media_jobs.services import job_create
from persona_platform import logs
from persona_platform.celery import request_id_send
from tests.helpers import replace_runner

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines():
    """What the console handler would write, as parsed JSON lines: the same filter and formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_request_id_is_generated_when_the_client_sends_none(api_client):
    response = api_client.get("/api/v1/persons")

    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert api_client.get("/api/v1/persons")["X-Request-ID"] != response["X-Request-ID"]


def test_the_clients_own_request_id_is_echoed(api_client):
    response = api_client.get("/api/v1/persons", HTTP_X_REQUEST_ID="checkout-7f3a:retry=2")

    assert response["X-Request-ID"] == "checkout-7f3a:retry=2"


@pytest.mark.parametrize("sent", ["two words", "x" * 201, "caf\u00e9", "line\nbreak", ""])
def test_a_malformed_request_id_is_replaced(api_client, sent):
    response = api_client.get("/api/v1/persons", HTTP_X_REQUEST_ID=sent)

    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_two_hundred_visible_characters_are_kept(api_client):
    sent = "!" + "a" * 198 + "~"

    assert api_client.get("/api/v1/persons", HTTP_X_REQUEST_ID=sent)["X-Request-ID"] == sent


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/persons/999999", 404), ("/v1/no-such-route", 404), ("/persona/api/nothing", 404), ("/healthz", 200)],
)
def test_errors_and_pages_outside_the_api_echo_it_too(api_client, path, status):
    response = api_client.get(path, HTTP_X_REQUEST_ID="req-1")

    assert response.status_code == status
    assert response["X-Request-ID"] == "req-1"


def test_an_unauthenticated_answer_echoes_it(anonymous_client):
    response = anonymous_client.get("/api/v1/persons", HTTP_X_REQUEST_ID="req-2")

    assert response.status_code == 401
    assert response["X-Request-ID"] == "req-2"


def test_each_api_request_writes_one_access_line(api_client, workspace, log_lines):
    api_client.get("/api/v1/persons/424242", HTTP_X_REQUEST_ID="req-3")

    access = [line for line in log_lines() if line["logger"] == "persona_platform.access"]
    assert len(access) == 1
    line = access[0]
    assert set(line) == {
        "time", "level", "logger", "message", "request_id", "workspace_id", "route", "status", "method", "duration_ms"
    }  # fmt: skip
    assert line["level"] == "INFO"
    assert line["request_id"] == "req-3"
    assert line["workspace_id"] == workspace.id
    assert line["route"] == "/api/v1/persons/<dbid:person_id>"  # the pattern, not the raw path
    assert line["status"] == 404
    assert line["method"] == "GET"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert line["message"].startswith("GET /api/v1/persons/<dbid:person_id> 404 ")


def test_an_unmatched_or_unauthenticated_request_is_logged_without_workspace(anonymous_client, log_lines):
    anonymous_client.get("/v1/personas", HTTP_X_REQUEST_ID="req-4")
    Client().get("/v1/no-such-route", HTTP_X_REQUEST_ID="req-5")

    access = {line["request_id"]: line for line in log_lines() if line["logger"] == "persona_platform.access"}
    assert access["req-4"]["status"] == 401 and access["req-4"]["route"] == "/v1/personas"
    assert "workspace_id" not in access["req-4"]
    assert access["req-5"]["status"] == 404 and "route" not in access["req-5"]


def test_pages_outside_the_api_write_no_access_line(log_lines):
    Client().get("/healthz")

    assert [line for line in log_lines() if line["logger"] == "persona_platform.access"] == []


def test_lines_written_while_a_view_runs_carry_the_request_and_workspace(api_client, workspace, log_lines, monkeypatch):
    selector = persons_views.person_list

    def logging_selector(**kwargs):
        logging.getLogger("characters.selectors").warning("listing persons")
        return selector(**kwargs)

    monkeypatch.setattr(persons_views, "person_list", logging_selector)

    api_client.get("/api/v1/persons", HTTP_X_REQUEST_ID="req-6")

    [line] = [line for line in log_lines() if line["message"] == "listing persons"]
    assert line["request_id"] == "req-6"
    assert line["workspace_id"] == workspace.id
    assert line["level"] == "WARNING" and line["logger"] == "characters.selectors"
    assert logs.current("request_id") is None  # nothing leaks into the next request on this thread


def test_a_jobs_lines_carry_its_id_and_the_request_that_started_it(
    workspace, log_lines, monkeypatch, django_capture_on_commit_callbacks
):
    def run(*, job, work_dir, progress):
        logging.getLogger("media_jobs.jobs").info("running")
        return run_noop(job=job, work_dir=work_dir, progress=progress)

    replace_runner(monkeypatch, "noop", run)
    token = logs.bind(request_id="req-7")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = job_create(workspace=workspace, kind="noop", params={})
    finally:
        logs.unbind(token)

    [line] = [line for line in log_lines() if line["message"] == "running"]
    assert line["job_id"] == job.id
    assert line["request_id"] == "req-7"
    assert logs.current("job_id") is None


def test_a_task_sent_during_a_request_carries_its_id():
    headers: dict = {}
    token = logs.bind(request_id="req-8")
    try:
        request_id_send(headers=headers)
    finally:
        logs.unbind(token)

    assert headers == {"request_id": "req-8"}


def test_the_text_format_names_the_known_context():
    record = logging.LogRecord("persona_platform.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    token = logs.bind(request_id="req-9", workspace_id=4)
    try:
        logs.ContextFilter().filter(record)
    finally:
        logs.unbind(token)

    text = logs.TextFormatter().format(record)

    assert text.endswith(" INFO persona_platform.access GET / 200 [request_id=req-9 workspace_id=4]")


def test_the_console_handler_filters_every_record_through_the_context():
    console = django_settings.LOGGING["handlers"]["console"]

    assert console["filters"] == ["context"]
    assert console["formatter"] == django_settings.LOG_FORMAT


def log_format_with(**env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in {"LOG_FORMAT", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", "from persona_platform import settings; print(settings.LOG_FORMAT)"],
        cwd=ROOT, env={**environment, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgres://db/app"}, "json"),
        ({"DATABASE_URL": "postgres://db/app", "DEBUG": "true"}, "text"),
        ({"DATABASE_URL": "sqlite:////tmp/embedded.sqlite3"}, "text"),
        ({"DATABASE_URL": "sqlite:////tmp/embedded.sqlite3", "LOG_FORMAT": "JSON"}, "json"),
        ({"DATABASE_URL": "postgres://db/app", "LOG_FORMAT": "text"}, "text"),
    ],
)
def test_log_format_defaults_to_text_where_people_read_it(env, expected):
    result = log_format_with(**env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_an_unknown_log_format_stops_start_up():
    result = log_format_with(LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT='xml' must be json or text." in result.stderr


@pytest.mark.urls("tests.platform.error_urls")
@pytest.mark.parametrize("path", ["/api/v1/boom", "/api/v1/plain-boom"])
def test_a_500_echoes_the_id_and_its_traceback_line_carries_it(path, log_lines):
    response = Client(raise_request_exception=False).get(path, HTTP_X_REQUEST_ID="req-500")

    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-500"
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert errors and all(line["request_id"] == "req-500" for line in errors)
    assert "RuntimeError: secret internals" in errors[0]["exception"]
    [access] = [line for line in log_lines() if line["logger"] == "persona_platform.access"]
    assert access["status"] == 500 and access["request_id"] == "req-500"
