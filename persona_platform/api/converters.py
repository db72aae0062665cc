"""Path converters shared by the dialects' URL modules."""

from django.urls import register_converter


class DatabaseIdConverter:
    """A positive integer that fits a 64-bit key: a longer number is a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(DatabaseIdConverter, "dbid")
