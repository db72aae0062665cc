"""`reference_images` URLs of `POST /api/v1/characters` are fetched under the address guard: private, loopback,
link-local and non-http targets are refused (redirect hops included) before any byte is sent, and bodies that are
not images, missing or too large are refused too. A refusal creates nothing.

Name resolution is faked: no test depends on real DNS.
"""

import socket

import pytest

from characters.models import Person, ReferenceImage
from persona_platform import fetch
from tests import factories
from tests.dialects.influgen.test_characters import FileServer
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

PUBLIC_HOST = "media.example.test"  # a name that resolves to loopback: it plays a public host for one hop


@pytest.fixture
def origin(settings):
    settings.FETCH_ALLOW_PRIVATE_URLS = False
    server = FileServer()
    server.put("/x.jpg", factories.image_bytes(portrait=True))
    yield server
    server.close()


@pytest.fixture(autouse=True)
def resolver(monkeypatch):
    """PUBLIC_HOST resolves to 127.0.0.1, IP literals parse, every other name is unknown."""
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        if host == PUBLIC_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        try:
            return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def first_hop_public(monkeypatch):
    """The first address check passes (PUBLIC_HOST stands in for a public host); every later one is real."""
    real = fetch.address_forbidden
    checked = []

    def forbidden(address):
        checked.append(address)
        return False if len(checked) == 1 else real(address)

    monkeypatch.setattr(fetch, "address_forbidden", forbidden)
    return checked


def snapshot(media_root) -> tuple:
    return Person.objects.count(), ReferenceImage.objects.count(), stored_files(media_root)


def create(client, *urls: str):
    return client.post("/api/v1/characters", {"name": "Mila Hart", "reference_images": list(urls)}, format="json")


PRIVATE_URLS = [
    "http://127.0.0.1:{port}/x.jpg",
    "http://10.0.0.1/x.jpg",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]:{port}/x.jpg",
    "http://0.0.0.0:{port}/x.jpg",
    "http://100.64.0.1/x.jpg",
]


@pytest.mark.parametrize("template", PRIVATE_URLS)
def test_private_addresses_are_refused_before_any_request(api_client, origin, media_root, template):
    url = template.format(port=origin.port)
    before = snapshot(media_root)

    response = create(api_client, url)

    body = assert_vendor_error(response, 422, "ValidationError", f"reference_images[0]: {url} resolves to a private")
    assert "only public http(s) URLs are allowed" in body["message"]
    assert origin.requested == []
    assert snapshot(media_root) == before


def test_a_private_url_after_a_good_one_is_refused_and_nothing_is_kept(
    api_client, origin, media_root, first_hop_public
):
    good = f"http://{PUBLIC_HOST}:{origin.port}/x.jpg"
    before = snapshot(media_root)

    response = create(api_client, good, "http://10.0.0.1/x.jpg")

    assert_vendor_error(
        response, 422, "ValidationError", "reference_images[1]: http://10.0.0.1/x.jpg resolves to a private address"
    )
    assert origin.requested == ["/x.jpg"]
    assert snapshot(media_root) == before


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.jpg", "gopher://127.0.0.1:70/x"])
def test_other_schemes_are_refused(api_client, origin, media_root, url):
    before = snapshot(media_root)

    response = create(api_client, url)

    assert_vendor_error(response, 422, "ValidationError", "reference_images")
    assert origin.requested == []
    assert snapshot(media_root) == before


def test_a_non_http_url_is_refused_naming_its_index_and_the_url(api_client, origin):
    response = create(api_client, "file:///etc/passwd")

    assert_vendor_error(response, 422, "ValidationError", "reference_images[0]: file:///etc/passwd")


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/x.jpg", "http://169.254.169.254/latest/meta-data", "http://[::1]:{port}/x.jpg"],
)
def test_a_redirect_to_a_private_address_is_refused(api_client, origin, media_root, first_hop_public, target):
    target = target.format(port=origin.port)
    origin.put("/moved.jpg", b"", status=302, Location=target)
    url = f"http://{PUBLIC_HOST}:{origin.port}/moved.jpg"
    before = snapshot(media_root)

    response = create(api_client, url)

    body = assert_vendor_error(response, 422, "ValidationError", f"reference_images[0]: {url} (redirected to {target})")
    assert "resolves to a private address" in body["message"]
    assert origin.requested == ["/moved.jpg"]  # the hop was asked for; the private target never was
    assert snapshot(media_root) == before


@pytest.fixture
def loopback_allowed(origin, settings):
    """For answers rather than addresses: the local server may be reached."""
    settings.FETCH_ALLOW_PRIVATE_URLS = True
    return origin


def test_a_url_serving_something_else_than_an_image_is_400(api_client, loopback_allowed, media_root):
    url = loopback_allowed.put("/page.jpg", b"<html><body>Not an image</body></html>", content_type="image/jpeg")
    before = snapshot(media_root)

    response = create(api_client, url)

    assert_vendor_error(response, 400, "InvalidMedia", f"reference_images[0] ({url}): is not a JPEG, PNG or WebP")
    assert snapshot(media_root) == before


def test_a_url_serving_an_image_without_a_face_is_422(api_client, loopback_allowed, media_root):
    url = loopback_allowed.put("/wall.jpg", factories.image_bytes(portrait=False))
    before = snapshot(media_root)

    response = create(api_client, url)

    assert_vendor_error(response, 422, "ValidationError", f"reference_images[0] ({url}): no face was found")
    assert snapshot(media_root) == before


def test_a_missing_url_is_422(api_client, loopback_allowed, media_root):
    url = f"{loopback_allowed.base}/gone.jpg"
    before = snapshot(media_root)

    response = create(api_client, url)

    assert_vendor_error(response, 422, "ValidationError", f"reference_images[0]: {url} answered HTTP 404")
    assert snapshot(media_root) == before


@pytest.mark.parametrize("length", ["declared", None], ids=["content-length", "unsized"])
def test_an_oversized_body_is_413(api_client, loopback_allowed, media_root, settings, length):
    data = factories.image_bytes(portrait=True)
    settings.MAX_MEDIA_BYTES = len(data) // 2
    headers = {} if length else {"Content-Length": None}  # unsized: only the running count can stop it
    url = loopback_allowed.put("/big.jpg", data, **headers)
    before = snapshot(media_root)

    response = create(api_client, url)

    assert_vendor_error(response, 413, "PayloadTooLarge", f"reference_images[0]: {url}")
    assert snapshot(media_root) == before


def test_a_good_url_is_fetched_through_a_redirect(api_client, origin, settings):
    settings.FETCH_ALLOW_PRIVATE_URLS = True
    origin.put("/moved.jpg", b"", status=302, Location="/x.jpg")
    url = f"http://{PUBLIC_HOST}:{origin.port}/moved.jpg"

    response = create(api_client, url)

    assert response.status_code == 201, response.content
    assert response.json()["character"]["reference_images"] == [url]
    assert origin.requested == ["/moved.jpg", "/x.jpg"]
