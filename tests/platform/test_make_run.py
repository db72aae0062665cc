"""What `make run` does, end to end in embedded mode: migrate, seed, serve API + worker, stop both."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def request(url: str, key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["x-api-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(VAR_DIR=str(tmp_path / "var"), MEDIA_ROOT=str(tmp_path / "var" / "media"), CELERY_CONCURRENCY="1",
               LIVE_PORT=str(free_port()))  # fmt: skip
    return env


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_serve_runs_api_and_worker_in_embedded_mode_and_stops_both(embedded_env):
    manage(embedded_env, "migrate", "--noinput")
    key = manage(embedded_env, "createapikey", "--email", "new@example.com").splitlines()[-1]
    manage(embedded_env, "seed")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT, env=embedded_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, health = request(f"{base}/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        assert (status, health["database"], health["broker"], health["storage"]) == (200, "ok", "ok", "ok")
        children = children_of(server.pid)
        assert len(children) == 5  # the front door, gunicorn, the celery worker, beat and the live process

        status, person = request(
            f"{base}/api/v1/persons", key, {"name": "Alex Chen", "photo_base64": factories.image_base64(data_url=True)}
        )
        assert status == 201, person
        with urllib.request.urlopen(person["photo_url"], timeout=10) as photo:
            assert photo.headers["Content-Type"] == "image/jpeg" and len(photo.read()) > 1000
        assert [p["name"] for p in request(f"{base}/api/v1/persons", key)[1]] == ["Alex Chen", "Nova Demo"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(child) for child in children)
