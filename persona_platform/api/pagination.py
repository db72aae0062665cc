"""Page/limit pagination: `?page=1&limit=20` → `{"<items>": [...], "pagination": {"total", "page", "pages"}}`."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import serializers

from persona_platform.errors import InvalidInput

# Far beyond any real list, and small enough that the row offset stays a sane database number.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))

    def meta(self) -> dict:
        return {"total": self.total, "page": self.page, "pages": self.pages}

    def envelope(self, items_key: str, serialized: list) -> dict:
        return {items_key: serialized, "pagination": self.meta()}


class PageQuerySerializer(serializers.Serializer):
    """`?page=&limit=`; a list's own filters subclass it, so one serializer checks the whole query string."""

    page = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        default=1,
        help_text=f"1-based page number, at most {MAX_PAGE}.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.API_MAX_PAGE_SIZE,
        help_text=f"Items per page (default {settings.API_PAGE_SIZE}, at most {settings.API_MAX_PAGE_SIZE}).",
    )


def paginate(
    queryset: QuerySet,
    *,
    page: int = 1,
    limit: int | None = None,
    default_limit: int | None = None,
    max_limit: int | None = None,
) -> Page:
    """One page of a queryset. A limit over the maximum is a validation error naming `limit`."""
    default_limit = default_limit or settings.API_PAGE_SIZE
    max_limit = max_limit or settings.API_MAX_PAGE_SIZE
    limit = limit or default_limit
    if limit > max_limit:
        raise InvalidInput(f"limit: must be at most {max_limit}.", details={"limit": [f"At most {max_limit}."]})
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page: must be between 1 and {MAX_PAGE}.", details={"page": [f"1 to {MAX_PAGE}."]})
    offset = (page - 1) * limit
    items = list(queryset[offset : offset + limit])
    if 0 < len(items) < limit or (offset == 0 and not items):
        total = offset + len(items)  # a short page is the last one: no COUNT needed
    else:
        total = queryset.count()
    return Page(items=items, total=total, page=page, limit=limit)


class PaginationMetaSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()


def paginated_serializer(name: str, items_key: str, item_serializer) -> type[serializers.Serializer]:
    """A serializer for an envelope, e.g. `{"replicas": [...], "pagination": {...}}`: the schema's page,
    and (`items_key`, `item_serializer`) what a list view answers, so that the two cannot disagree."""
    fields = {items_key: item_serializer(many=True), "pagination": PaginationMetaSerializer()}
    return type(name, (serializers.Serializer,), {**fields, "items_key": items_key, "item_serializer": item_serializer})
