"""Photo intake without HTTP: base64 decoding, content sniffing, bombs, orientation and metadata."""

import base64
import io
import struct
import zlib
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from characters.services import photos
from characters.services.photos import MIN_SIDE, photo_from_base64, photo_from_bytes
from persona_platform import media
from persona_platform.errors import InvalidMedia, MediaTooLarge
from persona_platform.media import base64_decode
from tests.factories import image_bytes

ORANGE, BLUE = (200, 120, 80), (20, 40, 220)
ORIENTATION = 0x0112
SECRET = b"secret-marker-4242"  # planted in every metadata block; must not survive intake


# --- builders ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _open(photo) -> Image.Image:
    image = Image.open(io.BytesIO(photo.content))
    image.load()
    return image


def _close(actual, expected, tolerance=12) -> bool:
    """Lossy formats shift colours a little; the quadrant test only needs to tell orange from blue."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True))


@cache
def _noise(size=(256, 256)) -> Image.Image:
    """Noise compresses badly, so cutting the encoded file in half really cuts into pixel data."""
    pixels = np.random.default_rng(7).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def _encode(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims `width` x `height` (the decompression-bomb shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def _exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif[0x010F] = "SpyCam"  # Make
    exif[0x013B] = SECRET.decode()  # Artist
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude
    return exif


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description about="' + SECRET + b'"/></rdf:RDF></x:xmpmeta>'


def _assert_no_metadata(photo) -> None:
    image = _open(photo)
    assert dict(image.getexif()) == {}
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment"} & set(image.info), image.info
    assert SECRET not in photo.content
    assert b"SpyCam" not in photo.content


def _sample_bytes() -> bytes:
    """A PNG whose base64 needs padding and uses '+' or '/' (so the URL-safe alphabet differs)."""
    for side in range(64, 128):
        data = image_bytes(size=(side, side), image_format="PNG")
        encoded = _b64(data)
        if len(data) % 3 and ("+" in encoded or "/" in encoded):
            return data
    raise AssertionError("no sample image needs base64 padding")


SAMPLE = _sample_bytes()


# --- accepted formats, judged by content -------------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "extension"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")], ids=str.lower
)
def test_accepts_each_supported_format_and_keeps_it(image_format, extension):
    photo = photo_from_bytes(image_bytes(size=(300, 200), image_format=image_format))

    assert photo.extension == extension
    assert (photo.width, photo.height) == (300, 200)
    image = _open(photo)
    assert image.format == image_format
    assert image.size == (300, 200)
    assert _close(image.getpixel((10, 10)), BLUE)
    assert _close(image.getpixel((290, 190)), ORANGE)


def test_accepts_a_png_with_alpha_and_keeps_the_transparency():
    image = Image.new("RGBA", (128, 128), (200, 120, 80, 255))
    image.paste((0, 0, 0, 0), (0, 0, 64, 64))

    photo = photo_from_bytes(_encode(image, "PNG"))

    stored = _open(photo)
    assert photo.extension == "png"
    assert stored.mode == "RGBA"
    assert stored.getpixel((10, 10))[3] == 0
    assert stored.getpixel((100, 100)) == (200, 120, 80, 255)


def test_accepts_a_palette_png_and_keeps_its_transparent_index():
    image = Image.new("RGBA", (128, 128), (200, 120, 80, 255))
    image.paste((0, 0, 0, 0), (0, 0, 64, 64))
    data = _encode(image.quantize(colors=16), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "P"

    stored = _open(photo_from_bytes(data))

    assert stored.getpixel((10, 10))[3] == 0
    assert stored.getpixel((100, 100)) == (200, 120, 80, 255)


def test_a_16_bit_greyscale_png_keeps_its_tones():
    grey = Image.fromarray(np.full((80, 80), 40_000, dtype=np.uint16))  # 61% grey
    data = _encode(grey, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"

    stored = _open(photo_from_bytes(data)).convert("L")

    assert abs(stored.getpixel((10, 10)) - round(40_000 / 257)) <= 2


def test_accepts_a_greyscale_jpeg():
    photo = photo_from_bytes(_encode(Image.new("L", (100, 100), 128), "JPEG"))

    assert photo.extension == "jpg"
    assert _open(photo).mode == "L"


def test_a_png_sent_as_image_jpeg_is_judged_by_content_and_stored_as_png():
    png = image_bytes(image_format="PNG")

    photo = photo_from_base64(f"data:image/jpeg;base64,{_b64(png)}")

    assert photo.extension == "png"
    assert _open(photo).format == "PNG"


def test_a_jpeg_sent_as_image_png_is_stored_as_jpeg():
    photo = photo_from_base64(f"data:image/png;base64,{_b64(image_bytes(image_format='JPEG'))}")

    assert photo.extension == "jpg"
    assert _open(photo).format == "JPEG"


REFUSED_CONTENT = {
    "gif": image_bytes(image_format="GIF"),
    "bmp": image_bytes(image_format="BMP"),
    "tiff": image_bytes(image_format="TIFF"),
    "ico": image_bytes(size=(64, 64), image_format="ICO"),
    "plain-text": b"Hello, I am definitely a photo of a person.",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>',
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
    "html": b"<!doctype html><script>alert(1)</script>",
    "zeros": bytes(4096),
}


@pytest.mark.parametrize("content", REFUSED_CONTENT.values(), ids=REFUSED_CONTENT.keys())
def test_refuses_content_that_is_not_jpeg_png_or_webp_even_when_named_image_png(content):
    with pytest.raises(InvalidMedia, match="is not a JPEG, PNG or WebP image"):
        photo_from_base64(f"data:image/png;base64,{_b64(content)}")


@pytest.mark.parametrize("content", REFUSED_CONTENT.values(), ids=REFUSED_CONTENT.keys())
def test_photo_from_bytes_refuses_content_that_is_not_an_accepted_image(content):
    with pytest.raises(InvalidMedia):
        photo_from_bytes(content)


def test_error_messages_name_the_field_they_were_given():
    with pytest.raises(InvalidMedia, match=r"^avatar: "):
        photo_from_base64(_b64(b"plain text"), field="avatar")


# --- orientation and metadata ------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"], ids=str.lower)
def test_exif_orientation_6_turns_a_landscape_pixel_grid_upright(image_format):
    # Stored 200x100 with the blue quadrant top-left; Orientation=6 means "rotate 90 degrees clockwise to view".
    data = image_bytes(size=(200, 100), image_format=image_format, exif=_exif(orientation=6))

    photo = photo_from_bytes(data)

    image = _open(photo)
    assert (photo.width, photo.height) == image.size == (100, 200)
    assert _close(image.getpixel((75, 25)), BLUE)  # the top-left quadrant moved to the top-right
    assert _close(image.getpixel((25, 25)), ORANGE)
    assert _close(image.getpixel((75, 175)), ORANGE)
    assert image.getexif().get(ORIENTATION) is None  # not applied twice by viewers


@pytest.mark.parametrize(
    ("orientation", "size", "blue_at", "orange_at"),
    [
        (1, (200, 100), (25, 25), (175, 75)),
        (3, (200, 100), (175, 75), (25, 25)),
        (6, (100, 200), (75, 25), (25, 25)),
        (8, (100, 200), (25, 175), (75, 25)),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else None,
)
def test_each_exif_orientation_is_applied_to_a_jpeg(orientation, size, blue_at, orange_at):
    photo = photo_from_bytes(image_bytes(size=(200, 100), image_format="JPEG", exif=_exif(orientation)))

    image = _open(photo)
    assert image.size == size
    assert _close(image.getpixel(blue_at), BLUE)
    assert _close(image.getpixel(orange_at), ORANGE)


def test_jpeg_exif_and_xmp_are_stripped():
    data = image_bytes(image_format="JPEG", exif=_exif(orientation=1), xmp=XMP)
    assert SECRET in data and Image.open(io.BytesIO(data)).getexif()  # the input really carries them

    _assert_no_metadata(photo_from_bytes(data))


def test_jpeg_comment_is_stripped():
    data = image_bytes(image_format="JPEG", comment=SECRET)
    assert Image.open(io.BytesIO(data)).info["comment"] == SECRET

    photo = photo_from_bytes(data)

    assert "comment" not in _open(photo).info
    assert SECRET not in photo.content


def test_webp_exif_and_xmp_are_stripped():
    data = image_bytes(image_format="WEBP", exif=_exif(orientation=1), xmp=XMP)
    assert SECRET in data

    _assert_no_metadata(photo_from_bytes(data))


def test_png_text_chunks_and_exif_are_stripped():
    info = PngInfo()
    info.add_text("Comment", SECRET.decode())  # tEXt
    info.add_text("Author", "SpyCam", zip=True)  # zTXt
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())  # iTXt, where PNG keeps XMP
    data = image_bytes(image_format="PNG", pnginfo=info, exif=_exif(orientation=1))
    loaded = Image.open(io.BytesIO(data))
    assert loaded.info["Comment"] == SECRET.decode() and loaded.getexif()  # the input really carries them

    photo = photo_from_bytes(data)

    _assert_no_metadata(photo)
    assert not {"Comment", "Author"} & set(_open(photo).info)


def _icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize(
    "image_format",
    [
        "JPEG",
        "WEBP",
        pytest.param("PNG"),
    ],
    ids=str.lower,
)
def test_icc_profiles_are_stripped(image_format):
    icc = _icc_profile()
    data = image_bytes(image_format=image_format, icc_profile=icc)
    assert Image.open(io.BytesIO(data)).info.get("icc_profile") == icc

    photo = photo_from_bytes(data)

    assert "icc_profile" not in _open(photo).info
    assert icc not in photo.content


# --- base64 forms ------------------------------------------------------------------------------

ACCEPTED_FORMS = {
    "bare": _b64,
    "data-url": lambda data: f"data:image/png;base64,{_b64(data)}",
    "data-url-upper-case": lambda data: f"DATA:IMAGE/PNG;BASE64,{_b64(data)}",
    "data-url-with-parameter": lambda data: f"data:image/png;name=face.png;base64,{_b64(data)}",
    "data-url-without-type": lambda data: f"data:;base64,{_b64(data)}",
    "wrapped-at-76": lambda data: base64.encodebytes(data).decode(),
    "wrapped-crlf": lambda data: base64.encodebytes(data).decode().replace("\n", "\r\n"),
    "surrounding-whitespace": lambda data: f"\n  {_b64(data)}\t \n",
    "url-safe": lambda data: base64.urlsafe_b64encode(data).decode(),
    "missing-padding": lambda data: _b64(data).rstrip("="),
    "url-safe-without-padding": lambda data: base64.urlsafe_b64encode(data).decode().rstrip("="),
}


def test_the_sample_exercises_padding_and_the_url_safe_alphabet():
    assert _b64(SAMPLE).endswith("=")
    assert base64.urlsafe_b64encode(SAMPLE).decode() != _b64(SAMPLE)
    assert "\n" in base64.encodebytes(SAMPLE).decode().strip()


@pytest.mark.parametrize("encode", ACCEPTED_FORMS.values(), ids=ACCEPTED_FORMS.keys())
def test_base64_decode_accepts_every_common_form(encode):
    assert base64_decode(encode(SAMPLE), field="photo_base64", max_bytes=10 * 2**20) == SAMPLE


@pytest.mark.parametrize("encode", ACCEPTED_FORMS.values(), ids=ACCEPTED_FORMS.keys())
def test_photo_from_base64_accepts_every_common_form(encode):
    photo = photo_from_base64(encode(SAMPLE))

    assert photo.extension == "png"
    assert (photo.width, photo.height) == Image.open(io.BytesIO(SAMPLE)).size


MALFORMED = {
    "not-base64": ("not base64!!", "not valid base64"),
    "dollar": ("abc$", "not valid base64"),
    "single-character": ("a", "not valid base64"),
    "padding-only": ("====", "not valid base64"),
    "padding-in-the-middle": ("YQ==YQ==", "not valid base64"),
    "empty": ("", "is empty"),
    "whitespace-only": (" \n\t ", "is empty"),
    "data-url-without-comma": ("data:image/png;base64", "data URL must be"),
    "data-url-not-base64": ("data:image/png,iVBORw0KGgo", "data URL must be"),
    "data-url-without-data": ("data:image/png;base64,", "is empty"),
    "data-url-with-bad-characters": ("data:image/png;base64,@@@@", "not valid base64"),
}


@pytest.mark.parametrize(("value", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_base64_decode_refuses_malformed_input(value, message):
    with pytest.raises(InvalidMedia, match=message) as caught:
        base64_decode(value, field="photo_base64", max_bytes=10 * 2**20)
    assert caught.value.message.startswith("photo_base64: ")
    assert (caught.value.status, caught.value.kind) == (400, "InvalidMedia")


@pytest.mark.parametrize(("value", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_photo_from_base64_refuses_malformed_input(value, message):
    with pytest.raises(InvalidMedia, match=message):
        photo_from_base64(value)


@pytest.mark.parametrize("value", [None, 42, ["iVBOR"], {"data": "iVBOR"}, b"iVBORw0KGgo="], ids=repr)
def test_base64_decode_refuses_anything_but_a_string(value):
    with pytest.raises(InvalidMedia, match="must be a base64 string"):
        base64_decode(value, field="photo_base64", max_bytes=100)


# --- damaged images and bombs ------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"], ids=str.lower)
def test_refuses_an_image_cut_in_half(image_format):
    data = _encode(_noise(), image_format, **({"quality": 95} if image_format != "PNG" else {}))
    Image.open(io.BytesIO(data)).load()  # the whole file is a valid image

    with pytest.raises(InvalidMedia):
        photo_from_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"], ids=str.lower)
def test_refuses_a_truncated_image_as_damaged(image_format):
    data = _encode(_noise(), image_format)

    with pytest.raises(InvalidMedia, match="damaged or truncated"):
        photo_from_base64(_b64(data[: len(data) // 2]))


def test_refuses_a_png_with_a_corrupted_pixel_stream():
    data = bytearray(_encode(_noise(), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 100 : start + 200] = bytes(100)

    with pytest.raises(InvalidMedia):
        photo_from_bytes(bytes(data))


def test_refuses_a_png_whose_header_claims_20000_by_20000_pixels():
    bomb = _png_header_only(20_000, 20_000)
    assert len(bomb) < 100

    with pytest.raises(InvalidMedia, match="pixels"):
        photo_from_base64(_b64(bomb))


def test_refuses_an_image_over_the_configured_pixel_limit_before_decoding_it():
    # 64 million pixels: under Pillow's own bomb threshold, over the 50-million settings limit.
    with pytest.raises(InvalidMedia, match=r"8000x8000 pixels; the limit is 50,000,000 pixels"):
        photo_from_bytes(_png_header_only(8000, 8000))


def test_the_pixel_limit_comes_from_settings(settings):
    settings.MAX_IMAGE_PIXELS = 20_000
    data = image_bytes(size=(200, 100), image_format="PNG")
    assert photo_from_bytes(data).width == 200  # exactly at the limit

    with pytest.raises(InvalidMedia, match=r"200x101 pixels; the limit is 20,000 pixels"):
        photo_from_bytes(image_bytes(size=(200, 101), image_format="PNG"))


def test_a_real_compressed_bomb_is_refused(settings):
    settings.MAX_IMAGE_PIXELS = 1_000_000
    bomb = _encode(Image.new("1", (2000, 2000)), "PNG")  # 4 megapixels in a few kilobytes
    assert len(bomb) < 10_000

    with pytest.raises(InvalidMedia, match="pixels"):
        photo_from_bytes(bomb)


# --- size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encode", "size", "accepted"),
    [
        (_b64, 1000, True),
        (_b64, 1001, False),
        (lambda data: _b64(data).rstrip("="), 1000, True),
        (lambda data: _b64(data).rstrip("="), 1001, False),
        (lambda data: base64.encodebytes(data).decode(), 1000, True),  # line breaks do not count
        (lambda data: f"data:image/png;base64,{_b64(data)}", 1000, True),
        (lambda data: f"data:image/png;base64,{_b64(data)}", 1001, False),
    ],
    ids=["padded-1000", "padded-1001", "unpadded-1000", "unpadded-1001", "wrapped-1000", "url-1000", "url-1001"],
)
def test_base64_decode_limits_the_decoded_size(encode, size, accepted):
    value = encode((bytes(range(256)) * 4)[:size])

    if accepted:
        assert len(base64_decode(value, field="photo_base64", max_bytes=1000)) == size
    else:
        with pytest.raises(MediaTooLarge, match=r"photo_base64: the file is .* the limit is") as caught:
            base64_decode(value, field="photo_base64", max_bytes=1000)
        assert (caught.value.status, caught.value.kind) == (413, "PayloadTooLarge")


def test_photo_from_base64_refuses_a_valid_image_over_max_media_bytes(settings):
    data = image_bytes(image_format="PNG")
    settings.MAX_MEDIA_BYTES = len(data) - 1

    with pytest.raises(MediaTooLarge):
        photo_from_base64(_b64(data))

    settings.MAX_MEDIA_BYTES = len(data)
    assert photo_from_base64(_b64(data)).extension == "png"


def test_the_size_is_checked_before_the_base64_is_validated(settings):
    settings.MAX_MEDIA_BYTES = 1000

    with pytest.raises(MediaTooLarge):
        photo_from_base64("!" * 2000)


@cache
def _random_base64(decoded_size: int) -> str:
    return _b64(np.random.default_rng(1).integers(0, 256, decoded_size, dtype=np.uint8).tobytes())


def test_the_default_limit_refuses_10_5_mb_before_decoding_anything(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the payload was decoded before its size was checked")

    monkeypatch.setattr(media.base64, "b64decode", never)
    monkeypatch.setattr(photos.Image, "open", never)

    with pytest.raises(MediaTooLarge, match=r"the file is 10\.5 MB; the limit is 10 MB"):
        photo_from_base64(_random_base64(int(10.5 * 2**20)))


def test_the_default_limit_refuses_10_5_mb_of_garbage_as_too_large_not_as_invalid():
    value = _random_base64(int(10.5 * 2**20))
    garbage = "!" + value[1:]

    with pytest.raises(MediaTooLarge):
        photo_from_base64(garbage)


def test_the_default_limit_admits_exactly_10_mb(settings):
    assert settings.MAX_MEDIA_BYTES == 10 * 2**20
    value = _random_base64(settings.MAX_MEDIA_BYTES)

    assert len(base64_decode(value, field="photo_base64", max_bytes=settings.MAX_MEDIA_BYTES)) == 10 * 2**20
    with pytest.raises(InvalidMedia, match="is not a JPEG, PNG or WebP image"):  # past the size check
        photo_from_base64(value)


# --- dimensions --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(63, 200), (200, 63), (1, 1), (32, 32)], ids=lambda size: "x".join(map(str, size)))
def test_refuses_an_image_with_a_side_under_64_pixels(size):
    with pytest.raises(InvalidMedia, match=f"each side must be at least {MIN_SIDE} pixels"):
        photo_from_bytes(image_bytes(size=size, image_format="PNG"))


def test_accepts_an_image_of_exactly_64_by_64_pixels():
    photo = photo_from_bytes(image_bytes(size=(64, 64), image_format="JPEG"))

    assert (photo.width, photo.height) == (64, 64)


def test_the_minimum_side_is_judged_after_orientation():
    # 63 pixels high as stored, 63 pixels wide once upright: still too small.
    with pytest.raises(InvalidMedia, match=r"63x200"):
        photo_from_bytes(image_bytes(size=(200, 63), image_format="JPEG", exif=_exif(orientation=6)))
