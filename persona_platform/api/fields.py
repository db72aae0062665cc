from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import ProhibitNullCharactersValidator
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from persona_platform.dates import iso_utc
from persona_platform.media import base64_decode, upload_read


@extend_schema_field({"type": "string", "format": "uri", "nullable": True})
class AbsoluteFileUrlField(serializers.Field):
    """A stored file's URL, absolute even when the storage answers with a path (local media)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> str | None:
        if not value:
            return None
        url = value.url
        request = self.context.get("request")
        if request is not None and url.startswith("/"):
            return absolute_root(request) + url
        return url


def absolute_root(request) -> str:
    """`scheme://host` of the request, worked out once per request rather than once per URL."""
    root = getattr(request, "_absolute_root", None)
    if root is None:
        root = request._absolute_root = request.build_absolute_uri("/").rstrip("/")
    return root


class StrictCharField(serializers.CharField):
    """A string and only a string: DRF's CharField would quietly turn 42 into "42"."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer and only an integer: no "7", 7.0 or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A number, never a boolean: DRF's FloatField reads `false` as 0.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


def json_has_nul(value) -> bool:
    """Whether free-form JSON holds NUL (`\\u0000`) in a key or a string: PostgreSQL's jsonb cannot store it."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def no_nul_in_json(value) -> None:
    """A validator for free-form JSON: NUL is refused as bad input here rather than failing the INSERT
    with a 500."""
    if json_has_nul(value):
        raise serializers.ValidationError("Null characters are not allowed.")


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` and nothing else in JSON: DRF's BooleanField also reads 0, 1, "yes" and "off". In a
    multipart form, where every value is text, DRF's reading of "true" and "false" stands."""

    def to_internal_value(self, data):
        if isinstance(getattr(self.root, "initial_data", None), QueryDict):
            return super().to_internal_value(data)
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC with a `Z`, as DRF writes it, without DRF's per-value time-zone lookups.

    Stored datetimes are aware (USE_TZ), so converting to UTC is all that is needed; on a list of a
    hundred rows DRF's `enforce_timezone` path costs about a millisecond.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> str | None:
        return iso_utc(value) if value else None


class Base64Field(StrictCharField):
    """A base64 string or data URL, checked by the media service that decodes it.

    DRF's CharField scans every character for NUL and surrogates in Python, about half a second of
    CPU for a 10 MB photo; base64 decoding refuses those characters anyway, in C.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator)
        ]


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "description": "A multipart file upload, or the file as base64 or a data URL in a JSON body.",
    }
)
class MediaUploadField(serializers.Field):
    """A file sent either way clients send files: multipart upload or base64 in JSON. Gives its
    bytes, refused with 413 beyond the media limit before anything is decoded or read."""

    default_error_messages = {
        "invalid": "Must be a file upload or a base64 string.",
        "blank": "This field may not be blank.",
    }

    def __init__(self, *, max_bytes: int | None = None, **kwargs):
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> bytes:
        max_bytes = self.max_bytes or settings.MAX_MEDIA_BYTES
        if isinstance(data, UploadedFile):
            return upload_read(data, field=self.field_name, max_bytes=max_bytes)
        if not isinstance(data, str):
            self.fail("invalid")
        if not data.strip():
            self.fail("blank")
        return base64_decode(data, field=self.field_name, max_bytes=max_bytes)

    def to_representation(self, value):
        raise NotImplementedError("An upload is input only.")
