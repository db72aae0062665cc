"""Each workspace's webhook signing secret (Standard Webhooks' `whsec_<base64>`).

It belongs to the workspace, as its API keys do: media_jobs signs with it, the workspace reads and rotates it
through the API (`/api/v1/webhook-secret`), staff read it on the workspace's admin page.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Workspace

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class WebhookSecret:
    """The secret a workspace's deliveries are signed with now, and when it last changed (None: never)."""

    secret: str
    rotated_at: datetime | None


def webhook_secret(*, workspace_id: int) -> str:
    """The secret the platform signs the workspace's webhooks with now, `whsec_<base64>`.

    Read at every send, so a rotation applies to every delivery attempted after it, retries included.
    """
    generation = (
        Workspace.objects.filter(pk=workspace_id).values_list("webhook_secret_generation", flat=True).first() or 0
    )
    return webhook_secret_derive(workspace_id=workspace_id, generation=generation)


def webhook_secret_derive(*, workspace_id: int, generation: int = 0) -> str:
    """A workspace's secret of one generation, `whsec_<base64>`.

    Each workspace gets its own, derived from the installation's master secret (WEBHOOK_SECRET, else
    SECRET_KEY), so one customer's secret can never forge another customer's webhooks, and every process
    signs alike without storing a secret. Rotating moves the workspace to the next generation, a new and
    unrelated secret; generation 0 keeps the derivation of secrets issued before rotation existed.
    """
    if settings.WEBHOOK_SECRET:
        master = secret_bytes(settings.WEBHOOK_SECRET, setting=True)  # refuse a malformed setting here
    else:
        master = hmac.new(settings.SECRET_KEY.encode(), b"media_jobs.webhooks.signing-secret", hashlib.sha256).digest()
    label = f"workspace:{workspace_id}" if generation == 0 else f"workspace:{workspace_id}:generation:{generation}"
    derived = hmac.new(master, label.encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(derived).decode()


def workspace_webhook_secret(*, workspace: Workspace) -> WebhookSecret:
    """The workspace's current secret, as its API shows it."""
    return WebhookSecret(
        secret=webhook_secret_derive(workspace_id=workspace.pk, generation=workspace.webhook_secret_generation),
        rotated_at=workspace.webhook_secret_rotated_at,
    )


def webhook_secret_rotate(*, workspace: Workspace) -> WebhookSecret:
    """Replace the workspace's secret with a new one; deliveries sent from now on are signed with it only.

    For a secret that leaked, or a periodic change: the old one stops verifying at once, so the receiver
    must switch to the answer's secret. An atomic increment: two rotations at once give two generations.
    """
    with transaction.atomic():
        Workspace.objects.filter(pk=workspace.pk).update(
            webhook_secret_generation=F("webhook_secret_generation") + 1, webhook_secret_rotated_at=timezone.now()
        )
        workspace.refresh_from_db(fields=["webhook_secret_generation", "webhook_secret_rotated_at"])
    return workspace_webhook_secret(workspace=workspace)


def secret_bytes(secret: str, *, setting: bool = False) -> bytes:
    """The key the HMAC uses: the base64-decoded part after `whsec_`, as the spec's libraries do."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        message = "webhook secret must look like whsec_<base64>."
        raise ImproperlyConfigured(f"WEBHOOK_SECRET: {message}") if setting else ValueError(message)
    return key
