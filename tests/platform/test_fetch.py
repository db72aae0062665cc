"""The shared URL fetch: only public http(s) addresses, each redirect hop checked again, size and time limits.

A real HTTP server runs on loopback, so happy paths pass allow_private=True and the guard tests pass False. Name
resolution is always faked: no test depends on real DNS.
"""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from persona_platform import fetch
from persona_platform.errors import InvalidInput, MediaTooLarge

FIELD = "reference_images[0]"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
BLOCK = b"x" * 65536


class Origin:
    """An HTTP server in a thread that answers by path and records each request's path and Host header."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.sent: dict[str, int] = {}
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                origin.requests.append((self.path, self.headers.get("Host", "")))
                path = urlsplit(self.path).path
                try:
                    getattr(self, "route_" + path.strip("/").split("/")[0].replace("-", "_"), self.route_missing)()
                except OSError:
                    pass  # the client hung up: what the size and time tests expect

            def route_image(self):
                self.answer(200, IMAGE, {"Content-Type": "image/png"})

            def route_chain(self):
                hops = int(self.path.rsplit("/", 1)[1])
                # Relative locations, both path-absolute and path-relative, as servers send them.
                location = "../image" if hops == 1 else f"/chain/{hops - 1}"
                self.answer(302, b"", {"Location": location})

            def route_redirect(self):
                self.answer(302, b"", {"Location": parse_qs(urlsplit(self.path).query)["to"][0]})

            def route_loop(self):
                self.answer(301, b"", {"Location": f"/loop/{int(self.path.rsplit('/', 1)[1]) + 1}"})

            def route_missing(self):
                self.answer(404, b"not here", {"Content-Type": "text/plain"})

            def route_declared_huge(self):
                self.answer(200, BLOCK, {"Content-Length": str(10**9)}, length=False)

            def route_huge_lying(self):
                """Says 10 bytes, then sends megabytes chunked: HTTP clients believe the chunking, not the length."""
                self.start(200, {"Content-Length": "10", "Transfer-Encoding": "chunked"})
                for _ in range(320):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(BLOCK), BLOCK))
                    self.count(len(BLOCK))
                self.wfile.write(b"0\r\n\r\n")

            def route_huge_unsized(self):
                self.start(200, {"Content-Type": "application/octet-stream"})  # HTTP/1.0: the body ends at close
                for _ in range(320):
                    self.wfile.write(BLOCK)
                    self.count(len(BLOCK))

            def route_drip_body(self):
                self.start(200, {"Content-Length": "1000"})
                self.drip(b"x" * 1000)

            def route_drip_headers(self):
                self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                self.drip(b"X-Slow: " + b"a" * 1000)

            def route_gzip(self):
                self.answer(200, b"\x1f\x8b compressed", {"Content-Encoding": "gzip"})

            def answer(self, status: int, body: bytes, headers: dict, *, length: bool = True):
                if length:
                    headers = {**headers, "Content-Length": str(len(body))}
                self.start(status, headers)
                self.wfile.write(body)

            def start(self, status: int, headers: dict):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def drip(self, data: bytes):
                for byte in data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.02)

            def count(self, size: int):
                origin.sent[self.path] = origin.sent.get(self.path, 0) + size

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin():
    server = Origin()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def resolver(monkeypatch):
    """Fake name resolution: names in the table resolve to its addresses, IP literals parse, all else is unknown."""
    real = socket.getaddrinfo
    table = {"localhost": ["127.0.0.1"], "media.example.test": ["127.0.0.1"], "cdn.example.test": ["93.184.216.34"]}
    lookups: list[str] = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        lookups.append(host)
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in table[host]]
        try:
            return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table, lookups


@pytest.fixture(autouse=True)
def no_private_urls(settings):
    settings.FETCH_ALLOW_PRIVATE_URLS = False
    return settings


@pytest.fixture
def body_reads(monkeypatch):
    """The size of every body read the fetch makes: proof of how much it took in."""
    sizes: list[int] = []
    real = urllib3.response.HTTPResponse.read1

    def counting(self, *args, **kwargs):
        data = real(self, *args, **kwargs)
        sizes.append(len(data or b""))
        return data

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read1", counting)
    return sizes


@pytest.fixture
def first_check_passes(monkeypatch):
    """The origin on loopback stands in for a public host: the first address check passes, later ones are real."""
    real = fetch.address_forbidden
    checked: list = []

    def forbidden(address):
        checked.append(address)
        return False if len(checked) == 1 else real(address)

    monkeypatch.setattr(fetch, "address_forbidden", forbidden)
    return checked


def refused(url: str, error=InvalidInput, **kwargs) -> str:
    """The refusal's message, after checking that it names the field and the URL and fills `details`."""
    kwargs = {"max_bytes": 10_000, "timeout": 3, **kwargs}
    with pytest.raises(error) as caught:
        fetch.fetch_url(url, field=FIELD, **kwargs)
    message = caught.value.message
    assert message.startswith(f"{FIELD}: {fetch.url_shown(url)} "), message
    assert caught.value.details == {FIELD: [message.removeprefix(f"{FIELD}: ")]}
    return message


# The happy path


def test_fetches_the_body_and_content_type(origin):
    fetched = fetch.fetch_url(origin.url("/image"), field=FIELD, max_bytes=10_000, allow_private=True, accept="image/*")

    assert fetched == fetch.Fetched(url=origin.url("/image"), content=IMAGE, content_type="image/png")
    assert len(origin.requests) == 1


def test_connects_to_the_checked_address_with_the_name_in_host(origin, resolver):
    _, lookups = resolver
    fetched = fetch.fetch_url(origin.url("/image", host="media.example.test"), field=FIELD, max_bytes=10_000,
                              allow_private=True)  # fmt: skip

    assert fetched.content == IMAGE
    assert origin.requests == [("/image", f"media.example.test:{origin.port}")]
    assert lookups.count("media.example.test") == 1  # resolved once; the connection used that answer


def test_follows_relative_redirects_to_the_final_url(origin):
    fetched = fetch.fetch_url(origin.url("/chain/3"), field=FIELD, max_bytes=10_000, allow_private=True)

    assert fetched.content == IMAGE and fetched.url == origin.url("/image")
    assert [path for path, _ in origin.requests] == ["/chain/3", "/chain/2", "/chain/1", "/image"]


def test_the_setting_decides_when_allow_private_is_not_given(origin, settings):
    refused(origin.url("/image"))
    settings.FETCH_ALLOW_PRIVATE_URLS = True
    assert fetch.fetch_url(origin.url("/image"), field=FIELD, max_bytes=10_000).content == IMAGE


# The address guard


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "http://10.0.0.1/x.jpg",
        "https://172.16.5.4/x.jpg",
        "http://192.168.1.20:8080/x.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.64.0.1/x.jpg",
        "http://0.0.0.0/x.jpg",
        "http://224.0.0.1/x.jpg",
        "http://[::1]/x.jpg",
        "http://[::ffff:127.0.0.1]/x.jpg",
        "http://[::ffff:a9fe:a9fe]/x.jpg",
        "http://localhost/x.jpg",
    ],
)
def test_refuses_private_addresses(url):
    message = refused(url, allow_private=False)
    assert "resolves to a private address" in message and "only public http(s) URLs" in message


def test_the_refusal_names_the_address_as_written():
    message = refused("http://[::ffff:127.0.0.1]/x.jpg", allow_private=False)
    assert message == (
        f"{FIELD}: http://[::ffff:127.0.0.1]/x.jpg resolves to a private address (::ffff:127.0.0.1); "
        "only public http(s) URLs are allowed."
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "must be an http or https URL"),
        ("ftp://93.184.216.34/x.jpg", "must be an http or https URL"),
        ("gopher://93.184.216.34:70/_", "must be an http or https URL"),
        ("https://user:secret@cdn.example.test/x.jpg", "must not contain credentials"),
        ("https://cdn.example.test:99999/x.jpg", "is not a valid URL"),
        ("https://cdn.example.test/a b.jpg", "spaces"),
        ("https://nowhere.invalid/x.jpg", "does not resolve"),
    ],
)
def test_refuses_urls_that_are_not_plain_http(url, reason):
    message = refused(url, allow_private=True)  # refused whatever the address
    assert reason in message
    assert "secret" not in message  # credentials are never repeated


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:{port}/image", "http://169.254.169.254/latest/meta-data", "file:///etc/passwd"],
)
def test_every_redirect_hop_is_checked_again(origin, first_check_passes, location):
    url = origin.url("/redirect?to=" + location.format(port=origin.port), host="media.example.test")

    message = refused(url, allow_private=False)

    assert f"(redirected to {location.format(port=origin.port)})" in message
    assert [path for path, _ in origin.requests] == [urlsplit(url).path + "?" + urlsplit(url).query]  # no 2nd hop


def test_too_many_redirects_are_refused(origin):
    message = refused(origin.url("/loop/0"), allow_private=True, max_redirects=3)

    assert "redirects more than 3 times" in message
    assert len(origin.requests) == 4


# Answers that are not a body to keep


def test_a_non_2xx_answer_is_refused_with_its_status(origin):
    assert "answered HTTP 404" in refused(origin.url("/missing"), allow_private=True)


def test_a_redirect_to_a_missing_page_names_both_urls(origin):
    url = origin.url("/redirect?to=/missing")
    message = refused(url, allow_private=True)
    assert f"(redirected to {origin.url('/missing')}) answered HTTP 404" in message


def test_a_compressed_answer_is_refused(origin):
    assert "Content-Encoding gzip" in refused(origin.url("/gzip"), allow_private=True)


def test_network_failures_name_the_url(resolver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    message = refused(f"http://127.0.0.1:{closed_port}/x.jpg", allow_private=True)
    assert "could not be fetched: the connection failed" in message


# Size and time limits


def test_a_declared_size_over_the_limit_is_refused_before_reading(origin, body_reads):
    message = refused(origin.url("/declared-huge"), MediaTooLarge, allow_private=True, max_bytes=1_000_000)

    assert "the limit is" in message
    assert body_reads == []


@pytest.mark.parametrize("path", ["/huge-lying", "/huge-unsized"])
def test_a_body_over_the_limit_is_cut_off_at_the_limit(origin, body_reads, path):
    max_bytes = 200_000

    message = refused(origin.url(path), MediaTooLarge, allow_private=True, max_bytes=max_bytes)

    assert "is larger than the limit" in message
    assert sum(body_reads) == max_bytes + 1  # read up to one byte past the limit, and no further
    assert max(body_reads) <= fetch.CHUNK_BYTES


@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_a_slow_drip_cannot_outlast_the_deadline(origin, path):
    started = time.monotonic()

    message = refused(origin.url(path), allow_private=True, timeout=0.5)

    assert "could not be fetched within 0.5 seconds" in message
    assert time.monotonic() - started < 1.5
