"""What every dialect is made of: an error envelope, status words for jobs, and a base view."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from persona_platform.api.pagination import Page, PageQuerySerializer, paginate


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


# MediaJob.Status → each dialect's words. One table per dialect; serializers never spell statuses.
VENDOR_JOB_STATUS = {
    "queued": "queued",
    "processing": "processing",
    "ready": "ready",
    "failed": "failed",
    "canceled": "canceled",
}
VENDOR_JOB_STATUS_WORDS = list(VENDOR_JOB_STATUS)


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


class DialectView(APIView):
    """Base of every dialect's views: carries the dialect and the serializer context."""

    dialect: Dialect  # each dialect's base view sets it (persona_platform.api.dialects.<dialect>)
    large_body = False  # True for routes that take media or documents (persona_platform.middleware)

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

    def page(self, queryset: QuerySet, query: dict, **limits) -> Page:
        """The page of `queryset` that a validated query's `page` and `limit` ask for."""
        return paginate(queryset, page=query["page"], limit=query.get("limit"), **limits)

    def page_response(self, queryset: QuerySet, query: dict, *, key: str, serializer) -> Response:
        """That page in the `{key: [...], "pagination": {...}}` envelope, its items in `serializer`'s shape."""
        page = self.page(queryset, query)
        return Response(page.envelope(key, serializer(page.items, many=True, context=self.ctx).data))


class PagedListMixin:
    """A list route's GET, declared rather than written: one page of `rows()` in the envelope of
    `list_page` (a `paginated_serializer`), which `list_schema` sets and documents.

    Every dialect lists the same way; a list route names only its page, its query serializer and its
    rows, so the schema and the answer come from the same declaration.
    """

    list_query: type[Serializer] = PageQuerySerializer
    list_page: type[Serializer]

    def rows(self, query: dict, **path) -> QuerySet:
        raise NotImplementedError

    def get(self, request, **path):
        query = self.query(self.list_query)  # type: ignore[attr-defined]
        key, item = self.list_page.items_key, self.list_page.item_serializer  # type: ignore[attr-defined]
        return self.page_response(self.rows(query, **path), query, key=key, serializer=item)  # type: ignore[attr-defined]


def list_schema(summary: str, page: type[Serializer], *, description: str | None = None):
    """Makes `page` a `PagedListMixin` view's envelope and documents its GET: its query, its page, and
    (unless given) the docstring of `rows()`, or else of the view."""

    def document(view: type) -> type:
        view.list_page = page  # type: ignore[attr-defined]
        get = extend_schema(
            summary=summary,
            description=description or inspect.cleandoc(view.rows.__doc__ or view.__doc__ or ""),
            parameters=[view.list_query],
            responses={200: page},
        )
        return extend_schema_view(get=get)(view)

    return document
