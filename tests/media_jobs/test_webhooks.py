"""Job webhooks: Standard Webhooks signatures, retries from the database, and the guard against private URLs.

A real HTTP receiver runs on loopback, so delivery tests allow private URLs; the URL-guard tests do not. Name
resolution is always faked: no test depends on real DNS.
"""

import base64
import datetime
import hashlib
import hmac
import json
import re
import socket
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from media_jobs import webhooks
from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from persona_platform.errors import InvalidInput

SECRET = "whsec_" + base64.b64encode(b"test-secret-0123456789abcdef0123").decode()
PUBLIC_IP = "93.184.216.34"


class Receiver:
    """An HTTP server in a thread that records every request and answers from a script (200 when it runs out)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.script: deque[tuple[int, dict, float]] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self._record()

            def do_GET(self):
                self._record()

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(
                    {"method": self.command, "path": self.path, "headers": list(self.headers.items()), "body": body}
                )
                status, headers, delay = receiver.script.popleft() if receiver.script else (200, {}, 0.0)
                if delay:
                    time.sleep(delay)
                answer = b'{"ok": true}' if status < 300 else b"receiver says no"
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook", *, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def answer(self, *statuses: int, headers: dict | None = None, delay: float = 0.0) -> None:
        for status in statuses:
            self.script.append((status, headers or {}, delay))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOK_SECRET = SECRET
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 3
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture(autouse=True)
def scheduled(monkeypatch):
    """What would have been handed to Celery: only the first send, and only on commit."""
    calls: list[int] = []
    monkeypatch.setattr(webhooks, "_schedule", calls.append)
    return calls


@pytest.fixture
def resolver(monkeypatch):
    """Fake name resolution: names in `table` resolve to the listed addresses; IP literals are parsed without any
    lookup; every other name does not resolve. Returns the table and the names looked up."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}
    lookups: list[str] = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        lookups.append(host)
        if host in table:
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                if ":" in address
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in table[host]
            ]
        try:
            return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table, lookups


def job_create(workspace, *, callback_url: str, status: str = MediaJob.Status.READY, **fields) -> MediaJob:
    return MediaJob.objects.create(
        workspace=workspace, kind="speech", status=status, callback_url=callback_url, **fields
    )


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def header(request: dict, name: str) -> str | None:
    values = [value for key, value in request["headers"] if key.lower() == name.lower()]
    assert len(values) <= 1, values
    return values[0] if values else None


# Signatures, headers and body


def test_delivery_is_signed_per_standard_webhooks(workspace, receiver):
    job = job_create(workspace, callback_url=receiver.url(), name="Welcome clip", progress=100)
    delivery = webhooks.webhook_enqueue(job=job)
    before = int(time.time())

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["method"] == "POST" and request["path"] == "/hook"
    assert header(request, "Content-Type") == "application/json"
    webhook_headers = {key.lower() for key, _ in request["headers"] if key.lower().startswith("webhook-")}
    assert webhook_headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert header(request, "webhook-id") == delivery.message_id == f"msg_{job.pk}_ready"
    timestamp = header(request, "webhook-timestamp")
    assert re.fullmatch(r"\d+", timestamp) and before <= int(timestamp) <= int(time.time())
    signature = header(request, "webhook-signature")
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", signature)
    assert header(request, "Authorization") is None

    body = request["body"]
    secret = webhooks.webhook_secret(workspace_id=job.workspace_id)
    signed = f"{delivery.message_id}.{timestamp}.".encode() + body
    digest = hmac.new(base64.b64decode(secret.removeprefix("whsec_")), signed, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    assert signature == f"v1,{expected}"
    assert json.loads(body) == webhooks.webhook_payload(job)

    headers = dict(request["headers"])
    assert webhooks.webhook_signature_verify(secret=secret, headers=headers, body=body)
    other_secret = "whsec_" + base64.b64encode(b"another-secret-0123456789abcdef0").decode()
    assert not webhooks.webhook_signature_verify(secret=other_secret, headers=headers, body=body)
    other_workspace_secret = webhooks.webhook_secret(workspace_id=job.workspace_id + 1)
    assert not webhooks.webhook_signature_verify(secret=other_workspace_secret, headers=headers, body=body)
    assert not webhooks.webhook_signature_verify(secret=secret, headers=headers, body=body.replace(b"ready", b"fail"))
    assert not webhooks.webhook_signature_verify(secret=secret, headers=headers, body=body, now=int(timestamp) + 301)
    assert not webhooks.webhook_signature_verify(secret=secret, headers=headers, body=body, now=int(timestamp) - 301)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 1 and delivery.delivered_at is not None and delivery.next_attempt_at is None
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and attempt.error == ""


def test_signature_verify_rejects_old_timestamps_and_accepts_several_signatures():
    body = b'{"type":"job.ready"}'
    old = int(time.time()) - 600
    signature = webhooks.webhook_signature(secret=SECRET, message_id="msg_1", timestamp=old, body=body)
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(old), "Webhook-Signature": signature}
    assert not webhooks.webhook_signature_verify(secret=SECRET, headers=headers, body=body)
    assert webhooks.webhook_signature_verify(secret=SECRET, headers=headers, body=body, tolerance_seconds=900)

    now = int(time.time())
    signature = webhooks.webhook_signature(secret=SECRET, message_id="msg_1", timestamp=now, body=body)
    rotated = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": f"v1,bm90LWl0 {signature}"}
    assert webhooks.webhook_signature_verify(secret=SECRET, headers=rotated, body=body)
    assert webhooks.webhook_signature_verify(secret=SECRET, headers=rotated, body=body.decode())
    wrong_version = dict(rotated, **{"webhook-signature": signature.replace("v1,", "v2,")})
    assert not webhooks.webhook_signature_verify(secret=SECRET, headers=wrong_version, body=body)
    assert not webhooks.webhook_signature_verify(secret=SECRET, headers={}, body=body)
    not_a_number = dict(rotated, **{"webhook-timestamp": "soon"})
    assert not webhooks.webhook_signature_verify(secret=SECRET, headers=not_a_number, body=body)


def test_secret_is_derived_from_secret_key_when_unset(settings, db):
    settings.WEBHOOK_SECRET = ""
    settings.SECRET_KEY = "one-key"
    first = webhooks.webhook_secret(workspace_id=1)
    assert first.startswith("whsec_") and len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert webhooks.webhook_secret(workspace_id=1) == first
    assert webhooks.webhook_secret(workspace_id=2) != first  # one secret per workspace
    settings.SECRET_KEY = "another-key"
    assert webhooks.webhook_secret(workspace_id=1) != first
    settings.WEBHOOK_SECRET = SECRET
    assert webhooks.webhook_secret(workspace_id=1) not in {first, SECRET}

    settings.WEBHOOK_SECRET = "whsec_not base64!"
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_SECRET"):
        webhooks.webhook_secret(workspace_id=1)


def test_payload_shape(workspace, settings):
    job = job_create(
        workspace,
        callback_url="https://hooks.example.com/x",
        status=MediaJob.Status.FAILED,
        name="Intro",
        progress=40,
        error="engine timed out",
        finished_at=timezone.now(),
    )
    job.result_file.name = "jobs/intro.wav"
    settings.PUBLIC_BASE_URL = "https://api.example.com/"

    payload = webhooks.webhook_payload(job)

    assert payload["type"] == "job.failed"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "id": str(job.pk),
        "kind": "speech",
        "status": "failed",
        "name": "Intro",
        "progress": 40,
        "url": "https://api.example.com/media/jobs/intro.wav",
        "error": "engine timed out",
        "created_at": job.created_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "finished_at": job.finished_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
    }
    settings.PUBLIC_BASE_URL = ""  # the default: no public base URL configured
    assert webhooks.webhook_payload(job)["data"]["url"] == "/media/jobs/intro.wav"

    ready = job_create(workspace, callback_url="https://hooks.example.com/x")
    data = webhooks.webhook_payload(ready)["data"]
    assert "error" not in data and data["url"] is None and data["finished_at"] is None


# Enqueueing


def test_enqueue_is_idempotent_and_schedules_once_on_commit(workspace, scheduled, django_capture_on_commit_callbacks):
    job = job_create(workspace, callback_url="https://hooks.example.com/x")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = webhooks.webhook_enqueue(job=job)
        second = webhooks.webhook_enqueue(job=job)
    assert first.pk == second.pk
    assert WebhookDelivery.objects.filter(job=job).count() == 1
    assert len(callbacks) == 1 and scheduled == []  # nothing is sent before the transaction commits
    callbacks[0]()
    assert scheduled == [first.pk]

    assert first.event_type == "job.ready" and first.url == job.callback_url
    assert first.status == WebhookDelivery.Status.PENDING and first.attempts == 0
    assert first.next_attempt_at <= timezone.now()
    assert first.payload == webhooks.webhook_payload(job)


def test_enqueue_skips_jobs_without_callback_or_not_final(workspace):
    assert webhooks.webhook_enqueue(job=job_create(workspace, callback_url="")) is None
    queued = job_create(workspace, callback_url="https://hooks.example.com/x", status=MediaJob.Status.PROCESSING)
    assert webhooks.webhook_enqueue(job=queued) is None
    assert not WebhookDelivery.objects.exists()


def test_broker_failure_on_commit_leaves_the_delivery_to_the_sweep(
    workspace, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(delivery_id):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(webhooks, "_schedule", broker_down)
    job = job_create(workspace, callback_url=receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhooks.webhook_enqueue(job=job)  # robust callback: the error is logged, not raised

    assert webhooks.webhooks_deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and len(receiver.requests) == 1


# Retries, giving up, and what counts as a failure


def test_500_then_200_retries_only_once_due(workspace, receiver, scheduled, monkeypatch):
    receiver.answer(500, 200)
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))
    started = timezone.now()

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    wait = (delivery.next_attempt_at - started).total_seconds()
    assert 25 <= wait <= 35, wait
    # Not due yet: neither the sweep nor a direct call sends it again.
    assert webhooks.webhooks_deliver_due() == 0
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    assert len(receiver.requests) == 1

    later = delivery.next_attempt_at + datetime.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert webhooks.webhooks_deliver_due() == 1

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2
    assert delivery.delivered_at == later
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [attempt.status_code for attempt in attempts] == [500, 200]
    assert attempts[0].error == "HTTP 500: receiver says no" and attempts[1].error == ""
    assert attempts[1].attempted_at == later
    # The same message id on both tries, each with its own timestamp and signature.
    assert {header(request, "webhook-id") for request in receiver.requests} == {delivery.message_id}
    assert scheduled == []  # the retry came from the database, not from a Celery ETA


def test_backoff_grows_and_is_capped():
    for attempts, base in [(1, 30), (2, 60), (3, 120), (5, 480)]:
        assert base * 0.9 <= webhooks._backoff_seconds(attempts) <= base * 1.1
    assert webhooks._backoff_seconds(30) <= 6 * 3600 * 1.1


def test_gives_up_after_max_attempts(workspace, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(500, 503, 400)
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))

    for _ in range(3):
        make_due(delivery)
        assert webhooks.webhooks_deliver_due() == 1

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 3 and delivery.next_attempt_at is None and delivery.delivered_at is None
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [
        500,
        503,
        400,
    ]
    make_due(delivery)
    assert webhooks.webhooks_deliver_due() == 0
    assert len(receiver.requests) == 3


def test_410_gone_fails_at_once(workspace, receiver):
    receiver.answer(410)
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempts == 1
    assert delivery.next_attempt_at is None
    assert WebhookAttempt.objects.get(delivery=delivery).status_code == 410


def test_redirects_are_not_followed(workspace, receiver):
    receiver.answer(302, headers={"Location": receiver.url("/elsewhere")})
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert [request["path"] for request in receiver.requests] == ["/hook"]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 302 and "redirects are not followed" in attempt.error
    assert "/elsewhere" in attempt.error


def test_timeout_counts_as_a_failed_attempt(workspace, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answer(200, delay=1.0)
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "Timeout" in attempt.error
    assert 200 <= attempt.duration_ms < 3000


def test_connection_refused_counts_as_a_failed_attempt(workspace):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=f"http://127.0.0.1:{closed_port}/x"))

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    assert "ConnectionError" in WebhookAttempt.objects.get(delivery=delivery).error


def test_a_claimed_delivery_is_not_sent_by_another_worker(workspace, receiver):
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))

    assert webhooks._claim(delivery.pk) is not None  # another worker is sending it right now
    assert webhooks._claim(delivery.pk) is None
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    assert webhooks.webhooks_deliver_due() == 0

    assert receiver.requests == []
    assert not WebhookAttempt.objects.exists()


def test_delivered_delivery_is_not_sent_again(workspace, receiver):
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    make_due(delivery)
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    assert len(receiver.requests) == 1


def test_environment_proxies_are_ignored(workspace, receiver, monkeypatch):
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=receiver.url()))

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED


# DNS rebinding: the address is checked again at delivery and the request goes to that address


def test_request_goes_to_the_checked_address_with_the_hostname_in_host(workspace, receiver, resolver):
    table, lookups = resolver
    table["hooks.example.test"] = ["127.0.0.1"]
    delivery = webhooks.webhook_enqueue(
        job=job_create(workspace, callback_url=receiver.url("/hook?source=persona", host="hooks.example.test"))
    )

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert len(receiver.requests) == 1
    assert receiver.requests[0]["path"] == "/hook?source=persona"
    assert header(receiver.requests[0], "Host") == f"hooks.example.test:{receiver.port}"
    assert lookups.count("hooks.example.test") == 1  # resolved once; the connection used that answer


def test_delivery_refuses_a_host_that_now_resolves_to_a_private_address(workspace, receiver, resolver, settings):
    table, _ = resolver
    table["hooks.example.test"] = [PUBLIC_IP]
    url = receiver.url(host="hooks.example.test")
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    assert webhooks.callback_url_validate(url) == url
    delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=url))
    table["hooks.example.test"] = ["127.0.0.1"]  # the DNS answer changed after the job was accepted

    webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error.startswith("refused: callback_url:")


def _tls_files(tmp_path, *, hostname: str) -> tuple[str, str, str]:
    """A CA, and a server certificate for `hostname` signed by it: (ca.pem, cert.pem, key.pem)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject_key, issuer_name, issuer_key, name, *, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer_name)
            .public_key(subject_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            ).add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test webhooks CA")])
    ca_cert = certificate(ca_key, ca_name, ca_key, "Test webhooks CA", ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = certificate(server_key, ca_name, ca_key, hostname, ca=False)

    paths = [str(tmp_path / name) for name in ("ca.pem", "cert.pem", "key.pem")]
    with open(paths[0], "wb") as file:
        file.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as file:
        file.write(server_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as file:
        file.write(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths[0], paths[1], paths[2]


@pytest.mark.parametrize(
    ("certificate_name", "delivered"), [("hooks.example.test", True), ("other.example.test", False)]
)
def test_https_to_the_pinned_address_verifies_the_certificate_against_the_hostname(
    workspace, resolver, monkeypatch, tmp_path, certificate_name, delivered
):
    ca_path, cert_path, key_path = _tls_files(tmp_path, hostname=certificate_name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    tls_receiver = Receiver(ssl_context=context)
    monkeypatch.setattr("requests.adapters.DEFAULT_CA_BUNDLE_PATH", ca_path)
    table, _ = resolver
    table["hooks.example.test"] = ["127.0.0.1"]
    try:
        url = tls_receiver.url(host="hooks.example.test")
        delivery = webhooks.webhook_enqueue(job=job_create(workspace, callback_url=url))

        webhooks.webhook_deliver(delivery_id=delivery.pk)

        delivery.refresh_from_db()
        assert server_names == ["hooks.example.test"]  # SNI carries the hostname, not the pinned IP
        if delivered:
            assert delivery.status == WebhookDelivery.Status.DELIVERED
            assert header(tls_receiver.requests[0], "Host") == f"hooks.example.test:{tls_receiver.port}"
        else:
            assert delivery.status == WebhookDelivery.Status.PENDING and tls_receiver.requests == []
            error = WebhookAttempt.objects.get(delivery=delivery).error
            assert "SSLError" in error and "hooks.example.test" in error, error
    finally:
        tls_receiver.close()


# The URL guard, run when a job is created


@pytest.fixture
def guarded(settings, resolver):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    table, _ = resolver
    table.update(
        {
            "localhost": ["127.0.0.1", "::1"],
            "internal.example.com": ["10.0.0.5"],
            "mixed.example.com": [PUBLIC_IP, "192.168.1.20"],
            "metadata.example.com": ["169.254.169.254"],
            "v6-internal.example.com": ["fd00::1"],
            "hooks.example.com": [PUBLIC_IP],
            "v6-hooks.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
        }
    )
    return table


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://internal.example.com/hook",
        "http://mixed.example.com/hook",
        "http://metadata.example.com/hook",
        "http://v6-internal.example.com/hook",
    ],
)
def test_callback_url_refuses_private_addresses(guarded, url):
    with pytest.raises(InvalidInput) as caught:
        webhooks.callback_url_validate(url)
    assert caught.value.status == 422
    assert caught.value.message.startswith("callback_url:")
    assert "callback_url" in caught.value.details


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.216.34/hook", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://93.184.216.34:70/_", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("hooks.example.com/hook", "http or https"),
        ("https://user:secret@hooks.example.com/hook", "credentials"),
        ("https://token@hooks.example.com/hook", "credentials"),
        ("https:///hook", "host"),
        ("https://hooks.example.com:99999/hook", "not a valid URL"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/" + "a" * 2000, "2000"),
        ("https://nowhere.invalid/hook", "does not resolve"),
    ],
)
def test_callback_url_refuses_malformed_urls(guarded, url, reason):
    with pytest.raises(InvalidInput, match=reason) as caught:
        webhooks.callback_url_validate(url)
    assert caught.value.details == {"callback_url": [caught.value.message.removeprefix("callback_url: ")]}


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/persona?token=abc",
        "http://hooks.example.com:8080/hook",
        f"https://{PUBLIC_IP}/hook",
        "https://v6-hooks.example.com/hook",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        "https://[64:ff9b::5db8:d822]/hook",  # NAT64 form of a public IPv4 address
    ],
)
def test_callback_url_accepts_public_addresses(guarded, url):
    assert webhooks.callback_url_validate(f"  {url} ") == url


def test_callback_url_empty_means_no_callback(guarded):
    assert webhooks.callback_url_validate("") == ""


def test_private_urls_allowed_when_configured(guarded, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert webhooks.callback_url_validate("http://localhost:8000/hook") == "http://localhost:8000/hook"
    with pytest.raises(InvalidInput, match="http or https"):
        webhooks.callback_url_validate("file:///etc/passwd")
