"""The four dialects: how each one names errors, shapes its error body and words job states.

Each dialect has one module here with its `Dialect`, its base view and its envelope helpers; the
routes themselves live in the app that owns the resource, under `<app>/api/<dialect>/`. A view
names its dialect; paths that never reach a view (unmatched routes, 500s, oversized bodies) find
theirs by URL prefix.
"""

from persona_platform.api.dialects.base import VENDOR_JOB_STATUS_WORDS, ApiError, Dialect, DialectView, Location
from persona_platform.api.dialects.bhuman import BHUMAN
from persona_platform.api.dialects.influgen import INFLUGEN
from persona_platform.api.dialects.persons import PERSONS
from persona_platform.api.dialects.twintone import TWINTONE

__all__ = [
    "BHUMAN",
    "INFLUGEN",
    "PERSONS",
    "TWINTONE",
    "VENDOR_JOB_STATUS_WORDS",
    "ApiError",
    "Dialect",
    "DialectView",
    "Location",
    "dialect_for_path",
]

# Longest prefix first. `/api/v1/` outside the persons is influgen's, and the platform's own routes
# share its envelope.
PREFIXES: list[tuple[str, Dialect]] = [
    ("/api/v1/persons", PERSONS),
    ("/api/v1/", INFLUGEN),
    ("/v1/", TWINTONE),
    ("/persona/", BHUMAN),
    ("/voice/api/", BHUMAN),
]


def dialect_for_path(path: str) -> Dialect | None:
    """The dialect that owns a URL, or None for the admin, docs and other HTML pages."""
    for prefix, dialect in PREFIXES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return dialect
    return None
