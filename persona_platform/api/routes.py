"""What the dialects' URL modules share."""

from django.urls import URLPattern, path
from rest_framework.views import APIView


def with_slash(route: str, view: type[APIView], name: str) -> list[URLPattern]:
    """The named route and its trailing-slash alias, which some clients send; one view answers both.
    The schema documents the route once (see schema.drop_trailing_slash_aliases)."""
    view_function = view.as_view()
    return [path(route, view_function, name=name), path(f"{route}/", view_function)]
