"""The ASGI application `manage.py live` serves: every route, plus the live process's lifespan.

Live conversations (knowledge.live) are asyncio work that outlives the request that starts them, so they run
here, under uvicorn, and not in gunicorn's threads. Startup begins the process's registry heartbeat; shutdown
closes every session it holds and takes it out of the registry.
"""

import asyncio
import contextlib
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
django_application = get_asgi_application()

from knowledge.live.sessions import process_run  # noqa: E402  (needs the apps loaded above)


async def application(scope, receive, send):
    if scope["type"] != "lifespan":
        await django_application(scope, receive, send)
        return
    heartbeat: asyncio.Task | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            heartbeat = asyncio.create_task(process_run())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
            await send({"type": "lifespan.shutdown.complete"})
            return
