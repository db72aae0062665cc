"""What the local stand-ins for providers' HTTP APIs (ElevenLabs, fal.ai, an OpenAI-compatible
server) share: a quiet threaded server on a random loopback port, its lifecycle, and the handler's
plumbing. Each stand-in adds its own routes and knobs."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: "LocalServer"

    def handle_error(self, request, client_address):
        pass  # a client that hung up on a slow answer is expected here, not a failure to print


class QuietHandler(BaseHTTPRequestHandler):
    """Every method goes to `_dispatch`, which each stand-in writes; nothing is logged."""

    server: QuietServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        raise NotImplementedError

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_json(self, status: int, payload: object):
        self._send(status, json.dumps(payload).encode(), "application/json")


class LocalServer:
    """A stand-in on 127.0.0.1 with a random port, serving from a daemon thread; a context manager."""

    def __init__(self, handler: type[QuietHandler]):
        # Set by stop(): wakes any handler sleeping through a scripted delay.
        self._released = threading.Event()
        self._httpd = QuietServer(("127.0.0.1", 0), handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def serving(body: bytes, content_type: str, path: str = "/file") -> Iterator[str]:
    """One file at a loopback URL (a private address, as a safe fetch sees it), whatever path is asked."""

    class Handler(QuietHandler):
        def _dispatch(self):
            self._send(200, body, content_type)

    with LocalServer(Handler) as server:
        yield server.base_url + path
