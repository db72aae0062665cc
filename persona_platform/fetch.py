"""Fetching a URL that an API caller gave us, without letting the caller aim our servers at our own network.

Server-side request forgery is the risk: a URL such as `http://169.254.169.254/latest/meta-data` or a name that
resolves to `10.0.0.5` would make the platform read, or post to, something only it can reach. So every URL is
checked the same way before any byte is sent:

- http and https only, no credentials in the URL;
- the host is resolved once, and every address it resolves to must be public (one private answer refuses the lot:
  the resolver, not we, decides which answer a client would use);
- the request goes to the very address that passed the check: the URL is rewritten to that IP while the Host
  header, TLS SNI and the certificate check keep the name (`PinnedHostAdapter`), so a DNS answer that changes
  between check and connect (DNS rebinding) cannot redirect the request;
- redirects are followed by hand, each hop checked again; proxies from the environment are ignored.

`target_resolve` and `PinnedHostAdapter` are the pieces (webhook delivery uses them for its POSTs);
`fetch_url` is the whole GET for media and documents that callers pass by URL, with size and time limits.
"""

import ipaddress
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from persona_platform.errors import InvalidInput, MediaTooLarge

logger = logging.getLogger(__name__)

URL_MAX_LENGTH = 2000
USER_AGENT = "PersonaPlatform-Fetch/1.0"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024
# How much of a URL an error message repeats: enough to recognise it, not a 2000-character echo.
_SHOWN_URL_LENGTH = 200
# Addresses that embed an IPv4 address which the network may route to (NAT64 well-known prefix).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """Where a request for a checked URL goes: the pinned address, and the names the server expects."""

    scheme: str
    host: str  # ASCII hostname (or IP literal) for SNI and the certificate check
    host_header: str
    pinned_url: str  # the URL with its host replaced by the checked address, without the fragment
    address: IPAddress


@dataclass(frozen=True)
class Fetched:
    """A fetched body; its content is not checked here: callers run it through their own validators."""

    url: str  # the final URL, after redirects
    content: bytes
    content_type: str  # the Content-Type header as sent, parameters included; empty when missing


class _Refused(Exception):
    """A URL that must not be requested; `reason` completes a sentence that starts with the URL."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# The address guard


def target_resolve(url: str, *, field: str, allow_private: bool) -> Target:
    """Check a URL and resolve its host once; every address must be public unless `allow_private` (development).

    Raises InvalidInput naming `field` and the URL, with the reason in `details[field]`.
    """
    try:
        return _resolve(url, allow_private=allow_private)
    except _Refused as refused:
        raise _invalid(field, f"{url_shown(url)} {refused.reason}") from None


def address_forbidden(address: IPAddress) -> bool:
    """Anything but a plain public unicast address, including IPv6 forms that carry a forbidden IPv4 address."""
    if address.version == 6 and address in _NAT64:
        # DNS64 answers in IPv6-only networks: the gateway connects to the embedded IPv4 address, so judge that.
        return address_forbidden(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # also shared address space (100.64.0.0/10) and other special-purpose ranges
    ):
        return True
    if address.version == 6:
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address.teredo:
            embedded.extend(address.teredo)
        return any(inner is not None and address_forbidden(inner) for inner in embedded)
    return False


def ip_literal(hostname: str) -> IPAddress | None:
    """The address when the host is written as one (`10.0.0.1`, `::1`), else None."""
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        return None


def url_shown(url: str) -> str:
    """The URL as an error message may repeat it: credentials masked, unprintable characters replaced, shortened."""
    shown = _USERINFO.sub(r"\1***@", url)
    shown = "".join(char if char.isprintable() else "?" for char in shown)
    return shown if len(shown) <= _SHOWN_URL_LENGTH else shown[: _SHOWN_URL_LENGTH - 1] + "…"


def _resolve(url: str, *, allow_private: bool) -> Target:
    if len(url) > URL_MAX_LENGTH:
        raise _Refused(f"must be at most {URL_MAX_LENGTH} characters.")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise _Refused("must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _Refused("is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _Refused("must be an http or https URL.")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _Refused("must not contain credentials.")
    hostname = parts.hostname
    if not hostname:
        raise _Refused("must name a host.")
    literal = ip_literal(hostname)
    if literal is not None:
        host = literal.compressed
    else:
        try:
            host = hostname.encode("idna").decode("ascii")
        except UnicodeError:
            raise _Refused("has a host name that is not valid.") from None
    default_port = 443 if scheme == "https" else 80
    port = port or default_port

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise _Refused("does not resolve.") from None
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise _Refused("does not resolve.")
    if not allow_private:
        # One bad answer refuses the lot: the resolver, not we, decides which answer a client would use.
        forbidden = next((address for address in addresses if address_forbidden(address)), None)
        if forbidden is not None:
            raise _Refused(
                f"resolves to a private address ({_address_shown(forbidden)}); only public http(s) URLs are allowed."
            )

    pinned = addresses[0]
    pinned_host = f"[{pinned.compressed}]" if pinned.version == 6 else pinned.compressed
    host_for_header = f"[{host}]" if ":" in host else host
    host_header = host_for_header if port == default_port else f"{host_for_header}:{port}"
    pinned_url = urlunsplit((scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, ""))
    return Target(scheme=scheme, host=host, host_header=host_header, pinned_url=pinned_url, address=pinned)


def _address_shown(address: IPAddress) -> str:
    """`::ffff:127.0.0.1` rather than `::ffff:7f00:1`: the caller should recognise the address they wrote."""
    mapped = getattr(address, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped is not None else address.compressed


def _invalid(field: str, text: str) -> InvalidInput:
    return InvalidInput(f"{field}: {text}", details={field: [text]})


class PinnedHostAdapter(HTTPAdapter):
    """Sends to the pinned IP in the URL while TLS uses the original hostname for SNI and the certificate check.

    `on_socket`, when given, receives each new TCP socket before any byte crosses it (the fetch deadline uses it).
    """

    def __init__(self, *, hostname: str, on_socket: Callable[[socket.socket], None] | None = None):
        self._hostname = hostname
        self._on_socket = on_socket
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        # urllib3 drops these for plain http pools; for https they replace the IP literal of the URL.
        pool_kwargs.update(server_hostname=self._hostname, assert_hostname=self._hostname)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        if self._on_socket is not None:
            self.poolmanager.pool_classes_by_scheme = _pools_reporting_sockets(self._on_socket)


def _pools_reporting_sockets(on_socket: Callable[[socket.socket], None]) -> dict[str, type]:
    """Connection pools whose connections hand every new socket to `on_socket`."""

    class ReportingHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            on_socket(sock)
            return sock

    class ReportingHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            on_socket(sock)  # the raw TCP socket: shutting it down also ends a TLS handshake or read on top of it
            return sock

    class ReportingHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = ReportingHTTPConnection

    class ReportingHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = ReportingHTTPSConnection

    return {"http": ReportingHTTPConnectionPool, "https": ReportingHTTPSConnectionPool}


# Fetching


class _Deadline:
    """Shuts the fetch's sockets when its time is up.

    Socket timeouts bound each wait, not the whole: a server that drips one byte a second never trips them, in the
    headers, a chunk-size line or the body alike. A timer that shuts the socket ends any of those reads at once.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(self.expires - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def __enter__(self) -> "_Deadline":
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing left to stop


def fetch_url(
    url: str,
    *,
    field: str,
    max_bytes: int,
    timeout: float | None = None,
    max_redirects: int = 3,
    allow_private: bool | None = None,
    accept: str = "*/*",
) -> Fetched:
    """GET a caller's URL under the address guard, at most `max_bytes` of body within `timeout` seconds in all.

    `timeout` (FETCH_TIMEOUT_SECONDS unless given) bounds the whole fetch (every hop, connect, headers and body), so
    a slow server cannot hold a request thread or a worker for long.
    Raises InvalidInput (refused URL, network failure, non-2xx answer, too many redirects) or MediaTooLarge, each
    message naming `field` and the URL. `allow_private=None` follows the FETCH_ALLOW_PRIVATE_URLS setting.
    """
    if allow_private is None:
        allow_private = settings.FETCH_ALLOW_PRIVATE_URLS
    with _Deadline(settings.FETCH_TIMEOUT_SECONDS if timeout is None else timeout) as deadline:
        current = url
        redirects = 0
        while True:
            where = url_shown(url) if current == url else f"{url_shown(url)} (redirected to {url_shown(current)})"
            try:
                target = _resolve(current, allow_private=allow_private)
            except _Refused as refused:
                raise _invalid(field, f"{where} {refused.reason}") from None

            with requests.Session() as session:
                session.trust_env = False  # no proxies or netrc from the environment: the pinned address is the peer
                session.mount(f"{target.scheme}://", PinnedHostAdapter(hostname=target.host, on_socket=deadline.watch))
                headers = {
                    "Host": target.host_header,
                    "User-Agent": USER_AGENT,
                    "Accept": accept,
                    # No compression: the limit counts the bytes we keep, and there is no decompression bomb to defuse.
                    "Accept-Encoding": "identity",
                }
                try:
                    response = session.get(
                        target.pinned_url,
                        headers=headers,
                        timeout=(deadline.remaining(), deadline.remaining()),
                        allow_redirects=False,
                        stream=True,
                    )
                except requests.RequestException as exc:
                    raise _network_error(field, where, exc, deadline) from None

                with response:
                    location = response.headers.get("Location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        redirects += 1
                        if redirects > max_redirects:
                            raise _invalid(field, f"{where} redirects more than {max_redirects} times.")
                        current = urljoin(current, location.strip())
                        continue
                    if not 200 <= response.status_code < 300:
                        raise _invalid(field, f"{where} answered HTTP {response.status_code}; it could not be fetched.")
                    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
                    if encoding not in ("", "identity"):
                        raise _invalid(
                            field, f"{where} answered with Content-Encoding {encoding}, which is not accepted."
                        )
                    content = _read_body(response, field=field, where=where, max_bytes=max_bytes, deadline=deadline)
                    return Fetched(url=current, content=content, content_type=response.headers.get("Content-Type", ""))


def _read_body(response: requests.Response, *, field: str, where: str, max_bytes: int, deadline: _Deadline) -> bytes:
    """The body, read in chunks with a running count: a lying or missing Content-Length cannot get past the limit."""
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise _too_large(field, f"{where} is {_megabytes(int(declared))}; the limit is {_megabytes(max_bytes)}.")
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        try:
            chunk = response.raw.read1(min(CHUNK_BYTES, max_bytes + 1 - total), decode_content=False)
        except (Urllib3Error, HTTPException, OSError, ValueError) as exc:
            raise _network_error(field, where, exc, deadline) from None
        if deadline.expired:  # a shut socket reads as the end of the body: it is not
            raise _too_slow(field, where, deadline)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_bytes:
        raise _too_large(field, f"{where} is larger than the limit of {_megabytes(max_bytes)}.")
    return b"".join(chunks)


def _network_error(field: str, where: str, exc: Exception, deadline: _Deadline) -> InvalidInput:
    """The caller learns what kind of failure it was; the exception's own text, with our internals, goes to the log."""
    if deadline.expired or isinstance(exc, requests.Timeout | TimeoutError):
        return _too_slow(field, where, deadline)
    logger.info("fetching %s failed: %s: %s", where, type(exc).__name__, exc)
    if isinstance(exc, requests.exceptions.SSLError):
        reason = "the secure (TLS) connection failed"
    elif isinstance(exc, requests.ConnectionError | ConnectionError):
        reason = "the connection failed"
    else:
        reason = "the server's answer was malformed"
    return _invalid(field, f"{where} could not be fetched: {reason}.")


def _too_slow(field: str, where: str, deadline: _Deadline) -> InvalidInput:
    return _invalid(field, f"{where} could not be fetched within {deadline.seconds:g} seconds.")


def _too_large(field: str, text: str) -> MediaTooLarge:
    return MediaTooLarge(f"{field}: {text}", details={field: [text]})


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.3g} MB"
