"""A local server that speaks OpenAI's `POST /v1/chat/completions`, streamed (SSE) and not, for responder tests.

It answers with a fixed `reply`, or, when there is none, echoes the last user message (which carries the
numbered passages), so a test can see what was sent come back. Knobs script the next request: a failure
status, a slow first token, a one-off reply, or a stream cut off before it finishes; `delta_delay` spaces
out every stream's deltas.
"""

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

from tests.fake_http import LocalServer, QuietHandler

DEFAULT_FAILURES = {
    400: {
        "error": {
            "message": "This model's maximum context length is 8192 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    },
    404: {
        "error": {"message": "The model does not exist.", "type": "invalid_request_error", "code": "model_not_found"}
    },
    429: {"error": {"message": "Rate limit reached for requests.", "type": "requests", "code": "rate_limit_exceeded"}},
    500: {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}},
    503: {"error": {"message": "The engine is currently overloaded.", "type": "server_error"}},
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    json: object = None


@dataclass
class _Scripted:
    status: int | None = None
    body: object = None
    first_token_delay: float = 0.0
    reply: str | None = None
    truncate: bool = False


def deltas(text: str) -> list[str]:
    """How the server splits a reply into streamed deltas: one word each, with the space before it."""
    return re.findall(r"\s*\S+", text) or [text]


def unauthorized(sent_key: str) -> dict:
    """OpenAI's answer to a wrong key, which repeats the key it was sent: clients must not pass that on."""
    return {
        "error": {
            "message": f"Incorrect API key provided: {sent_key}. You can find your API key in your account.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


class LLMServer(LocalServer):
    """An OpenAI-compatible chat server on a local port (see tests.fake_http)."""

    def __init__(self, *, api_key: str | None = None, reply: str | None = None, model: str = "test-model"):
        self.api_key = api_key  # when set, requests must carry "Authorization: Bearer <api_key>"
        self.reply = reply  # None: echo the last user message
        self.model = model
        self.delta_delay = 0.0  # seconds between streamed deltas, to see them arrive one by one
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        """The base URL, as LLM_BASE_URL takes it (with /v1)."""
        return self.base_url + "/v1"

    # -- knobs ----------------------------------------------------------------------------------------------

    def fail_next(self, status: int, body: object = None) -> None:
        """The next request is answered with this status and an OpenAI-like error body (unless one is given)."""
        self._push(_Scripted(status=status, body=body))

    def slow_next(self, seconds: float) -> None:
        """The next answer's first token comes only after `seconds` (streamed: after the headers)."""
        self._push(_Scripted(first_token_delay=seconds))

    def reply_next(self, text: str) -> None:
        """The next request is answered with `text` instead of the usual reply."""
        self._push(_Scripted(reply=text))

    def truncate_next(self) -> None:
        """The next stream stops after its first delta, with no finish_reason and no [DONE]."""
        self._push(_Scripted(truncate=True))

    def _push(self, scripted: _Scripted) -> None:
        with self._lock:
            self._script.append(scripted)

    def _next_script(self) -> _Scripted:
        with self._lock:
            return self._script.popleft() if self._script else _Scripted()


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer encoding, as real servers stream

    def _dispatch(self):
        owner = self.server.owner
        self.close_connection = True
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        try:
            recorded.json = json.loads(raw) if raw else None
        except ValueError:
            recorded.json = None
        owner.requests.append(recorded)

        scripted = owner._next_script()
        sent_key = recorded.headers.get("authorization", "").removeprefix("Bearer ")
        if scripted.status:
            body = scripted.body
            if body is None:
                body = unauthorized(sent_key) if scripted.status == 401 else DEFAULT_FAILURES.get(scripted.status, {})
            return self._send_json(scripted.status, body)
        if owner.api_key and sent_key != owner.api_key:
            return self._send_json(401, unauthorized(sent_key))
        if self.command != "POST" or self.path != "/v1/chat/completions":
            return self._send_json(404, {"error": {"message": f"Unknown path {self.path}.", "type": "not_found"}})
        body = recorded.json if isinstance(recorded.json, dict) else {}
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._send_json(400, {"error": {"message": "messages: field required", "type": "invalid_request"}})

        reply = scripted.reply if scripted.reply is not None else owner.reply
        if reply is None:
            users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            reply = users[-1] if users else ""
        if body.get("stream"):
            return self._stream(reply, scripted)
        owner._released.wait(scripted.first_token_delay)
        return self._send_json(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": owner.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": len(deltas(reply)), "total_tokens": 1},
            },
        )

    def _stream(self, reply: str, scripted: _Scripted):
        owner = self.server.owner
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self._event(self._chunk({"role": "assistant", "content": ""}))
            self._write(b": keep-alive\n\n")  # comments may come at any time and carry nothing
            owner._released.wait(scripted.first_token_delay)
            for number, delta in enumerate(deltas(reply)):
                if number and owner.delta_delay:
                    owner._released.wait(owner.delta_delay)
                self._event(self._chunk({"content": delta}))
                if scripted.truncate and number == 0:
                    return self._write(b"")
            self._event(self._chunk({}, finish_reason="stop"))
            self._write(b"data: [DONE]\n\n")
            self._write(b"")  # the last, empty chunk
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.server.owner.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def _event(self, payload: dict):
        self._write(f"data: {json.dumps(payload)}\n\n".encode())

    def _write(self, data: bytes):
        """One HTTP chunk, flushed at once so the client sees each event as it is sent."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(self, status: int, payload: object):
        self._send(status, json.dumps(payload).encode(), "application/json", headers={"Connection": "close"})
