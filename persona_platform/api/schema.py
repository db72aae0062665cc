"""One OpenAPI document for all four dialects: tags and operation ids carry the dialect,
the three key headers are declared as alternative security schemes, and every authenticated
operation documents the 401 and 429 answers in its dialect's error shape."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class VendorErrorSerializer(serializers.Serializer):
    """The `/v1` and `/api/v1` error envelope."""

    error = serializers.CharField(help_text="Error kind, e.g. NotFound, ValidationError, Unauthorized.")
    message = serializers.CharField(help_text="What went wrong, naming the field where one is at fault.")
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")


class BHumanErrorSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["error"])
    message = serializers.CharField()


ERROR_DESCRIPTIONS = {
    400: "Bad request (malformed JSON or invalid media)",
    401: "Missing, malformed or revoked API key",
    402: "Not enough credits",
    403: "Forbidden (read-only demo person, plan limit)",
    404: "Not found in this workspace",
    405: "Method not allowed",
    409: "Conflict with the resource's state (e.g. a training already running)",
    413: "Request body or media too large",
    422: "Validation error",
    429: "Rate limit exceeded; see the Retry-After header",
    503: "A provider this needs is not configured on the server",
}


def error_responses(*codes: int, serializer=VendorErrorSerializer) -> dict:
    """`{code: OpenApiResponse}` for the error answers an operation can give."""
    return {code: OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class DialectAutoSchema(AutoSchema):
    def _dialect(self):
        return getattr(self.view, "dialect", None)

    def get_tags(self) -> list[str]:
        dialect = self._dialect()
        return [dialect.tag] if dialect else super().get_tags()

    def get_operation_id(self) -> str:
        """`<dialect>_<view>_<method>`, e.g. `twintone_persona_list_get`: unique, and stable across path changes."""
        dialect = self._dialect()
        if dialect is None:
            return super().get_operation_id()
        view_name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self.view).__name__.removesuffix("View")).lower()
        return f"{dialect.name}_{view_name}_{self.method.lower()}"

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.get_auth() and self._dialect() is not None:
            serializer = BHumanErrorSerializer if self._dialect().name == "bhuman" else VendorErrorSerializer
            for code in (401, 429):
                if str(code) not in responses:
                    responses[str(code)] = self._get_response_for_code(
                        OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS[code]),
                        str(code),
                        direction=direction,
                    )
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = ["BearerAuth", "ApiKeyHeader", "BareAuthorization"]

    def get_security_requirement(self, auto_schema):
        # Alternatives (any one header works), not a conjunction.
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
            {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "`x-api-key: <key>`"},
            {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Authorization: <key>` (bare)"},
        ]


# Older spellings that answer exactly like the current ones; the schema documents the current one.
ALIAS_PREFIXES = ("/api/v1/influencers",)


def drop_trailing_slash_aliases(endpoints):
    """Routes answer with and without a trailing slash, and under their aliases; document each once,
    as the vendor spells it now."""
    paths = {path for path, *_ in endpoints}
    return [
        (path, pattern, method, view)
        for path, pattern, method, view in endpoints
        if not (path.endswith("/") and path.rstrip("/") in paths) and not path.startswith(ALIAS_PREFIXES)
    ]
