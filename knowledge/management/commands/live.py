"""`serve`'s live child: uvicorn serving persona_platform.asgi, which holds live conversations (docs/LIVE.md)."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Hold live conversations (WebRTC) on LIVE_PORT; browsers reach it at LIVE_PUBLIC_URL."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.LIVE_PORT)

    def handle(self, *args, host: str, port: int, **options):
        import uvicorn  # heavy: only the live process serves ASGI

        uvicorn.run(
            "persona_platform.asgi:application",
            host=host,
            port=port,
            lifespan="on",
            log_config=None,  # the project's logging (JSON lines), not uvicorn's own
            timeout_graceful_shutdown=5,
        )
