"""Job webhooks, signed per the Standard Webhooks spec (https://www.standardwebhooks.com).

A job with a `callback_url` that reaches a final state gets one `WebhookDelivery` row per event. The row is the
truth: the first send is scheduled when the transaction commits, and every retry is found in the database by a
periodic task (`webhooks_deliver_due`), never scheduled as a far-future Celery ETA that a broker restart can lose.

Every request carries `webhook-id` (stable across retries, so receivers can deduplicate), `webhook-timestamp`
(unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`.

Server-side request forgery: a callback URL must resolve only to public addresses, checked by the guard shared with
every URL fetch (persona_platform.fetch). The check runs when the job is created (so the caller gets a 422 at once)
and again right before every send, and the request goes to the very address that passed the check, so a DNS answer
that changes between check and connect (DNS rebinding) cannot redirect the request. Redirects are never followed
and proxies from the environment are ignored.
"""

import base64
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import datetime, timedelta

import requests
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.webhook_secrets import secret_bytes, webhook_secret
from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from persona_platform.dates import iso_utc
from persona_platform.errors import InvalidInput
from persona_platform.fetch import PinnedHostAdapter, Target, target_resolve

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 1000
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
# How long a claimed delivery stays invisible to other workers; a worker that dies mid-send frees it after this.
CLAIM_LEASE_SECONDS = 300
USER_AGENT = "PersonaPlatform-Webhooks/1.0"


# Secret and signatures


def webhook_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value, `v1,<base64>`; exposed so docs and tests can sign like the platform does."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_signature_verify(
    *, secret: str, headers: dict, body: bytes | str, tolerance_seconds: int = 300, now: float | None = None
) -> bool:
    """Whether a request is a genuine, recent webhook: what a receiver runs before trusting the body.

    `headers` may use any case. Several space-separated signatures are accepted (the spec allows them while a
    secret is rotated); each comparison is constant-time. A timestamp further than `tolerance_seconds` from now,
    in either direction, fails: a captured request cannot be replayed later.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not timestamp_text or not signatures:
        return False
    try:
        timestamp = int(timestamp_text)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    body_bytes = body.encode() if isinstance(body, str) else bytes(body)
    expected = webhook_signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body_bytes)
    expected_bytes = expected.encode()
    matched = False
    for candidate in str(signatures).split(" "):
        if candidate.startswith("v1,"):
            # No early exit: the time taken does not say which candidate matched.
            matched |= hmac.compare_digest(candidate.encode(), expected_bytes)
    return matched


# Callback URLs and the guard against requests into private networks


def callback_url_validate(url: str) -> str:
    """The callback URL to store, or InvalidInput naming `callback_url`; an empty value means no callback.

    Run when a job is created so that a bad URL is a 422 at once instead of a silent delivery failure later.
    The address check is repeated before every send (see `_callback_target`).
    """
    url = (url or "").strip()
    if not url:
        return ""
    _callback_target(url)
    return url


def _callback_target(url: str) -> Target:
    """The checked, pinned address for a callback URL (the shared guard of persona_platform.fetch)."""
    return target_resolve(url, field="callback_url", allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)


# Payload and enqueueing


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value)


def _file_url(job: MediaJob) -> str | None:
    """The result file as an absolute URL when one can be built: receivers fetch it from elsewhere."""
    if not job.result_file:
        return None
    url = job.result_file.url
    if url.startswith(("http://", "https://")):
        return url
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}/{url.lstrip('/')}" if base else url


def webhook_payload(job: MediaJob) -> dict:
    """The event body: the job in a neutral shape that does not depend on which API dialect created it."""
    data = {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "name": job.name,
        "progress": job.progress,
        "url": _file_url(job),
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
    }
    if job.status == MediaJob.Status.FAILED:
        data["error"] = job.error
    return {"type": f"job.{job.status}", "timestamp": _iso(job.finished_at or job.updated_at), "data": data}


def webhook_enqueue(*, job: MediaJob) -> WebhookDelivery | None:
    """The delivery for the job's final event, created once; None when there is nothing to send.

    Idempotent: the message id is derived from the job and its status, so a second call (a retried task, a
    repeated transition) returns the existing row and schedules nothing. Call it in the transaction that makes
    the job final: the first send is scheduled only once that commits.
    """
    if not job.callback_url or job.status not in MediaJob.FINAL_STATUSES:
        return None
    delivery, created = WebhookDelivery.objects.get_or_create(
        message_id=f"msg_{job.pk}_{job.status}",
        defaults={
            "job": job,
            "url": job.callback_url,
            "event_type": f"job.{job.status}",
            "payload": webhook_payload(job),
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        delivery_id = delivery.pk
        # robust: a broker that is down must not fail the commit; the periodic sweep sends the delivery anyway.
        transaction.on_commit(lambda: _schedule(delivery_id), robust=True)
    return delivery


def _schedule(delivery_id: int) -> None:
    """Hand the first send to a worker at once, instead of waiting for the next periodic sweep."""
    current_app.tasks["media_jobs.webhook_deliver"].delay(delivery_id)


# Delivery


def webhook_deliver(*, delivery_id: int) -> None:
    """Send one due delivery once, and record what happened; does nothing when it is not pending or not due."""
    _deliver(delivery_id)


def webhooks_deliver_due(*, limit: int = 100, time_budget_seconds: float = 240.0) -> int:
    """Send the deliveries whose retry time has come; returns how many were attempted.

    What the periodic task runs. Stops starting new sends after `time_budget_seconds` so that a batch of slow
    receivers stays well inside the task time limit; the rest stay due for the next run.
    """
    now = timezone.now()
    due_ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by(F("next_attempt_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )
    deadline = time.monotonic() + time_budget_seconds
    attempted = 0
    for delivery_id in due_ids:
        if time.monotonic() > deadline:
            break
        try:
            attempted += _deliver(delivery_id)
        except Exception:
            # One broken row must not starve the others; it stays due and is logged.
            logger.exception("webhook delivery %s could not be processed", delivery_id)
    return attempted


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Take the delivery for this worker, or None when it is not pending, not due, or another worker has it.

    A conditional UPDATE works the same on every database and holds no lock during the HTTP request: it counts
    the attempt and moves `next_attempt_at` past a lease, so nobody else sees the row as due while it is sent.
    """
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=_lease_seconds()))
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.filter(pk=delivery_id).first()


def _lease_seconds() -> float:
    return CLAIM_LEASE_SECONDS + 2 * settings.WEBHOOK_TIMEOUT_SECONDS


def _deliver(delivery_id: int) -> bool:
    """One attempt at one delivery; False when it was not ours to send."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return False
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    started = time.monotonic()
    status_code, error = _send(delivery=delivery, body=body)
    duration_ms = int((time.monotonic() - started) * 1000)

    now = timezone.now()
    changes: dict = {"next_attempt_at": None}
    if status_code is not None and 200 <= status_code < 300:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
    elif status_code == 410 or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        # 410 Gone: the receiver says the endpoint is no more; retrying would only add load on both sides.
        changes.update(status=WebhookDelivery.Status.FAILED)
    else:
        changes.update(next_attempt_at=now + timedelta(seconds=_backoff_seconds(delivery.attempts)))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, status_code=status_code, error=error[:ERROR_MAX_LENGTH], duration_ms=duration_ms
        )
        # Only a pending row changes: a worker whose lease ran out must not undo another worker's result.
        WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(**changes)
    if changes.get("status") != WebhookDelivery.Status.DELIVERED:
        logger.info(
            "webhook %s attempt %s to %s: %s",
            delivery.message_id,
            delivery.attempts,
            delivery.url,
            error or status_code,
        )
    return True


def _backoff_seconds(attempts: int) -> float:
    """30 s, 1 min, 2 min, ... up to 6 h, with jitter so that a receiver back from an outage is not hit at once."""
    base = BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(base, BACKOFF_MAX_SECONDS) * random.uniform(0.9, 1.1)


def _send(*, delivery: WebhookDelivery, body: bytes) -> tuple[int | None, str]:
    """POST the signed body to the pinned address; the status code (None when no response) and an error text."""
    message_id = delivery.message_id
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(
            secret=webhook_secret(workspace_id=delivery.job.workspace_id),
            message_id=message_id,
            timestamp=timestamp,
            body=body,
        ),
    }
    try:
        # Resolved and checked again now: the answer at job creation proves nothing about the answer today.
        target = _callback_target(delivery.url)
    except InvalidInput as exc:
        return None, f"refused: {exc.message}"
    headers["Host"] = target.host_header
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        with requests.Session() as session:
            session.trust_env = False  # no proxies or netrc from the environment: the pinned address is the peer
            session.mount(f"{target.scheme}://", PinnedHostAdapter(hostname=target.host))
            response = session.post(
                target.pinned_url,
                data=body,
                headers=headers,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,  # the body is not needed; at most a short excerpt is read below
            )
            with response:
                return response.status_code, _response_error(response)
    except Exception as exc:  # timeouts, refused connections, TLS errors, malformed answers: all an attempt's result
        return None, f"{type(exc).__name__}: {exc}"


def _response_error(response: requests.Response) -> str:
    """Empty for a 2xx; otherwise the status, where a redirect pointed, and the start of the body."""
    if 200 <= response.status_code < 300:
        return ""
    text = f"HTTP {response.status_code}"
    if 300 <= response.status_code < 400:
        text += f" (redirects are not followed; Location: {response.headers.get('Location', '')})"
    try:
        excerpt = response.raw.read(512, decode_content=True) or b""
    except Exception:  # a receiver that breaks off mid-body: the status code is what matters
        excerpt = b""
    excerpt_text = excerpt.decode("utf-8", errors="replace").strip()
    return f"{text}: {excerpt_text}" if excerpt_text else text
