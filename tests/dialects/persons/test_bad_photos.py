"""Bad photos through `POST /api/v1/persons` and `PUT /api/v1/persons/{id}`: the right envelope, nothing left behind."""

import base64
import io
import json
import struct
import zlib
from functools import cache

import numpy as np
import pytest
from PIL import Image

from characters.models import Person
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/persons"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{_b64(data)}"


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims `width` x `height` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@cache
def _noisy_png(width: int, height: int, *, portrait: bool = False) -> bytes:
    """Random pixels barely compress, so the PNG is about width * height * 3 bytes. A portrait
    (itself noisy, to keep the size) makes it a photo a person may have."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if portrait:
        face = np.asarray(Image.open(io.BytesIO(factories.image_bytes(size=(512, 512), portrait=True))), dtype=np.int16)
        face = np.clip(face + rng.integers(-40, 41, face.shape), 0, 255).astype(np.uint8)
        pixels[100:612, 100:612] = face
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


@cache
def _truncated(image_format: str) -> bytes:
    """A noisy image cut in half: the cut falls in the middle of its pixel data."""
    out = io.BytesIO()
    Image.open(io.BytesIO(_noisy_png(256, 256))).save(out, format=image_format)
    data = out.getvalue()
    return data[: len(data) // 2]


@cache
def _photo_9_9_mb() -> bytes:
    data = _noisy_png(1860, 1860, portrait=True)
    assert 9.8 * 2**20 < len(data) < 10 * 2**20
    return data


@cache
def _photo_10_2_mb() -> bytes:
    data = _noisy_png(1880, 1900)
    assert 10.1 * 2**20 < len(data) < 10.3 * 2**20
    return data


# What the client sends as photo_base64 (built on demand), and what the 400's message says.
BAD_PHOTOS = {
    "gif": (lambda: _data_url(factories.image_bytes(image_format="GIF"), "image/gif"), "not a JPEG, PNG or WebP"),
    "gif-named-png": (lambda: _data_url(factories.image_bytes(image_format="GIF")), "not a JPEG, PNG or WebP"),
    "bmp": (lambda: _b64(factories.image_bytes(image_format="BMP")), "not a JPEG, PNG or WebP"),
    "plain-text-named-png": (lambda: _data_url(b"I am a photo, trust me."), "not a JPEG, PNG or WebP"),
    "pdf-header": (lambda: _b64(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n%%EOF\n"), "not a JPEG, PNG"),
    "svg": (lambda: _data_url(b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"), "not a JPEG, PNG"),
    "truncated-jpeg": (lambda: _data_url(_truncated("JPEG"), "image/jpeg"), "damaged or truncated"),
    "truncated-png": (lambda: _b64(_truncated("PNG")), "damaged or truncated"),
    "bomb-20000x20000": (lambda: _b64(_png_header_only(20_000, 20_000)), "pixels"),
    "over-pixel-limit-8000x8000": (lambda: _b64(_png_header_only(8000, 8000)), "50,000,000 pixels"),
    "too-small-32x32": (lambda: _b64(factories.image_bytes(size=(32, 32))), "at least 64 pixels"),
    "not-base64": (lambda: "not base64!!", "not valid base64"),
    "bad-base64-character": (lambda: "abc$", "not valid base64"),
    "data-url-without-comma": (lambda: "data:image/png;base64", "data URL"),
    "data-url-without-data": (lambda: "data:image/png;base64,", "is empty"),
}


def _snapshot(media_root) -> tuple[int, list[str]]:
    return Person.objects.count(), stored_files(media_root)


@pytest.fixture
def person(workspace):
    return factories.person_create(workspace=workspace, name="Ada Lovelace")


def _put(api_client, person, body) -> object:
    return api_client.put(f"{LIST_URL}/{person.pk}", body, format="json")


def _assert_person_unchanged(person, media_root, before) -> None:
    photo = person.photo.name
    person.refresh_from_db()
    assert person.name == "Ada Lovelace"
    assert person.photo.name == photo
    assert photo in stored_files(media_root)
    assert _snapshot(media_root) == before


# --- invalid media: 400 ------------------------------------------------------------------------


@pytest.mark.parametrize(("make_value", "message"), BAD_PHOTOS.values(), ids=BAD_PHOTOS.keys())
def test_create_refuses_a_bad_photo_and_keeps_no_person_and_no_file(api_client, media_root, make_value, message):
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, {"name": "Grace", "photo_base64": make_value()}, format="json")

    body = assert_vendor_error(response, 400, "InvalidMedia", message)
    assert body["message"].startswith("photo_base64: ")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize(("make_value", "message"), BAD_PHOTOS.values(), ids=BAD_PHOTOS.keys())
def test_update_refuses_a_bad_photo_and_keeps_the_name_photo_and_files(
    api_client, person, media_root, make_value, message
):
    before = _snapshot(media_root)

    response = _put(api_client, person, {"name": "Grace Hopper", "photo_base64": make_value()})

    assert_vendor_error(response, 400, "InvalidMedia", message)
    _assert_person_unchanged(person, media_root, before)


# --- too large: 413 ----------------------------------------------------------------------------


def test_create_refuses_a_valid_10_2_mb_photo_as_too_large_and_keeps_no_file(api_client, settings, media_root):
    value = _data_url(_photo_10_2_mb())
    body = json.dumps({"name": "Grace", "photo_base64": value}).encode()
    assert len(body) < settings.API_MAX_BODY_BYTES  # past the body limit; stopped by the decoded-size check
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, body, content_type="application/json")

    assert_vendor_error(response, 413, "PayloadTooLarge", "photo_base64: the file is 10.2 MB; the limit is 10 MB")
    assert _snapshot(media_root) == before


def test_update_refuses_a_valid_10_2_mb_photo_as_too_large_and_keeps_the_person(
    api_client, person, settings, media_root
):
    body = json.dumps({"name": "Grace Hopper", "photo_base64": _b64(_photo_10_2_mb())}).encode()
    assert len(body) < settings.API_MAX_BODY_BYTES
    before = _snapshot(media_root)

    response = api_client.put(f"{LIST_URL}/{person.pk}", body, content_type="application/json")

    assert_vendor_error(response, 413, "PayloadTooLarge", "the limit is 10 MB")
    _assert_person_unchanged(person, media_root, before)


def test_create_checks_the_decoded_size_before_the_base64(api_client, settings, media_root):
    settings.MAX_MEDIA_BYTES = 1000
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, {"name": "Grace", "photo_base64": "!" * 2000}, format="json")

    assert_vendor_error(response, 413, "PayloadTooLarge", "photo_base64")
    assert _snapshot(media_root) == before


def test_a_body_of_exactly_10_mb_of_base64_passes_both_size_checks(api_client, settings, media_root):
    # 10 MiB of zero bytes: within every size limit, then refused for its content.
    value = "A" * -(-settings.MAX_MEDIA_BYTES * 4 // 3)
    body = json.dumps({"name": "Grace", "photo_base64": f"data:image/png;base64,{value}"}).encode()
    assert len(body) <= settings.API_MAX_BODY_BYTES
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, body, content_type="application/json")

    assert_vendor_error(response, 400, "InvalidMedia", "not a JPEG, PNG or WebP")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize("method", ["post", "put"])
def test_a_body_over_the_api_limit_is_refused_by_the_middleware(api_client, person, settings, media_root, method):
    body = b'{"name": "Grace", "photo_base64": "' + b"A" * settings.API_MAX_BODY_BYTES + b'"}'
    url = LIST_URL if method == "post" else f"{LIST_URL}/{person.pk}"
    before = _snapshot(media_root)

    response = getattr(api_client, method)(url, body, content_type="application/json")

    assert_vendor_error(response, 413, "PayloadTooLarge", "The request body is")
    assert _snapshot(media_root) == before
    person.refresh_from_db()
    assert person.name == "Ada Lovelace"


# --- wrong shape: 422 --------------------------------------------------------------------------

WRONG_TYPES = {
    "number": (42, "photo_base64: Must be a string."),
    "float": (4.2, "photo_base64: Must be a string."),
    "true": (True, "photo_base64: Must be a string."),
    "list": (["iVBORw0KGgo="], "photo_base64: Must be a string."),
    "object": ({"data": "iVBORw0KGgo="}, "photo_base64: Must be a string."),
    "null": (None, "photo_base64: This field may not be null."),
}


@pytest.mark.parametrize(("value", "message"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_create_refuses_photo_base64_of_the_wrong_json_type(api_client, media_root, value, message):
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, {"name": "Grace", "photo_base64": value}, format="json")

    assert_vendor_error(response, 422, "ValidationError", message)
    assert _snapshot(media_root) == before


@pytest.mark.parametrize(("value", "message"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_update_refuses_photo_base64_of_the_wrong_json_type(api_client, person, media_root, value, message):
    before = _snapshot(media_root)

    response = _put(api_client, person, {"name": "Grace Hopper", "photo_base64": value})

    assert_vendor_error(response, 422, "ValidationError", message)
    _assert_person_unchanged(person, media_root, before)


def test_create_refuses_a_missing_photo(api_client, media_root):
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, {"name": "Grace"}, format="json")

    assert_vendor_error(response, 422, "ValidationError", "photo_base64")
    assert _snapshot(media_root) == before


@pytest.mark.parametrize("value", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
@pytest.mark.parametrize("method", ["post", "put"])
def test_a_blank_photo_string_is_refused_as_a_validation_error(api_client, person, media_root, method, value):
    url = LIST_URL if method == "post" else f"{LIST_URL}/{person.pk}"
    before = _snapshot(media_root)

    response = getattr(api_client, method)(url, {"name": "Grace Hopper", "photo_base64": value}, format="json")

    assert_vendor_error(response, 422, "ValidationError", "photo_base64: This field may not be blank.")
    _assert_person_unchanged(person, media_root, before)


# --- accepted ----------------------------------------------------------------------------------


def test_create_accepts_a_9_9_mb_photo_sent_as_a_data_url(api_client, settings, media_root):
    body = json.dumps({"name": "Grace", "photo_base64": _data_url(_photo_9_9_mb())}).encode()
    assert len(body) > 13 * 2**20  # the body limit admits a photo near 10 MB once base64 has inflated it
    before_count, before_files = _snapshot(media_root)

    response = api_client.post(LIST_URL, body, content_type="application/json")

    assert response.status_code == 201, response.content
    person = Person.objects.get(pk=response.json()["id"])
    assert Person.objects.count() == before_count + 1
    assert stored_files(media_root) == sorted([*before_files, person.photo.name])
    assert person.photo.name.endswith(".png")
    assert response.json()["photo_url"].endswith(person.photo.name)
    with Image.open(person.photo.path) as stored:
        assert stored.size == (1860, 1860)


def test_update_with_a_good_photo_replaces_the_file(api_client, person, media_root, django_capture_on_commit_callbacks):
    old = person.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        response = _put(api_client, person, {"name": "Grace Hopper", "photo_base64": factories.image_base64()})

    assert response.status_code == 200, response.content
    person.refresh_from_db()
    assert person.name == "Grace Hopper"
    assert person.photo.name != old and person.photo.name.endswith(".jpg")
    assert old not in stored_files(media_root)
    assert person.photo.name in stored_files(media_root)
