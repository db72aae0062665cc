"""The front door in-process, against a tiny upstream on a unix socket: whole requests only, bounded
waits, one upstream connection per request, answers streamed back as they come."""

import asyncio
import socket
import threading
import time

import pytest

from persona_platform import frontdoor

LIMITS = frontdoor.Limits(header_timeout=0.5, body_timeout=0.5, keepalive_timeout=0.5, max_body_bytes=1000)


class Upstream:
    """Answers each request with what it received; `/stream` sends three pieces 0.2 s apart."""

    def __init__(self):
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        if head.startswith(b"GET /stream"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b"one", b"two", b"three"):
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.2)
            writer.write(b"0\r\n\r\n")
        else:
            answer = b"got %d bytes" % len(body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
        await writer.drain()
        writer.close()


@pytest.fixture
def door(tmp_path):
    """(port, upstream) of a front door running in a background event loop."""
    upstream = Upstream()
    path = str(tmp_path / "up.sock")
    loop = asyncio.new_event_loop()
    port_box = []

    async def main():
        await asyncio.start_unix_server(upstream.handle, path)
        door = frontdoor.FrontDoor(upstream=lambda: asyncio.open_unix_connection(path), limits=LIMITS)
        server = await asyncio.start_server(door.serve_client, "127.0.0.1", 0)
        port_box.append(server.sockets[0].getsockname()[1])

    def run():
        loop.create_task(main())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not port_box and time.monotonic() < deadline:
        time.sleep(0.01)
    yield port_box[0], upstream

    async def shut_down():
        """Cancel what is still running (a connection the test left open), then stop the loop."""
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        loop.stop()

    asyncio.run_coroutine_threadsafe(shut_down(), loop)
    thread.join(5)
    loop.close()


def talk(port: int, data: bytes, *, read_for: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.settimeout(read_for)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
        return received


def test_a_request_reaches_upstream_whole_with_its_length_and_a_close(door):
    port, upstream = door

    answer = talk(
        port, b"POST /x?key=abc HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )

    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"got 5 bytes")
    [request] = upstream.requests
    assert b"content-length: 5" in request.lower() and b"connection: close" in request.lower()
    assert b"transfer-encoding" not in request.lower() and request.endswith(b"hello")


def test_two_requests_on_one_kept_alive_connection_each_get_their_answer(door):
    port, upstream = door

    answer = talk(port, b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")

    assert answer.count(b"HTTP/1.1 200") == 2 and len(upstream.requests) == 2


def test_a_body_over_the_limit_is_a_413_that_closes_without_reaching_upstream(door):
    port, upstream = door

    answer = talk(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"x" * 10)

    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
    assert b'"PayloadTooLarge"' in answer and upstream.requests == []


def test_headers_that_never_end_get_a_408(door):
    port, upstream = door

    answer = talk(port, b"GET /x HTTP/1.1\r\nHost: a\r\n")

    assert answer.startswith(b"HTTP/1.1 408") and upstream.requests == []


def test_a_body_that_stops_arriving_gets_a_408(door):
    port, upstream = door

    answer = talk(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")

    assert answer.startswith(b"HTTP/1.1 408") and upstream.requests == []


def test_a_streamed_answer_is_passed_on_piece_by_piece(door):
    port, _ = door
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
        sock.settimeout(2)
        received = b""
        while b"one" not in received:
            received += sock.recv(65536)
        first, started = received, time.monotonic()
        while b"0\r\n\r\n" not in received:
            received += sock.recv(65536)

    assert b"three" not in first  # the first piece came before the last was written
    assert b"three" in received and time.monotonic() - started >= 0.3


def test_an_unreachable_upstream_is_a_502(tmp_path):
    door = frontdoor.FrontDoor(upstream=lambda: asyncio.open_unix_connection(str(tmp_path / "nothing.sock")))

    async def main():
        server = await asyncio.start_server(door.serve_client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        server.close()
        return answer

    assert asyncio.run(main()).startswith(b"HTTP/1.1 502")


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (b"/v1/speech?api_key=pp_secret&page=2", "/v1/speech?api_key=[masked]&page=2"),
        (b"/v1/speech?token=abc", "/v1/speech?token=[masked]"),
        (b"/v1/speech", "/v1/speech"),
    ],
)
def test_key_like_query_values_are_masked_in_the_log(target, logged):
    assert frontdoor.scrubbed_target(target) == logged
