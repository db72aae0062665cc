"""Photo intake: judged by content, bounded in size and pixels, re-encoded without metadata."""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from persona_platform.errors import InvalidMedia
from persona_platform.media import base64_decode

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MIN_SIDE = 64


@dataclass(frozen=True)
class Photo:
    """A validated photo, ready to store: clean bytes and the extension matching their format."""

    content: bytes
    extension: str
    width: int
    height: int
    field: str = "photo"  # the request field it came from, for error messages about its content


def photo_from_base64(value: str, *, field: str = "photo_base64") -> Photo:
    return photo_from_bytes(base64_decode(value, field=field, max_bytes=settings.MAX_MEDIA_BYTES), field=field)


def photo_from_bytes(data: bytes, *, field: str = "photo_base64") -> Photo:
    """Decode fully (catching truncation and bombs), apply EXIF orientation, strip every metadata block."""
    max_pixels = settings.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as image:
                image_format = image.format
                width, height = image.size
                if width * height > max_pixels:
                    raise InvalidMedia(
                        f"{field}: the image is {width}x{height} pixels; the limit is {max_pixels:,} pixels."
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InvalidMedia(f"{field}: the image has too many pixels (a decompression bomb?).") from None
        except UnidentifiedImageError:
            raise InvalidMedia(f"{field}: is not a JPEG, PNG or WebP image.") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidMedia(f"{field}: the image is damaged or truncated ({exc}).") from None
    if image_format is None or image_format not in ACCEPTED_FORMATS:
        raise InvalidMedia(f"{field}: is not a JPEG, PNG or WebP image.")
    if min(upright.size) < MIN_SIDE:
        raise InvalidMedia(
            f"{field}: the image is {upright.width}x{upright.height}; each side must be at least {MIN_SIDE} pixels."
        )
    return Photo(
        content=_encode(upright, image_format),
        extension=ACCEPTED_FORMATS[image_format],
        width=upright.width,
        height=upright.height,
        field=field,
    )


def _encode(image: Image.Image, image_format: str) -> bytes:
    """Re-encode from pixels only, so EXIF, XMP, ICC profiles and comments are all dropped.

    Pillow writers fall back to `image.info` for what the caller does not pass, so `info` is
    emptied first (keeping only PNG transparency, which is pixels, not metadata).
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits, since a plain convert would clip everything above 255 to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image_format == "PNG" and image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    transparency = image.info.get("transparency") if image_format == "PNG" and image.mode in ("L", "RGB") else None
    image = image.copy()
    image.info = {} if transparency is None else {"transparency": transparency}
    out = io.BytesIO()
    if image_format == "JPEG":
        image.save(out, format="JPEG", quality=92, optimize=True)
    elif image_format == "PNG":
        image.save(out, format="PNG")
    else:
        image.save(out, format="WEBP", quality=92)
    return out.getvalue()
