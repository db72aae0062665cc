"""Routes outside the dialects: health, media files, and the 404/500 answers."""

import logging
import mimetypes

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404
from django.views import defaults
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from persona_platform.api.dialects import ApiError, dialect_for_path
from persona_platform.celery import app as celery_app
from persona_platform.middleware import MESSAGES, api_error_response

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_storage() -> str:
    default_storage.exists("healthz-probe")
    return "ok"


CHECKS = {"database": _check_database, "broker": _check_broker, "storage": _check_storage}


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error"])
    database = serializers.CharField(help_text="`ok` or `error: <kind>`")
    broker = serializers.CharField(help_text="`ok` or `error: <kind>`")
    storage = serializers.CharField(help_text="`ok` or `error: <kind>`")


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="Health",
        tags=["Platform"],
        operation_id="platform_healthz",
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request):
        """200 when the database, the broker and the media storage all answer; 503 naming the one that does not.

        Needs no key: load balancers and orchestrators call it.
        """
        body = {"status": "ok"}
        for name, check in CHECKS.items():
            try:
                body[name] = check()
            except Exception as exc:  # a health check reports every failure instead of raising it
                logger.warning("healthz: %s failed: %s", name, exc)
                body[name] = f"error: {type(exc).__name__}"
                body["status"] = "error"
        return Response(body, status=200 if body["status"] == "ok" else 503)


@require_GET
def media_file(request, path: str):
    """Serve a stored file from the default storage (embedded mode; S3 URLs point at the bucket)."""
    if not settings.SERVE_MEDIA or ".." in path.split("/") or not default_storage.exists(path):
        raise Http404("No such file.")
    content_type, _ = mimetypes.guess_type(path)
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type or "application/octet-stream")
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
