"""Resident memory (RSS) of each process of `manage.py serve`, after a video job has run.

Run from the repository root:

    .venv/bin/python bench/process_memory.py [--broker amqp://guest:guest@127.0.0.1:5672//]

Starts `manage.py serve` in embedded mode in a temporary folder (SQLite, local media; the filesystem
broker unless --broker names another, e.g. RabbitMQ), creates an API key, makes one TwinTone video of
the demo replica through the API, waits until it is ready, then prints each process's RSS and USS
(its own pages, not those shared with its parent after fork), read with psutil, and stops the server. The worker's pool child that ran the video is the largest: it has loaded
the speech and talking-head engines.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "Hello! This short video measures how much memory each process of the platform needs."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def call(base: str, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_healthy(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become healthy")


def role(process: psutil.Process) -> str:
    """What a process of the tree is, from its command line and its parent's."""
    line = " ".join(process.cmdline())
    parent = " ".join(process.parent().cmdline()) if process.parent() else ""
    if "frontdoor" in line:
        return "front door (manage.py frontdoor)"
    if "gunicorn" in line:
        return "web: gunicorn worker" if "gunicorn" in parent else "web: gunicorn master"
    if " beat" in line:
        return "beat"
    if " worker" in line:
        return "worker: pool child" if " worker" in parent else "worker: main"
    if "serve" in line:
        return "supervisor (manage.py serve)"
    return line[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="", help="CELERY_BROKER_URL; default: the embedded filesystem broker")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="process-memory-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(VAR_DIR=str(tmp / "var"), MEDIA_ROOT=str(tmp / "var" / "media"), CELERY_CONCURRENCY="2")
    if args.broker:
        env["CELERY_BROKER_URL"] = args.broker
    manage(env, "migrate", "--noinput")
    key = manage(env, "createapikey", "--email", "memory@example.com").strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=(tmp / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(base)
        replica = call(base, key, "GET", "/v1/replicas")[1]["replicas"][0]["id"]
        started = time.monotonic()
        status, video = call(base, key, "POST", "/v1/videos", {"replica_id": replica, "script": SCRIPT})
        assert status == 201, video
        while video.get("status") not in {"ready", "failed"}:
            time.sleep(0.5)
            video = call(base, key, "GET", f"/v1/videos/{video['id']}")[1]
        print(f"video {video['id']}: {video['status']} in {time.monotonic() - started:.1f} s", video.get("error", ""))
        print(f"broker: {args.broker or 'filesystem (embedded)'}")
        time.sleep(2)
        tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
        # RSS counts pages shared with the parent after fork; USS only the process's own (what killing it frees).
        memory = [(role(p), p.pid, p.memory_full_info()) for p in tree]
        rows = sorted(((name, pid, info.rss / 2**20, info.uss / 2**20) for name, pid, info in memory))
        for name, pid, rss, uss in rows:
            print(f"{name:34} pid {pid:>7}  RSS {rss:7.1f} MiB  USS {uss:7.1f} MiB")
        total_rss, total_uss = sum(row[2] for row in rows), sum(row[3] for row in rows)
        print(f"{'total':34} {'':11}  RSS {total_rss:7.1f} MiB  USS {total_uss:7.1f} MiB")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    log = (tmp / "serve.log").read_text(errors="replace")
    proof = [line for line in log.splitlines() if "Connected to" in line or "job_run[" in line and "succeeded" in line]
    print("worker log:", *proof[:3], sep="\n  ")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
