import pytest
from django.test import Client

from persona_platform import views

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_broker_and_storage():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}


def test_healthz_is_503_naming_the_failing_part(monkeypatch):
    def broken():
        raise ConnectionError("broker down")

    monkeypatch.setitem(views.CHECKS, "broker", broken)

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "error", "database": "ok", "broker": "error: ConnectionError", "storage": "ok",
    }  # fmt: skip


def test_healthz_needs_no_key_and_only_answers_get():
    assert Client().post("/healthz").status_code == 405
