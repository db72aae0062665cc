"""Page/limit pagination: `?page=1&limit=20` → `{"<items>": [...], "pagination": {"total", "page", "pages"}}`."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import serializers

from persona_platform.errors import InvalidInput


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
    page = serializers.IntegerField(required=False, min_value=1, default=1, help_text="1-based page number.")
    limit = serializers.IntegerField(required=False, min_value=1, help_text="Items per page.")


def paginate(queryset: QuerySet, params, *, default_limit: int | None = None, max_limit: int | None = None) -> Page:
    """One page of a queryset; a bad `page` or `limit` is a validation error naming the parameter."""
    default_limit = default_limit or settings.API_PAGE_SIZE
    max_limit = max_limit or settings.API_MAX_PAGE_SIZE
    query = PageQuerySerializer(data={k: params[k] for k in ("page", "limit") if k in params})
    if not query.is_valid():
        raise serializers.ValidationError(query.errors)
    page, limit = query.validated_data["page"], query.validated_data.get("limit", default_limit)
    if limit > max_limit:
        raise InvalidInput(f"limit: must be at most {max_limit}.", details={"limit": [f"At most {max_limit}."]})
    total = queryset.count()
    offset = (page - 1) * limit
    items = list(queryset[offset : offset + limit]) if offset < total else []
    return Page(items=items, total=total, page=page, limit=limit)


class PaginationMetaSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()


def paginated_serializer(name: str, items_key: str, item_serializer) -> type[serializers.Serializer]:
    """A schema-only serializer for an envelope, e.g. `{"replicas": [...], "pagination": {...}}`."""
    return type(
        name,
        (serializers.Serializer,),
        {items_key: item_serializer(many=True), "pagination": PaginationMetaSerializer()},
    )
