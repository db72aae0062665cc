"""Self-serve webhook secret: `GET /api/v1/webhook-secret` and `POST /api/v1/webhook-secret/rotate`.

Deliveries are made by the platform's own sender to a real HTTP receiver on loopback and verified the way a
customer does, with the official `standardwebhooks` package.
"""

import datetime
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import Workspace
from accounts.webhook_secrets import webhook_secret, webhook_secret_derive
from media_jobs import webhooks
from media_jobs.models import MediaJob, WebhookDelivery
from tests.helpers import assert_vendor_error
from tests.media_jobs.test_webhooks import Receiver

pytestmark = pytest.mark.django_db

SECRET_SHAPE = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def webhook_settings(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver listens on loopback
    settings.WEBHOOK_TIMEOUT_SECONDS = 3
    monkeypatch.setattr(webhooks, "_schedule", lambda delivery_id: None)  # sent by hand below, not by Celery


def deliver(workspace, receiver, *, name: str) -> dict:
    """A finished job's webhook, sent by the platform's sender; the request the receiver got."""
    job = MediaJob.objects.create(
        workspace=workspace, kind="speech", status=MediaJob.Status.READY, callback_url=receiver.url(), name=name
    )
    delivery = webhooks.webhook_enqueue(job=job)
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == WebhookDelivery.Status.DELIVERED
    return receiver.requests[-1]


def test_get_answers_the_secret_the_platform_signs_with(api_client, workspace):
    response = api_client.get("/api/v1/webhook-secret")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"secret": webhook_secret(workspace_id=workspace.pk), "rotated_at": None}
    assert SECRET_SHAPE.fullmatch(response.json()["secret"])


def test_a_real_delivery_verifies_with_the_standardwebhooks_package(api_client, workspace, receiver):
    secret = api_client.get("/api/v1/webhook-secret").json()["secret"]

    request = deliver(workspace, receiver, name="Welcome clip")

    payload = Webhook(secret).verify(request["body"], dict(request["headers"]))
    assert payload["type"] == "job.ready"
    assert payload["data"]["name"] == "Welcome clip" and payload["data"]["status"] == "ready"


def test_rotation_answers_a_new_secret_and_the_old_one_stops_verifying(api_client, workspace, receiver):
    old = api_client.get("/api/v1/webhook-secret").json()["secret"]
    before = timezone.now()

    response = api_client.post("/api/v1/webhook-secret/rotate")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"secret", "rotated_at"}
    assert SECRET_SHAPE.fullmatch(body["secret"]) and body["secret"] != old
    rotated_at = datetime.datetime.fromisoformat(body["rotated_at"])
    assert body["rotated_at"].endswith("Z") and before <= rotated_at <= timezone.now()
    assert api_client.get("/api/v1/webhook-secret").json() == body

    request = deliver(workspace, receiver, name="After rotation")
    headers, raw = dict(request["headers"]), request["body"]
    assert Webhook(body["secret"]).verify(raw, headers)["data"]["name"] == "After rotation"
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(old).verify(raw, headers)


def test_a_retry_after_rotation_is_signed_with_the_new_secret(api_client, workspace, receiver):
    receiver.answer(500)
    job = MediaJob.objects.create(
        workspace=workspace, kind="speech", status=MediaJob.Status.READY, callback_url=receiver.url()
    )
    delivery = webhooks.webhook_enqueue(job=job)
    webhooks.webhook_deliver(delivery_id=delivery.pk)  # signed with the old secret, refused by the receiver
    old = api_client.get("/api/v1/webhook-secret").json()["secret"]
    new = api_client.post("/api/v1/webhook-secret/rotate").json()["secret"]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    first, retry = receiver.requests
    Webhook(old).verify(first["body"], dict(first["headers"]))
    Webhook(new).verify(retry["body"], dict(retry["headers"]))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(retry["body"], dict(retry["headers"]))


def test_each_rotation_is_a_new_generation(api_client, workspace):
    secrets = {api_client.post("/api/v1/webhook-secret/rotate").json()["secret"] for _ in range(3)}

    workspace.refresh_from_db()
    assert workspace.webhook_secret_generation == 3 and len(secrets) == 3
    assert webhook_secret_derive(workspace_id=workspace.pk, generation=3) in secrets
    assert webhook_secret_derive(workspace_id=workspace.pk, generation=0) not in secrets


def test_rotating_one_workspace_leaves_the_others_secret(api_client, other_client, workspace, other_workspace):
    others = other_client.get("/api/v1/webhook-secret").json()

    api_client.post("/api/v1/webhook-secret/rotate")

    assert other_client.get("/api/v1/webhook-secret").json() == others
    assert others["secret"] != api_client.get("/api/v1/webhook-secret").json()["secret"]
    assert Workspace.objects.get(pk=other_workspace.pk).webhook_secret_generation == 0


def test_a_trailing_slash_is_tolerated(api_client, workspace):
    assert api_client.get("/api/v1/webhook-secret/").status_code == 200
    assert api_client.post("/api/v1/webhook-secret/rotate/").status_code == 200


def test_without_a_key_is_401_and_rotates_nothing(workspace):
    anonymous = APIClient()

    assert_vendor_error(anonymous.get("/api/v1/webhook-secret"), 401, "Unauthorized")
    assert_vendor_error(anonymous.post("/api/v1/webhook-secret/rotate"), 401, "Unauthorized")
    assert Workspace.objects.get(pk=workspace.pk).webhook_secret_generation == 0


def test_the_wrong_method_is_405(api_client, workspace):
    assert_vendor_error(api_client.get("/api/v1/webhook-secret/rotate"), 405, "MethodNotAllowed")
    assert_vendor_error(api_client.post("/api/v1/webhook-secret"), 405, "MethodNotAllowed")
    assert Workspace.objects.get(pk=workspace.pk).webhook_secret_generation == 0


def test_the_schema_documents_both_routes_under_the_platform_tag(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    get = schema["paths"]["/api/v1/webhook-secret"]["get"]
    rotate = schema["paths"]["/api/v1/webhook-secret/rotate"]["post"]
    for operation in (get, rotate):
        assert operation["tags"] == ["Platform"] and operation["description"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/WebhookSecret"
        }
        assert {"401", "429"} <= set(operation["responses"])
    assert "requestBody" not in rotate
    secret = schema["components"]["schemas"]["WebhookSecret"]
    assert set(secret["properties"]) == {"secret", "rotated_at"} and secret["properties"]["rotated_at"]["nullable"]
