"""Path converters shared by the dialects' URL modules."""

import re
from collections.abc import Callable

from django.urls import register_converter

from persona_platform.errors import NotFound
from persona_platform.ids import CHARACTER_ID_REGEX, CHARACTER_PREFIX, character_public_id, character_ulid

MAX_DATABASE_ID = 2**63 - 1  # a 64-bit key: a larger id in a body or query is a validation error, not a 500


class DatabaseIdConverter:
    """A positive integer that fits a 64-bit key: a longer number is a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(DatabaseIdConverter, "dbid")


class CharacterIdConverter:
    """`char_` + a ULID (Crockford base32, any case): the influgen spelling of a person's id."""

    regex = CHARACTER_ID_REGEX

    def to_python(self, value: str) -> str:
        return character_ulid(value)

    def to_url(self, value: str) -> str:
        return value if value.startswith(CHARACTER_PREFIX) else character_public_id(value)


register_converter(CharacterIdConverter, "charid")


class ChatIdConverter:
    """A BHuman `chat_id` (`chat_` + URL-safe base64 as the platform makes them, at most 40 characters):
    anything else is a 404 before any query. PostgreSQL cannot even compare a text holding NUL."""

    regex = "[A-Za-z0-9_-]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ChatIdConverter, "chatid")


def body_reference(raw_id: str, *, field: str, noun: str, lookup: Callable[[int], object]):
    """The object a string id in a request body names (TwinTone's `persona_id`, BHuman's `instance_id`),
    found with a workspace-scoped selector. The serializer has checked the id's type; a string that names
    nothing the caller can see (unknown, another workspace's, or never one of ours, like the seeds' "data1")
    is a 404 naming the field, as the same id in a path would be (docs/DIALECTS.md, "Ids in bodies")."""
    if re.fullmatch(DatabaseIdConverter.regex, raw_id):
        try:
            return lookup(int(raw_id))
        except NotFound:
            pass
    raise NotFound(f"{field}: no {noun} with id {raw_id!r}.")
