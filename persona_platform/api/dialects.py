"""The four dialects: how each one names errors, shapes its error body and words job states.

A view names its dialect; paths that never reach a view (unmatched routes, 500s, oversized
bodies) find theirs by URL prefix.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from rest_framework.views import APIView


@dataclass(frozen=True)
class ApiError:
    """One error, ready for any dialect's envelope."""

    kind: str
    message: str
    status: int
    headers: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def vendor_error(error: ApiError) -> dict:
    """The `/v1` and `/api/v1` envelope of the contract."""
    return {"error": error.kind, "message": error.message, "status": error.status}


def bhuman_error(error: ApiError) -> dict:
    return {"status": "error", "message": error.message}


# MediaJob.Status → each dialect's words. One table per dialect; serializers never spell statuses.
VENDOR_JOB_STATUS = {
    "queued": "queued",
    "processing": "processing",
    "ready": "ready",
    "failed": "failed",
    "canceled": "canceled",
}
VENDOR_JOB_STATUS_WORDS = list(VENDOR_JOB_STATUS)
# TwinTone knows processing|ready|failed only: a queued job is processing, a canceled one failed.
TWINTONE_JOB_STATUS = {
    "queued": "processing",
    "processing": "processing",
    "ready": "ready",
    "failed": "failed",
    "canceled": "failed",
}


@dataclass(frozen=True)
class Dialect:
    name: str
    tag: str
    error_body: Callable[[ApiError], dict]
    # The status of a request whose body has the wrong shape (twin.actor documents 422).
    validation_status: int = 422
    job_status: dict = field(default_factory=lambda: VENDOR_JOB_STATUS)

    def job_status_word(self, status: str) -> str:
        return self.job_status[status]

    def job_statuses_for(self, word: str) -> list[str]:
        """The MediaJob statuses a dialect's status word stands for (for `?status=` filters)."""
        return [status for status, dialect_word in self.job_status.items() if dialect_word == word]


PERSONS = Dialect(name="persons", tag="Persons (twin.actor)", error_body=vendor_error)
VENDOR = Dialect(name="vendor", tag="API", error_body=vendor_error)
TWINTONE = Dialect(
    name="twintone", tag="TwinTone", error_body=vendor_error, validation_status=400, job_status=TWINTONE_JOB_STATUS
)
BHUMAN = Dialect(name="bhuman", tag="BHuman Persona", error_body=bhuman_error, validation_status=400)

# Longest prefix first.
PREFIXES: list[tuple[str, Dialect]] = [
    ("/api/v1/persons", PERSONS),
    ("/api/v1/", VENDOR),
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


class DialectView(APIView):
    """Base of every dialect's views: carries the dialect and the serializer context."""

    dialect: Dialect = VENDOR

    @property
    def ctx(self) -> dict:
        """Serializer context; the request lets media fields build absolute URLs."""
        return {"request": self.request, "view": self}

    def validated(self, serializer_class, data) -> dict:
        """The serializer's validated data, or a ValidationError rendered in this dialect's shape."""
        serializer = serializer_class(data=data, context=self.ctx)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class) -> dict:
        """Validated query parameters. A plain dict, so that an absent boolean stays absent."""
        return self.validated(serializer_class, self.request.query_params.dict())
