"""A local stand-in for the fal.ai endpoints the LoRA trainer uses, for tests.

One server plays three hosts under three prefixes: the storage API (`/rest`: upload initiate), the signed upload
target and CDN (`/cdn`: PUT the bytes, GET them back) and the queue (`/queue`: submit, status, result, cancel).
It checks `Authorization: Key …` where fal wants the key (and records that the upload PUT carried none), records
every request, and trains nothing: a request stays IN_QUEUE for `queue_polls` status checks and IN_PROGRESS for
`progress_polls` (logging a tqdm-like step counter), then completes with LoRA file URLs. Like the real trainer it
reads its input only when it runs: a bad input is refused by the result (422), not by the submit.

    with FalServer(api_key="k") as server:
        server.fail_next(503, route="status")
        ...
        server.requests[-1].json
"""

import io
import json
import re
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fake_http import LocalServer, QuietHandler

TRAINING_APP = "fal-ai/flux-lora-fast-training"
MAX_STEPS = 10000  # this stand-in's bound, to have an input the trainer refuses
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
DEFAULT_FAILURES = {
    400: {"detail": "Bad request."},
    401: {"detail": "No user found for Key ID and Secret"},
    403: {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."},
    404: {"detail": "Not Found"},
    422: {"detail": [{"loc": ["body", "images_data_url"], "msg": "field required", "type": "value_error.missing"}]},
    429: {"detail": "Too many requests: concurrent request limit reached."},
    500: {"detail": "Internal server error"},
    503: {"detail": "Service temporarily unavailable"},
}


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string, as sent (percent-encoded)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    route: str  # initiate, upload, cdn, submit, status, result, cancel or unknown
    body: bytes = b""
    json: object = None


@dataclass
class Training:
    request_id: str
    app: str
    input: dict
    polls: int = 0
    canceled: bool = False
    deleted: bool = False  # its payloads and output files were deleted through the platform API
    logs: list[dict] = field(default_factory=list)


@dataclass
class _Scripted:
    route: str | None
    status: int | None = None
    body: object = None
    delay: float = 0.0


class FalServer(LocalServer):
    """fal.ai's storage and queue APIs on a local port (see tests.fake_http)."""

    def __init__(self, api_key: str = "test-fal-key", *, queue_polls: int = 1, progress_polls: int = 2):
        self.api_key = api_key
        self.queue_polls = queue_polls
        self.progress_polls = progress_polls
        self.foreign_urls = False  # answer status/response/cancel URLs on another host, as a hijacked answer would
        self.result_override: dict | None = None  # the result body, instead of the LoRA files
        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, tuple[str, bytes]] = {}  # file_url → (content type, bytes)
        self.trainings: dict[str, Training] = {}
        self._pending_uploads: dict[str, str] = {}  # upload token → file_url
        self._script: list[_Scripted] = []
        self._lock = threading.Lock()
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def queue_url(self) -> str:
        return self.url + "/queue"

    @property
    def rest_url(self) -> str:
        return self.url + "/rest"

    @property
    def platform_url(self) -> str:
        return self.url + "/platform"

    def fail_next(self, status: int, body: object = None, *, route: str | None = None) -> None:
        """The next request (on `route`, if given) is answered with this status and a fal-like body for it."""
        with self._lock:
            self._script.append(
                _Scripted(route=route, status=status, body=body if body is not None else DEFAULT_FAILURES.get(status))
            )

    def delay_next(self, seconds: float, *, route: str | None = None) -> None:
        """The next request (on `route`, if given) is answered normally, but only after `seconds`."""
        with self._lock:
            self._script.append(_Scripted(route=route, delay=seconds))

    def routes(self) -> list[str]:
        return [request.route for request in self.requests]

    def _next_script(self, route: str) -> _Scripted | None:
        with self._lock:
            for index, scripted in enumerate(self._script):
                if scripted.route in (None, route):
                    return self._script.pop(index)
        return None


class _Handler(QuietHandler):
    # -- plumbing -------------------------------------------------------------------------------------------

    def _dispatch(self):
        owner = self.server.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        recorded = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            route=_route_name(self.command, split.path),
            body=raw,
        )
        if recorded.headers.get("content-type", "").startswith("application/json") and raw:
            try:
                recorded.json = json.loads(raw)
            except ValueError:
                recorded.json = None
        owner.requests.append(recorded)

        scripted = owner._next_script(recorded.route)
        if scripted and scripted.delay:
            owner._released.wait(scripted.delay)
        if scripted and scripted.status:
            return self._send_json(scripted.status, scripted.body or {})
        keyless = recorded.route in ("upload", "cdn")  # signed upload URLs and public files need no key
        if not keyless and recorded.headers.get("authorization") != f"Key {owner.api_key}":
            return self._send_json(401, DEFAULT_FAILURES[401])
        handler = getattr(self, f"_{recorded.route}", None)
        if handler is None:
            return self._send_json(404, DEFAULT_FAILURES[404])
        return handler(recorded)

    def _training(self, request: RecordedRequest) -> Training | None:
        match = re.fullmatch(r"/queue/([^/]+/[^/]+)/requests/([^/]+)(?:/status|/cancel)?", request.path)
        training = self.server.owner.trainings.get(unquote(match.group(2))) if match else None
        return training if training and training.app == unquote(match.group(1)) else None

    # -- storage --------------------------------------------------------------------------------------------

    def _initiate(self, request: RecordedRequest):
        body = request.json if isinstance(request.json, dict) else {}
        file_name, content_type = body.get("file_name"), body.get("content_type")
        if not isinstance(file_name, str) or not file_name or not isinstance(content_type, str):
            detail = [{"loc": ["body", "file_name"], "msg": "field required", "type": "value_error.missing"}]
            return self._send_json(422, {"detail": detail})
        token = uuid.uuid4().hex
        owner = self.server.owner
        file_url = f"{owner.url}/cdn/files/{token}/{file_name}"
        owner._pending_uploads[token] = file_url
        return self._send_json(
            200, {"upload_url": f"{owner.url}/cdn/uploads/{token}?signature=s", "file_url": file_url}
        )

    def _upload(self, request: RecordedRequest):
        owner = self.server.owner
        token = request.path.rsplit("/", 1)[-1]
        file_url = owner._pending_uploads.pop(token, None)
        if file_url is None or request.query.get("signature") != "s":
            return self._send(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
        owner.uploads[file_url] = (request.headers.get("content-type", ""), request.body)
        return self._send(200, b"", "text/plain")

    def _cdn(self, request: RecordedRequest):
        uploaded = self.server.owner.uploads.get(self.server.owner.url + request.path)
        if uploaded is None:
            return self._send(404, b"Not Found", "text/plain")
        return self._send(200, uploaded[1], uploaded[0] or "application/octet-stream")

    # -- queue ----------------------------------------------------------------------------------------------

    def _submit(self, request: RecordedRequest):
        owner = self.server.owner
        app = request.path.removeprefix("/queue/")
        if app != TRAINING_APP:
            return self._send_json(404, {"detail": f"Application '{app}' not found"})
        if not isinstance(request.json, dict):
            return self._send_json(422, {"detail": "The request body must be a JSON object."})
        request_id = str(uuid.uuid4())
        owner.trainings[request_id] = Training(request_id=request_id, app=app, input=request.json)
        base = ("https://queue.elsewhere.example" if owner.foreign_urls else owner.queue_url) + f"/{app}"
        base += f"/requests/{request_id}"
        answer = {
            "request_id": request_id,
            "response_url": base,
            "status_url": base + "/status",
            "cancel_url": base + "/cancel",
            "queue_position": 0,
        }
        return self._send_json(200, answer)

    def _status(self, request: RecordedRequest):
        owner = self.server.owner
        training = self._training(request)
        if training is None:
            return self._send_json(404, {"detail": "Request not found"})
        with_logs = request.query.get("logs") in ("1", "true")
        training.polls += 1
        base = f"{owner.queue_url}/{training.app}/requests/{training.request_id}"
        answer = {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}
        if training.canceled:
            # fal ends a canceled request; its result then answers the cancellation.
            return self._send_json(200, answer | {"status": "COMPLETED", "logs": training.logs if with_logs else None})
        if training.polls <= owner.queue_polls:
            return self._send_json(
                200, answer | {"status": "IN_QUEUE", "queue_position": owner.queue_polls - training.polls}
            )
        running = training.polls - owner.queue_polls
        if running <= owner.progress_polls:
            steps = _steps(training.input) or 1000
            done = steps * running // (owner.progress_polls + 1)
            training.logs.append(_log(f"Training: {done * 100 // steps:3d}%|####      | {done}/{steps} [00:10<00:15]"))
            return self._send_json(
                200, answer | {"status": "IN_PROGRESS", "logs": training.logs if with_logs else None}
            )
        if not any(log["message"] == "Training finished." for log in training.logs):
            training.logs.append(_log("Training finished."))
        completed = {
            "status": "COMPLETED",
            "logs": training.logs if with_logs else None,
            "metrics": {"inference_time": 42.0},
        }
        return self._send_json(200, answer | completed)

    def _result(self, request: RecordedRequest):
        owner = self.server.owner
        training = self._training(request)
        if training is None:
            return self._send_json(404, {"detail": "Request not found"})
        if training.canceled:
            return self._send_json(400, {"detail": "Request was cancelled."})
        if training.deleted:
            return self._send_json(404, {"detail": "Request not found"})
        if training.polls <= owner.queue_polls + owner.progress_polls:
            return self._send_json(400, {"detail": "Request is still in progress"})
        refusal = self._refusal(training.input)
        if refusal:
            return self._send_json(422, {"detail": refusal})
        if owner.result_override is not None:
            return self._send_json(200, owner.result_override)
        files = f"{owner.url}/cdn/files/{training.request_id}"
        answer = {
            "diffusers_lora_file": {
                "url": f"{files}/pytorch_lora_weights.safetensors",
                "content_type": "application/octet-stream",
                "file_name": "pytorch_lora_weights.safetensors",
                "file_size": 89_745_224,
            },
            "config_file": {
                "url": f"{files}/config.json",
                "content_type": "application/octet-stream",
                "file_name": "config.json",
                "file_size": 1_024,
            },
            "debug_preprocessed_output": None,
        }
        return self._send_json(200, answer)

    def _cancel(self, request: RecordedRequest):
        owner = self.server.owner
        training = self._training(request)
        if training is None:
            return self._send_json(404, {"status": "NOT_FOUND"})
        if training.polls > owner.queue_polls + owner.progress_polls and not training.canceled:
            return self._send_json(400, {"status": "ALREADY_COMPLETED"})
        training.canceled = True
        return self._send_json(202, {"status": "CANCELLATION_REQUESTED"})

    def _payloads(self, request: RecordedRequest):
        """The platform API's "Delete request payloads": the output files' links, each with no exception."""
        match = re.fullmatch(r"/platform/models/requests/([^/]+)/payloads", request.path)
        training = self.server.owner.trainings.get(unquote(match.group(1))) if match else None
        if training is None or training.deleted:
            return self._send_json(404, {"detail": "Request not found"})
        training.deleted = True
        files = f"{self.server.owner.url}/cdn/files/{training.request_id}"
        links = [f"{files}/pytorch_lora_weights.safetensors", f"{files}/config.json"]
        return self._send_json(200, {"cdn_delete_results": [{"link": link, "exception": None} for link in links]})

    def _refusal(self, arguments: dict) -> list[dict] | None:
        """What the trainer would refuse in its input, as FastAPI words it; None for a good input."""
        url = arguments.get("images_data_url")
        if not isinstance(url, str):
            return DEFAULT_FAILURES[422]["detail"]
        steps = arguments.get("steps", 1000)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            msg = f"ensure this value is less than or equal to {MAX_STEPS}"
            return [{"loc": ["body", "steps"], "msg": msg, "type": "value_error.number.not_le"}]
        uploaded = self.server.owner.uploads.get(url)
        if uploaded is None:
            return [
                {
                    "loc": ["body", "images_data_url"],
                    "msg": "Failed to download the file.",
                    "type": "file_download_error",
                }
            ]
        try:
            with zipfile.ZipFile(io.BytesIO(uploaded[1])) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return [
                {"loc": ["body", "images_data_url"], "msg": "The archive is not a zip file.", "type": "value_error"}
            ]
        if not any(name.lower().endswith(IMAGE_SUFFIXES) for name in names):
            return [
                {"loc": ["body", "images_data_url"], "msg": "No images found in the archive.", "type": "value_error"}
            ]
        return None


def _route_name(method: str, path: str) -> str:
    if method == "POST" and path == "/rest/storage/upload/initiate":
        return "initiate"
    if method == "PUT" and path.startswith("/cdn/uploads/"):
        return "upload"
    if method == "GET" and path.startswith("/cdn/files/"):
        return "cdn"
    if method == "DELETE" and path.startswith("/platform/models/requests/"):
        return "payloads"
    if path.startswith("/queue/"):
        if "/requests/" not in path:
            return "submit" if method == "POST" else "unknown"
        if method == "GET" and path.endswith("/status"):
            return "status"
        if method == "PUT" and path.endswith("/cancel"):
            return "cancel"
        if method == "GET":
            return "result"
    return "unknown"


def _steps(arguments: dict) -> int | None:
    steps = arguments.get("steps")
    return steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else None


def _log(message: str) -> dict:
    return {"message": message, "level": "INFO", "source": "user", "timestamp": datetime.now(UTC).isoformat()}
