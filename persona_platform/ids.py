"""influgen's spelling of a person's id: `char_` + its ULID. The URL converter, the serializers, the
not-found message and the LoRA trigger word all spell it through here; the domain sees the ULID."""

CHARACTER_PREFIX = "char_"
# The prefix and a ULID in Crockford base32, either case.
CHARACTER_ID_REGEX = CHARACTER_PREFIX + "[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"


def character_public_id(ulid: str) -> str:
    return CHARACTER_PREFIX + ulid


def character_ulid(public_id: str) -> str:
    """The stored (upper-case) ULID of a `char_…` id that matched CHARACTER_ID_REGEX."""
    return public_id.removeprefix(CHARACTER_PREFIX).upper()


def character_trigger_word(ulid: str) -> str:
    """The LoRA trigger word a character gets when the caller names none: short, and its own."""
    return CHARACTER_PREFIX + ulid[-8:].lower()
