"""`serve`'s front door: the asyncio proxy that reads each request whole before gunicorn sees it."""

import asyncio
import json

from django.conf import settings
from django.core.management.base import BaseCommand

from persona_platform import frontdoor
from persona_platform.api.dialects import ApiError, dialect_for_path


def dialect_error_body(path: str, status: int, kind: str, message: str) -> bytes:
    """The error in the envelope of the dialect that owns the path (the contract's one elsewhere)."""
    dialect = dialect_for_path(path)
    if dialect is None:
        return frontdoor.plain_error_body(path, status, kind, message)
    return json.dumps(dialect.error_body(ApiError(kind, message, status))).encode()


class Command(BaseCommand):
    help = "Listen for HTTP clients and forward whole requests to gunicorn's unix socket."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--upstream", required=True, help="gunicorn's unix socket")

    def handle(self, *args, host: str, port: int, upstream: str, **options):
        limits = frontdoor.Limits(
            header_timeout=settings.HTTP_HEADER_TIMEOUT_SECONDS,
            body_timeout=settings.HTTP_BODY_TIMEOUT_SECONDS,
            keepalive_timeout=settings.HTTP_KEEPALIVE_SECONDS,
            max_body_bytes=settings.HTTP_MAX_BODY_BYTES,
        )
        coroutine = frontdoor.serve(
            host=host, port=port, upstream_socket=upstream, limits=limits, error_body=dialect_error_body
        )
        try:
            asyncio.run(coroutine)
        except KeyboardInterrupt:
            pass
