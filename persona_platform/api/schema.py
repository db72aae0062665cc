"""One OpenAPI document for all four dialects: tags and operation ids carry the dialect,
the three key headers are declared as alternative security schemes, and every operation documents,
in its dialect's error shape, the answers the plumbing around its view can give (401 and 429 when
authenticated, 404 with an id in the path, 400/413/415/validation with a body, validation with a query
string), and text fields document what DRF's CharField refuses."""

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


class BHumanSuccessSerializer(serializers.Serializer):
    """The BHuman success envelope; a route's answer subclasses it with its own fields."""

    status = serializers.CharField(default="success", read_only=True)
    message = serializers.CharField(read_only=True)


ERROR_DESCRIPTIONS = {
    400: "Bad request: malformed JSON or invalid media (TwinTone and BHuman: also a field of the wrong shape or value)",
    401: "Missing, malformed or revoked API key",
    402: "Not enough credits",
    403: "Forbidden (read-only demo person, plan limit)",
    404: "Not found in this workspace",
    405: "Method not allowed",
    409: "Conflict with the resource's state (e.g. a training already running)",
    413: "Request body or media too large",
    415: "Unsupported media type: the body is in none of the content types the operation reads",
    422: "Validation error",
    429: "Rate limit exceeded; see the Retry-After header",
    503: "A provider this needs is not configured on the server",
}


# Text as DRF's CharField accepts it: no NUL, and (unless blank is allowed) one character at least that its
# whitespace trimming (Python's str.strip) keeps. Python's `\s` also covers \x1c-\x1f and \x85, which other
# regex engines (ECMA's, Rust's) do not: they are named, so that every engine reads the pattern alike.
NO_NUL_PATTERN = r"^[^\x00]*$"
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x1c-\x1f\x85\x00][^\x00]*$"


def error_responses(*codes: int, serializer=VendorErrorSerializer) -> dict:
    """`{code: OpenApiResponse}` for the error answers an operation can give."""
    return {code: OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


# Path parameters are plain ids that no serializer field describes; one sentence each, named once here.
PATH_PARAMETER_DESCRIPTIONS = {
    "character_id": "The character's id: `char_` and a ULID, as the character's `id` field gives it.",
    "generation_id": "The generation's id, as its `id` field gives it.",
    "consent_id": "The consent's id, as its `id` field gives it.",
    "job_id": "The job's id, as its `id` field gives it.",
    "person_id": "The person's id, as its `id` field gives it.",
    "persona_id": "The persona's id, as its `id` field gives it.",
    "replica_id": "The replica's id, as its `id` field gives it.",
    "speech_id": "The speech's id, as its `id` field gives it.",
    "video_id": "The video's id, as its `id` field gives it.",
    "conversation_id": "The conversation's id, as its `id` field gives it.",
    "data_id": "The training data item's id, as its `id` field gives it.",
    "chat_id": "The chat's id (`chat_...`), as the chat answer's `chat_id` gives it.",
    "embed_name": "The voice's id (a `voice_id`), whose reference recording this is.",
}


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

    def get_request_serializer(self):
        if self.method == "DELETE":
            return None  # reached only when the view names no request body: a DELETE has none by default
        return super().get_request_serializer()

    def _get_request_body(self, direction="request"):
        """Bodies of PUT, PATCH and POST, and of a DELETE whose view names one (BHuman's `DELETE instance`
        takes `instance_id` in a JSON body, as its document shows); drf-spectacular documents none for DELETE."""
        if self.method != "DELETE" or self.get_request_serializer() is None:
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def _map_basic_serializer(self, serializer, direction):
        """Two serializer attributes say what DRF's fields cannot: `schema_optional_fields` are left out of
        `required` (fields a dialect's document shows only in some states: TwinTone's `url`, "present only
        if status is ready"), and `schema_one_of` lists fields of which a request sends exactly one."""
        outer, self._direction = getattr(self, "_direction", None), direction
        try:
            schema = super()._map_basic_serializer(serializer, direction)
        finally:
            self._direction = outer
        optional = getattr(serializer, "schema_optional_fields", ())
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        if one_of := getattr(serializer, "schema_one_of", ()):
            schema["oneOf"] = [{"required": [name]} for name in one_of]
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        if (
            isinstance(field, serializers.CharField)
            and getattr(self, "_direction", None) == "request"
            and not field.read_only
            and not {"format", "pattern", "enum"} & schema.keys()
        ):
            # What DRF's CharField refuses that the type does not say: NUL anywhere (PostgreSQL cannot store
            # it) and, unless blank is allowed, a value of whitespace only (it is trimmed to blank first).
            blank_allowed = field.allow_blank or not field.trim_whitespace
            schema["pattern"] = NO_NUL_PATTERN if blank_allowed else NOT_BLANK_PATTERN
        if isinstance(field, serializers.ListSerializer):  # DRF checks these in to_internal_value, not validators
            if field.min_length is not None or not field.allow_empty:
                schema["minItems"] = max(field.min_length or 0, 0 if field.allow_empty else 1)
            if field.max_length is not None:
                schema["maxItems"] = field.max_length

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        dialect = self._dialect()
        if operation is None or dialect is None:
            return operation
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and not parameter.get("description"):
                parameter["description"] = PATH_PARAMETER_DESCRIPTIONS.get(parameter["name"], "")
        serializer = BHumanErrorSerializer if dialect.name == "bhuman" else VendorErrorSerializer
        responses = operation["responses"]
        for code in self._plumbing_error_codes(operation, dialect):
            if str(code) not in responses:
                error = OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS[code])
                responses[str(code)] = self._get_response_for_code(error, str(code))
        for code, response in responses.items():
            response["headers"] = {**response.get("headers", {}), **self._answer_headers(code)}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _answer_headers(self, code: str) -> dict:
        """The headers the plumbing sets (persona_platform.middleware, DialectView.finalize_response)."""
        names = ["X-Request-ID"]
        if self.get_auth():
            names += ["RateLimit-Policy", "RateLimit"]
        if code in {"201", "202"} and getattr(self.view, "created_location", None) is not None:
            names.append("Location")
        return {name: {"$ref": f"#/components/headers/{name}"} for name in names}

    def _plumbing_error_codes(self, operation: dict, dialect) -> set[int]:
        """What any operation of this shape can answer, whatever its view does: the key check and the
        throttle; the id converters and selectors (404); the body-size guard (413), the parsers (400 for
        malformed JSON, 415 for a content type they do not read) and the serializers (the dialect's validation
        status) for bodies and query strings. Errors that depend on the view's rules (402, 403, 409, 503...)
        are named by the view."""
        codes = set()
        if self.get_auth():
            codes |= {401, 429}
        locations = {parameter["in"] for parameter in operation.get("parameters", [])}
        if "path" in locations:
            codes.add(404)
        if "query" in locations:
            codes.add(dialect.validation_status)
        if "requestBody" in operation:
            codes |= {400, 413, 415, dialect.validation_status}
        return codes


ANSWER_HEADERS = {
    "X-Request-ID": {
        "description": "The request's id: the client's own `X-Request-ID` when it is 1 to 200 visible ASCII "
        "characters, else a new one. Every log line about the request carries it.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    },
    "RateLimit-Policy": {
        "description": 'The key\'s quota (draft-ietf-httpapi-ratelimit-headers): `"default";q=<requests>;w=<seconds>`.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"default";r=<requests left>;t=<seconds until the window resets>`.',
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "201: the new resource's own route. 202: the route that shows the started job's status.",
        "schema": {"type": "string", "format": "uri"},
    },
}


def add_answer_headers(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the header components that every answer refers to."""
    result.setdefault("components", {})["headers"] = ANSWER_HEADERS
    return result


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
