import pytest
from rest_framework.test import APIClient

from persona_platform.celery import app as celery_app
from tests import factories


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes its media into its own folder, and can list what was left behind."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    """Rate-limit counters must not leak from one test into the next (Redis is shared in CI)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def no_background_processes(settings):
    """No worker or beat runs beside the tests (Celery is eager): /healthz must not require them.
    The health tests turn the requirement back on."""
    settings.HEALTH_REQUIRES_WORKERS = False


@pytest.fixture(autouse=True, scope="session")
def celery_eager():
    celery_app.conf.task_always_eager = True
    # Not propagating lets an eager task's self.retry() run the retry at once, as a worker would later.
    celery_app.conf.task_eager_propagates = False


@pytest.fixture
def workspace(db):
    return factories.workspace_create(email="alice@example.com")


@pytest.fixture
def other_workspace(db):
    return factories.workspace_create(email="bob@example.com")


@pytest.fixture
def api_key(workspace):
    return factories.api_key_create(workspace=workspace)


@pytest.fixture
def raw_key(api_key):
    return api_key.raw


@pytest.fixture
def api_client(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def other_client(other_workspace):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_create(workspace=other_workspace).raw}")
    return client


@pytest.fixture
def anonymous_client():
    return APIClient()
