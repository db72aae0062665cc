"""Authentication serves repeat requests from a cached snapshot of the key, and any change to the
key, its user or its workspace takes effect on the very next request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import authentication
from accounts.services import api_key_revoke
from persona_platform.api import throttling
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db


def queries_of(client, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_a_repeat_request_reads_no_key_from_the_database(api_client):
    first = queries_of(api_client, "/api/v1/persons")
    second = queries_of(api_client, "/api/v1/persons")

    assert any("accounts_apikey" in sql for sql in first)
    assert not any("accounts_apikey" in sql or "accounts_user" in sql for sql in second)


def test_revoking_a_cached_key_takes_effect_at_once(api_client, api_key):
    api_client.get("/api/v1/persons")

    api_key_revoke(api_key=api_key)

    assert_vendor_error(api_client.get("/api/v1/persons"), 401, "Unauthorized")


def test_deactivating_the_user_of_a_cached_key_takes_effect_at_once(api_client, workspace):
    api_client.get("/api/v1/persons")

    workspace.owner.is_active = False
    workspace.owner.save()

    assert_vendor_error(api_client.get("/api/v1/persons"), 401, "Unauthorized", "deactivated")


def test_a_plan_change_reaches_cached_keys_at_once(api_client, workspace):
    from accounts.plans import PLAN_LIMITS
    from tests import factories

    for _ in range(PLAN_LIMITS["free"].max_persons):
        factories.person_create(workspace=workspace, with_photo=False)
    body = {"name": "One more", "photo_base64": factories.image_base64()}
    api_client.get("/api/v1/persons")

    workspace.plan = "free"
    workspace.save()

    assert_vendor_error(api_client.post("/api/v1/persons", body, format="json"), 403, "Forbidden", "free plan")


def test_fields_left_out_of_the_snapshot_are_read_fresh(api_client, workspace):
    from accounts.key_snapshots import api_key_from_snapshot, api_key_snapshot
    from accounts.models import ApiKey, Workspace
    from accounts.services import credits_grant

    snapshot = api_key_snapshot(ApiKey.objects.select_related("workspace", "user").get(workspace=workspace))
    credits_grant(workspace=Workspace.objects.get(pk=workspace.pk), amount=7, reason="x")

    rebuilt = api_key_from_snapshot(snapshot)

    assert rebuilt.workspace.credit_balance == 7
    assert rebuilt.user.email == workspace.owner.email and rebuilt.workspace.plan == workspace.plan


class BrokenGate:
    def check(self, **kwargs):
        raise ConnectionError("cache down")

    def remember(self, **kwargs):
        raise AssertionError("must not be called")


def test_requests_are_served_from_the_database_when_the_cache_is_down(api_client, monkeypatch, settings, caplog):
    settings.API_RATE_LIMIT = "1/minute"
    monkeypatch.setattr(authentication, "get_gate", lambda: BrokenGate())

    statuses = [api_client.get("/api/v1/persons").status_code for _ in range(3)]

    # Authenticated from the database, and still limited: each process counts on its own, and says so.
    assert statuses == [200, 429, 429]
    assert "per-process fallback" in caplog.text or throttling._fallback_warned_at
