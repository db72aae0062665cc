"""Routes outside the dialects: health, media files, and the 404/500 answers."""

import logging
import mimetypes

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views import defaults
from django.views.decorators.http import require_GET

from persona_platform.api.dialects import ApiError, dialect_for_path
from persona_platform.middleware import MESSAGES, api_error_response

logger = logging.getLogger(__name__)


@require_GET
def media_file(request, path: str):
    """Serve a stored file from the default storage (embedded mode; S3 URLs point at the bucket)."""
    if not settings.SERVE_MEDIA or path.endswith("/") or ".." in path.split("/") or not default_storage.exists(path):
        raise Http404("No such file.")
    try:
        handle = default_storage.open(path, "rb")
    except (IsADirectoryError, FileNotFoundError):  # a folder (`/media/jobs`), or gone since exists()
        raise Http404("No such file.") from None
    content_type, _ = mimetypes.guess_type(path)
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def handler404(request, exception=None):
    if dialect_for_path(request.path) is not None:
        return api_error_response(request.path, ApiError("NotFound", MESSAGES[404], 404))
    return defaults.page_not_found(request, exception)


def handler500(request):
    if dialect_for_path(request.path) is not None:
        return api_error_response(request.path, ApiError("InternalServerError", MESSAGES[500], 500))
    return defaults.server_error(request)
