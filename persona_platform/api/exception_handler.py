"""Every error an API view raises, rendered in its dialect's envelope."""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from persona_platform.api.dialects import INFLUGEN, ApiError, Dialect
from persona_platform.errors import DomainError, InvalidInput


def flatten_validation_errors(detail, prefix: str = "") -> list[str]:
    """DRF's nested error map as `field: message` lines, so the message names every bad field."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix
            lines.extend(flatten_validation_errors(value, name))
        return lines
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [f"{prefix}: {item}" if prefix else str(item) for item in detail]
        lines = []
        for index, item in enumerate(detail):
            lines.extend(flatten_validation_errors(item, f"{prefix}[{index}]"))
        return lines
    return [f"{prefix}: {detail}" if prefix else str(detail)]


DRF_KINDS = {
    exceptions.ParseError: ("BadRequest", 400),
    exceptions.NotAuthenticated: ("Unauthorized", 401),
    exceptions.AuthenticationFailed: ("Unauthorized", 401),
    exceptions.PermissionDenied: ("Forbidden", 403),
    exceptions.NotFound: ("NotFound", 404),
    exceptions.MethodNotAllowed: ("MethodNotAllowed", 405),
    exceptions.NotAcceptable: ("NotAcceptable", 406),
    exceptions.UnsupportedMediaType: ("UnsupportedMediaType", 415),
    exceptions.Throttled: ("TooManyRequests", 429),
}


def as_api_error(exc: Exception, dialect: Dialect) -> ApiError | None:
    """Our errors, DRF's and Django's as one ApiError; None for anything unexpected (a 500)."""
    if isinstance(exc, InvalidInput):  # a bad value in a well-formed body: the dialect's validation status
        return ApiError(exc.kind, exc.message, dialect.validation_status, details=exc.details)
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
        return ApiError(exc.kind, exc.message, exc.status, details=exc.details, headers=headers)
    if isinstance(exc, exceptions.ValidationError):
        lines = flatten_validation_errors(exc.detail)
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return ApiError(
            "ValidationError", " ".join(lines) or "Invalid input.", dialect.validation_status, details=details
        )
    if isinstance(exc, Http404):
        return ApiError("NotFound", "Not found.", 404)
    if isinstance(exc, DjangoPermissionDenied):
        return ApiError("Forbidden", "You do not have permission to perform this action.", 403)
    if isinstance(exc, RequestDataTooBig):
        return ApiError("PayloadTooLarge", "The request body is too large.", 413)
    if isinstance(exc, exceptions.APIException):
        kind, status = next(
            (value for cls, value in DRF_KINDS.items() if isinstance(exc, cls)),
            (type(exc).__name__, exc.status_code),
        )
        headers = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
            message = f"Rate limit exceeded. Retry in {headers['Retry-After']} seconds."
        else:
            message = str(exc.detail)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return ApiError(kind, message, status, headers=headers)
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    view = context.get("view")
    dialect = getattr(view, "dialect", INFLUGEN)  # a view outside the dialects: the contract's envelope
    error = as_api_error(exc, dialect)
    if error is None:
        return None  # unexpected: Django logs it and handler500 answers in the dialect's shape
    set_rollback()
    response = Response(dialect.error_body(error), status=error.status, headers=error.headers)
    if isinstance(exc, exceptions.MethodNotAllowed) and view is not None:
        response["Allow"] = ", ".join(view.allowed_methods)
    return response
