"""Guards for API paths that run before (or around) any view."""

import logging
import time

from django.conf import settings
from django.http import JsonResponse

from persona_platform import logs
from persona_platform.api.dialects import ApiError, dialect_for_path

access_logger = logging.getLogger("persona_platform.access")


def api_error_response(path: str, error: ApiError) -> JsonResponse:
    dialect = dialect_for_path(path)
    response = JsonResponse(dialect.error_body(error), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


class ApiRequestSizeMiddleware:
    """Refuse an API body over its route's limit with a 413 before anything reads it.

    Bodies are limited per route: a view that takes media or documents says so (`large_body = True`) and
    gets `API_MAX_BODY_BYTES`, or names its own limit in bytes (`large_body = <int>`); every other API route takes at most `API_MAX_JSON_BODY_BYTES`. DRF streams
    the body into its parser without Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is enforced
    here, on the declared Content-Length (the front door has already refused anything larger than any route's).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if dialect_for_path(request.path) is None:
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        view_class = getattr(view_func, "cls", None)
        large = getattr(view_class, "large_body", False)
        if isinstance(large, bool):
            limit = settings.API_MAX_BODY_BYTES if large else settings.API_MAX_JSON_BODY_BYTES
        else:
            limit = large
        if length <= limit:
            return None
        message = f"The request body is {length / 2**20:.1f} MB; the limit for this route is {limit / 2**20:.1f} MB."
        response = api_error_response(request.path, ApiError("PayloadTooLarge", message, 413))
        response["Connection"] = "close"  # the unread body must not be parsed as the next request
        return response


class ApiErrorShapeMiddleware:
    """Any non-JSON error page on an API path (an unmatched route, DEBUG's pages, CSRF) becomes
    the dialect's envelope, so an API client never receives HTML or a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or dialect_for_path(request.path) is None:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        error = ApiError(KINDS.get(status, "Error"), MESSAGES.get(status, "The request failed."), status)
        shaped = api_error_response(request.path, error)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                shaped[header] = response[header]
        return shaped


KINDS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
MESSAGES = {
    400: "Bad request.",
    401: "Authentication required.",
    403: "Forbidden.",
    404: "No such route.",
    405: "Method not allowed.",
    413: "The request body is too large.",
    429: "Rate limit exceeded.",
    500: "An unexpected error occurred. It has been logged.",
    503: "The service is unavailable.",
}


class RequestIdMiddleware:
    """Every answer carries an `X-Request-ID`: the client's own when well formed (persona_platform.logs),
    else a new one. Every log line written while the request is handled carries it, and each API request
    ends with one access line: its route pattern (not the raw path, so lines group by route), workspace,
    status and duration. First in MIDDLEWARE, so that errors from any other layer carry it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = logs.request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = logs.bind(request_id=request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[logs.REQUEST_ID_HEADER] = request_id
            if dialect_for_path(request.path) is not None:
                self.log_access(request, response, duration=time.monotonic() - started)
        finally:
            logs.unbind(token)
        return response

    @staticmethod
    def log_access(request, response, *, duration: float) -> None:
        match = request.resolver_match
        route = f"/{match.route}" if match is not None else None
        workspace_id = getattr(getattr(request, "auth", None), "workspace_id", None)
        access_logger.info(
            "%s %s %s %.1f ms",
            request.method,
            route or request.path,
            response.status_code,
            duration * 1000,
            extra={
                "method": request.method,
                "route": route,
                "workspace_id": workspace_id,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 1),
            },
        )
