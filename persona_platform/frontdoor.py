"""The embedded server's front door: an asyncio HTTP/1.1 proxy in front of gunicorn, as nginx is in a
production deployment.

gunicorn's threads are few and each one reads its request itself, so a client that sends its headers
a line every two seconds holds a thread for as long as it likes, and thirty such clients hold them
all. Here every client costs a coroutine instead. A request reaches gunicorn only when it is whole:
headers within HEADER_TIMEOUT, the body within BODY_TIMEOUT and under the size limit. Each request
goes to gunicorn on a connection of its own that closes after the response, so one client's early
refusal (a 401 before its body was read) can never leave bytes that the next request would inherit.
The response streams back as gunicorn writes it (Server-Sent Events included).

The proxy also writes the access log, with no credential in it: query parameters that look like keys
are masked, and the Authorization and x-api-key headers are never logged.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import h11

logger = logging.getLogger("persona_platform.access")

# Headers that describe one hop, not the message: never passed on (RFC 9110 section 7.6.1).
HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    b"content-length", b"expect", b"x-forwarded-for", b"x-forwarded-proto", b"x-real-ip",
}  # fmt: skip
SECRET_QUERY = re.compile(r"(key|token|secret|password|signature|auth)", re.IGNORECASE)
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0  # from the first byte of a request to the end of its headers
    body_timeout: float = 60.0  # for the whole body
    keepalive_timeout: float = 5.0  # an idle kept-alive connection waits this long for the next request
    max_header_bytes: int = 32 * 1024
    max_body_bytes: int = 15 * 1024 * 1024
    upstream_timeout: float = 300.0  # between two pieces of gunicorn's answer


class RequestRefused(Exception):
    """The request cannot be forwarded: answer `status` and close the connection."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


ErrorBody = Callable[[str, int, str, str], bytes]


def plain_error_body(path: str, status: int, kind: str, message: str) -> bytes:
    return json.dumps({"error": kind, "message": message, "status": status}).encode()


def scrubbed_target(target: bytes) -> str:
    """The request target for the log, with key-like query values masked."""
    text = target.decode("latin-1")
    parts = urlsplit(text)
    if not parts.query:
        return text
    query = [(name, "[masked]" if SECRET_QUERY.search(name) else value) for name, value in parse_qsl(parts.query, True)]
    return f"{parts.path}?{urlencode(query, safe='[]')}"


class FrontDoor:
    """One listening socket; `upstream` opens a fresh (reader, writer) to gunicorn per request."""

    def __init__(
        self,
        *,
        upstream: Callable[[], "asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]"],
        limits: Limits = Limits(),
        error_body: ErrorBody = plain_error_body,
    ):
        self.upstream, self.limits, self.error_body = upstream, limits, error_body

    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("-",))[0]
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        served = 0
        try:
            while True:
                try:
                    request, body = await self._read_request(conn, reader, writer, first=not served)
                except RequestRefused as refused:
                    if refused.status:  # 0: the client went away or idled out; nothing to answer
                        await self._refuse(conn, writer, refused, path="/")
                    return
                if request is None:
                    return
                started = time.monotonic()
                status, sent = await self._forward(conn, writer, request, body, peer)
                served += 1
                self._log(peer, request, status, sent, time.monotonic() - started)
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                else:
                    return
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader, writer, *, first: bool):
        """(h11.Request, body bytes), or (None, b"") when the client closed cleanly between requests. The
        first request of a connection may take HEADER_TIMEOUT to begin; a kept-alive one KEEPALIVE_TIMEOUT."""
        limits = self.limits
        loop = asyncio.get_running_loop()
        headers_by: float | None = None
        body_by = 0.0
        request = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                kind = "RequestHeaderFieldsTooLarge" if status == 431 else "BadRequest"
                raise RequestRefused(status, kind, f"Malformed request: {exc}") from None
            if event is h11.NEED_DATA:
                if request is None and headers_by is None:  # before the first byte of a request
                    wait, deadline = (limits.header_timeout if first else limits.keepalive_timeout), None
                else:
                    deadline = headers_by if request is None else body_by
                    wait = deadline - loop.time()
                if conn.they_are_waiting_for_100_continue:  # the body is wanted whole: ask for it now
                    writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), timeout=max(wait, 0.001))
                except TimeoutError:
                    if deadline is None:  # a connection that never sent a request: closed quietly
                        raise RequestRefused(0, "", "idle") from None
                    part = "headers" if request is None else "body"
                    raise RequestRefused(408, "RequestTimeout", f"The request {part} took too long.") from None
                if headers_by is None:
                    headers_by = loop.time() + limits.header_timeout
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request = event
                declared = dict(event.headers).get(b"content-length")
                if declared is not None and int(declared) > limits.max_body_bytes:
                    raise RequestRefused(413, "PayloadTooLarge", _too_large(int(declared), limits.max_body_bytes))
                body_by = loop.time() + limits.body_timeout
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > limits.max_body_bytes:
                    raise RequestRefused(413, "PayloadTooLarge", _too_large(len(body), limits.max_body_bytes))
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                if request is None:
                    return None, b""
                raise RequestRefused(0, "", "closed mid-request")

    async def _refuse(self, conn: h11.Connection, writer: asyncio.StreamWriter, refused: RequestRefused, path: str):
        """Answer the error and close: the rest of the request is never read."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        try:
            _, sent = await self._answer(conn, writer, path, refused.status, refused.kind, refused.message, close=True)
        except (h11.LocalProtocolError, ConnectionError):
            return
        self._log("-", None, refused.status, sent, 0.0)

    async def _forward(self, conn, writer, request: h11.Request, body: bytes, peer: str) -> tuple[int, int]:
        """Send the whole request to gunicorn and stream its answer back. (status, body bytes sent)."""
        path = request.target.decode("latin-1")
        try:
            up_reader, up_writer = await self.upstream()
        except OSError as exc:
            logger.error("upstream unreachable: %s", exc)
            return await self._answer(conn, writer, path, 502, "BadGateway", "The API server is not answering.")
        upstream = h11.Connection(h11.CLIENT)
        headers = [(name, value) for name, value in request.headers if name.lower() not in HOP_BY_HOP]
        headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close"),
                    (b"x-forwarded-for", peer.encode()), (b"x-forwarded-proto", b"http")]  # fmt: skip
        try:
            up_writer.write(upstream.send(h11.Request(method=request.method, target=request.target, headers=headers)))
            if body:
                up_writer.write(upstream.send(h11.Data(data=body)))
            up_writer.write(upstream.send(h11.EndOfMessage()))
            await up_writer.drain()
            return await self._relay(conn, writer, upstream, up_reader, keep_alive=_wants_keep_alive(request))
        except (ConnectionError, h11.ProtocolError, TimeoutError) as exc:
            if conn.our_state is h11.SEND_RESPONSE:
                logger.error("upstream failed before answering: %s", exc)
                return await self._answer(conn, writer, path, 502, "BadGateway", "The API server failed to answer.")
            raise ConnectionError("upstream failed mid-response") from exc
        finally:
            up_writer.close()

    async def _relay(self, conn, writer, upstream, up_reader, *, keep_alive: bool) -> tuple[int, int]:
        status, sent = 0, 0
        while True:
            event = upstream.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(up_reader.read(READ_CHUNK), timeout=self.limits.upstream_timeout)
                upstream.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = [(n, v) for n, v in event.headers if n.lower() not in HOP_BY_HOP - {b"content-length"}]
                if not keep_alive:
                    headers.append((b"connection", b"close"))
                writer.write(conn.send(h11.Response(status_code=status, headers=headers, reason=event.reason)))
                await writer.drain()
            elif isinstance(event, h11.Data):
                sent += len(event.data)
                writer.write(conn.send(h11.Data(data=event.data)))
                await writer.drain()  # pass each piece on as it comes (Server-Sent Events)
            elif isinstance(event, h11.EndOfMessage):
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                return status, sent
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("upstream closed mid-response")

    async def _answer(
        self, conn, writer, path: str, status: int, kind: str, message: str, *, close: bool = False
    ) -> tuple[int, int]:
        """The front door's own answer, an error in the path's dialect envelope. (status, body bytes sent)."""
        body = self.error_body(path, status, kind, message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        return status, len(body)

    def _log(self, peer: str, request: h11.Request | None, status: int, sent: int, seconds: float) -> None:
        line = "-" if request is None else f"{request.method.decode()} {scrubbed_target(request.target)}"
        logger.info('%s "%s" %s %s %.3f', peer, line, status, sent, seconds)


def _wants_keep_alive(request: h11.Request) -> bool:
    for name, value in request.headers:
        if name.lower() == b"connection" and b"close" in value.lower():
            return False
    return request.http_version != b"1.0"


def _too_large(size: int, limit: int) -> str:
    return f"The request body is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.1f} MB."


async def serve(
    *, host: str, port: int, upstream_socket: str, limits: Limits = Limits(), error_body: ErrorBody = plain_error_body
) -> None:
    """Listen on host:port and forward to gunicorn's unix socket until canceled."""
    door = FrontDoor(
        upstream=lambda: asyncio.open_unix_connection(upstream_socket), limits=limits, error_body=error_body
    )
    server = await asyncio.start_server(door.serve_client, host, port, reuse_address=True, backlog=1024)
    async with server:
        await server.serve_forever()
