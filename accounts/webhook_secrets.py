"""Each workspace's webhook signing secret (Standard Webhooks' `whsec_<base64>`).

It belongs to the workspace, as its API keys do: media_jobs signs with it, staff read it on the
workspace's admin page.
"""

import base64
import binascii
import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SECRET_PREFIX = "whsec_"


def webhook_secret(*, workspace_id: int) -> str:
    """A workspace's signing secret, `whsec_<base64>`.

    Each workspace gets its own, derived from the installation's master secret (WEBHOOK_SECRET, else
    SECRET_KEY), so one customer's secret can never forge another customer's webhooks, and every process
    signs alike without storing anything. Staff read it on the workspace's admin page.
    """
    if settings.WEBHOOK_SECRET:
        master = secret_bytes(settings.WEBHOOK_SECRET, setting=True)  # refuse a malformed setting here
    else:
        master = hmac.new(settings.SECRET_KEY.encode(), b"media_jobs.webhooks.signing-secret", hashlib.sha256).digest()
    derived = hmac.new(master, f"workspace:{workspace_id}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(derived).decode()


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
