"""Media plumbing shared by every dialect: base64 input and files that never outlive a failed write."""

import base64
import binascii
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import transaction

from persona_platform.errors import InvalidMedia, MediaTooLarge

URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,", re.IGNORECASE)


def base64_decode(value: str, *, field: str, max_bytes: int) -> bytes:
    """Bytes from a data URL or bare base64; the size is checked before decoding anything."""
    if not isinstance(value, str):
        raise InvalidMedia(f"{field}: must be a base64 string or a data URL.")
    payload = DATA_URL.sub("", value.strip(), count=1)
    if value.strip().lower().startswith("data:") and payload == value.strip():
        raise InvalidMedia(f"{field}: a data URL must be of the form data:<type>;base64,<data>.")
    payload = "".join(payload.split())  # base64 wrapped at 76 columns is still base64
    if not payload:
        raise InvalidMedia(f"{field}: is empty.")
    decoded_size = len(payload) * 3 // 4 - payload[-2:].count("=")
    if decoded_size > max_bytes:
        raise MediaTooLarge(
            f"{field}: the file is {decoded_size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB."
        )
    if len(payload) % 4:
        payload += "=" * (-len(payload) % 4)  # some clients drop the padding
    payload = payload.translate(URLSAFE_TO_STANDARD)  # accept the URL-safe alphabet too
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMedia(f"{field}: is not valid base64.") from None
    return data


def upload_read(upload, *, field: str, max_bytes: int) -> bytes:
    """An uploaded file's bytes, refused with 413 beyond the limit before it is read."""
    if upload.size > max_bytes:
        raise MediaTooLarge(
            f"{field}: the file is {upload.size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB."
        )
    return upload.read()


def random_name(directory: str, extension: str) -> str:
    """A storage path nobody can guess or collide with; never derived from the upload's name."""
    return f"{directory.rstrip('/')}/{secrets.token_urlsafe(18)}.{extension}"


class FileGuard:
    """Files written inside `guarded_files()`; deleted again if the block raises."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.names: list[str] = []

    def save(self, name: str, content: bytes) -> str:
        stored = self.storage.save(name, ContentFile(content))
        self.names.append(stored)
        return stored


@contextmanager
def guarded_files(storage: Storage | None = None) -> Iterator[FileGuard]:
    """Write files and rows together: run the database work inside the block, in its own transaction.

    If anything in the block raises, including the commit, the files written so far are deleted,
    so a failed request leaves neither a row without its file nor a file without its row.
    """
    guard = FileGuard(storage or default_storage)
    try:
        yield guard
    except BaseException:
        for name in guard.names:
            guard.storage.delete(name)
        raise


def delete_file_on_commit(name: str, storage: Storage | None = None) -> None:
    """Delete a file once the transaction that stopped referencing it has committed."""
    if name:
        storage = storage or default_storage
        transaction.on_commit(lambda: storage.delete(name))
