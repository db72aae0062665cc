"""The live process and a replica with a knowledge base, for the live-conversation tests (test_live*.py)."""

import threading
import time

import pytest
import uvicorn

from knowledge.live.sessions import SESSIONS
from knowledge.services.pages import pages_store
from tests import factories
from tests.dialects.bhuman.test_knowledge import PAGES
from tests.knowledge.live_helpers import free_port


@pytest.fixture
def live_process(transactional_db, settings):
    """`manage.py live` in a thread: uvicorn with the lifespan, on a free port; its base URL."""
    port = free_port()
    settings.LIVE_PUBLIC_URL = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config("persona_platform.asgi:application", host="127.0.0.1", port=port, lifespan="on", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield settings.LIVE_PUBLIC_URL
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive()
    assert not SESSIONS, "stopping the live process closes every session"


@pytest.fixture
def replica(live_process, workspace):
    person = factories.person_create(workspace=workspace, name="Maya")
    pages_store(person=person, pages=PAGES)
    return person
