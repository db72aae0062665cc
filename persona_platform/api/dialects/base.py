"""What every dialect is made of: an error envelope, status words for jobs, and a base view."""

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from persona_platform import logs
from persona_platform.api.pagination import Page, PageQuerySerializer, paginate
from persona_platform.api.throttling import rate_limit_headers

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Location:
    """Where a view's 201 or 202 answer points (its `Location` header): the created resource's own route,
    or the status route of the job a 202 started. Each of `args` (the route's arguments) and `query` is
    taken from the answer's body by a dotted path (`"id"`, `"job.id"`, `"page_ids.0"`), from the request's
    path (`"path:character_id"`) or from its body or query string (`"request:instance_id"`)."""

    route: str
    args: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)

    def url(self, request, body, path_kwargs: dict) -> str | None:
        """The absolute URL, or None (and a warning) when the answer lacks what it names: the resource is
        made by then, so a missing header must not turn the answer into a 500."""

        def value(source: str):
            where, _, name = source.partition(":")
            if where == "path":
                return path_kwargs[name]
            if where == "request":
                data = request.data if isinstance(request.data, dict) else {}
                return data.get(name, request.query_params.get(name))
            found = body
            for part in source.split("."):
                found = found[int(part)] if isinstance(found, list) else found[part]
            return found

        try:
            path = reverse(self.route, kwargs={name: value(source) for name, source in self.args.items()})
            query = {name: found for name, source in self.query.items() if (found := value(source)) is not None}
        except (KeyError, IndexError, TypeError, ValueError, NoReverseMatch):
            logger.warning("no Location for %s: its answer does not name %s", self.route, self.args, exc_info=True)
            return None
        return request.build_absolute_uri(path + (f"?{urlencode(query)}" if query else ""))


class DialectView(APIView):
    """Base of every dialect's views: carries the dialect and the serializer context."""

    dialect: Dialect  # each dialect's base view sets it (persona_platform.api.dialects.<dialect>)
    large_body: bool | int = (
        False  # True (or a limit in bytes) for routes that take media (persona_platform.middleware)
    )
    created_location: Location | None = None  # where this view's 201 and 202 answers point

    def perform_authentication(self, request) -> None:
        super().perform_authentication(request)
        if request.auth is not None:  # every line logged from here on names the workspace
            logs.bind(workspace_id=request.auth.workspace_id)

    def finalize_response(self, request, response, *args, **kwargs):
        """Every answer to a counted key says its rate limit (429 included); a 201 or 202 says where the
        new resource or the job's status is."""
        response = super().finalize_response(request, response, *args, **kwargs)
        counted = getattr(request, "rate_count", None)
        if counted is not None:
            for name, value in rate_limit_headers(*counted).items():
                response[name] = value
        if response.status_code in (201, 202) and self.created_location and "Location" not in response:
            if location := self.created_location.url(request, response.data, self.kwargs):
                response["Location"] = location
        return response

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


class ItemMixin:
    """A detail route's GET, declared rather than written: `item(**path)`, found by a workspace-scoped
    selector, in the shape of `item_serializer`, which `item_schema` sets and documents. The route's other
    methods find their object with the same `item()`."""

    item_serializer: type[Serializer]

    def item(self, **path):
        raise NotImplementedError

    def get(self, request, **path):
        return Response(self.item_serializer(self.item(**path), context=self.ctx).data)  # type: ignore[attr-defined]


def item_schema(summary: str, serializer: type[Serializer]):
    """Makes `serializer` an `ItemMixin` view's answer and documents its GET with the docstring of `item()`."""

    def document(view: type) -> type:
        view.item_serializer = serializer  # type: ignore[attr-defined]
        description = inspect.cleandoc(view.item.__doc__ or "")
        return extend_schema_view(
            get=extend_schema(summary=summary, description=description, responses={200: serializer})
        )(view)

    return document
