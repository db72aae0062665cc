"""API key format: `pp_` + 32 random base62 characters + a 6-character checksum.

The checksum (CRC32 of the rest, in base62) lets a mistyped or truncated key be refused before
any database lookup; the stored form is an HMAC-SHA256 of the whole key, which costs a few
microseconds (a password hasher would cost tens of milliseconds on every request).
"""

import hashlib
import hmac
import secrets
import zlib

from django.conf import settings

KEY_PREFIX = "pp_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def key_generate() -> str:
    body = KEY_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + _checksum(body)


def key_is_well_formed(raw: str) -> bool:
    """Length, prefix, alphabet and checksum: no database needed."""
    if len(raw) != KEY_LENGTH or not raw.startswith(KEY_PREFIX):
        return False
    body, checksum = raw[:-CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    if any(char not in ALPHABET for char in raw[len(KEY_PREFIX) :]):
        return False
    return hmac.compare_digest(_checksum(body), checksum)


def key_hash(raw: str) -> str:
    return hmac.new(settings.API_KEY_HASH_SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()


def key_visible_prefix(raw: str) -> str:
    return raw[:VISIBLE_PREFIX_LENGTH]
