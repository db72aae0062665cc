"""`make run`'s last step: the whole platform as one supervised unit.

Children: the front door (persona_platform.frontdoor) on the public port, gunicorn behind it on a
unix socket, a Celery worker, Celery beat (exactly one per deployment: it schedules the job
dispatcher, the stale-job sweep and webhook retries), and the live process (`manage.py live`, on
LIVE_PORT), which holds live conversations. A child that dies is started again, after a
pause that grows while it keeps dying; the others go on serving. Ctrl-C, SIGTERM, or the death of
the parent (`make`) stops them all.
"""

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

PR_SET_PDEATHSIG = 1
RESTART_PAUSE_MIN, RESTART_PAUSE_MAX = 1.0, 30.0
STABLE_SECONDS = 60  # a child that ran this long before dying is restarted at once
STOP_GRACE_SECONDS = 15
UNIX_SOCKET_MAX = 100  # bytes in a unix socket path, with room to spare


def _die_with_parent() -> None:
    """Linux: receive SIGTERM when the parent (make) dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    """One supervised process and its restart history."""

    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    pause: float = RESTART_PAUSE_MIN
    restart_at: float | None = None
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        self.started_at, self.restart_at = time.monotonic(), None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def web_socket_path() -> str:
    """gunicorn's unix socket, under VAR_DIR when the path is short enough for a socket."""
    path = Path(settings.VAR_DIR) / "run" / "web.sock"
    if len(str(path)) > UNIX_SOCKET_MAX:
        path = Path(tempfile.mkdtemp(prefix="persona-")) / "web.sock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


class Command(BaseCommand):
    help = "Serve the API (front door + gunicorn), a Celery worker and beat, restarting any that dies."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def children(self, *, host: str, port: int) -> list[Child]:
        bin_dir = os.path.dirname(sys.executable)
        python, socket_path = sys.executable, web_socket_path()
        web = [
            os.path.join(bin_dir, "gunicorn"), "persona_platform.wsgi:application",
            "--bind", f"unix:{socket_path}",
            "--workers", os.environ.get("WEB_CONCURRENCY", "1"),
            "--threads", os.environ.get("WEB_THREADS", "8"),
            "--timeout", "120",
        ]  # fmt: skip
        celery = [os.path.join(bin_dir, "celery"), "-A", "persona_platform"]
        worker = [*celery, "worker", "--loglevel", "INFO", "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2")]
        beat = [*celery, "beat", "--loglevel", "INFO", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]
        door = [
            python,
            str(settings.BASE_DIR / "manage.py"),
            "frontdoor",
            "--host",
            host,
            "--port",
            str(port),
            "--upstream",
            socket_path,
        ]
        live = [python, str(settings.BASE_DIR / "manage.py"), "live", "--host", host]
        return [
            Child("web", web),
            Child("frontdoor", door),
            Child("worker", worker),
            Child("beat", beat),
            Child("live", live),
        ]

    def handle(self, *args, port: int, host: str, **options):
        _die_with_parent()
        children = self.children(host=host, port=port)
        for child in children:
            child.start()
            if child.name == "web":  # the front door opens once there is something to forward to
                self.wait_for_socket(children[0].command[3].removeprefix("unix:"))
        self.stdout.write(
            f"Serving on http://{host}:{port} (API docs at /api/docs/) with a Celery worker and beat, and live "
            f"conversations on port {settings.LIVE_PORT}. "
            "Ctrl-C stops them all."
        )
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            self.supervise(children)
            time.sleep(0.2)
        self.stop_all(children)

    def wait_for_socket(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.1)

    def supervise(self, children: list[Child]) -> None:
        """Start again each child that has died, after a pause that doubles while it keeps dying."""
        now = time.monotonic()
        for child in children:
            if child.running():
                continue
            if child.restart_at is None:
                code = child.process.returncode if child.process else None
                if now - child.started_at >= STABLE_SECONDS:
                    child.pause = RESTART_PAUSE_MIN
                self.stderr.write(f"{child.name} exited ({code}); starting it again in {child.pause:g} s.")
                child.restart_at = now + child.pause
                child.pause = min(child.pause * 2, RESTART_PAUSE_MAX)
            elif now >= child.restart_at:
                child.restarts += 1
                child.start()

    def stop_all(self, children: list[Child]) -> None:
        for child in children:
            if child.running():
                child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        codes = {child.name: child.process.returncode for child in children if child.process}
        self.stdout.write(f"Stopped (exit codes {codes}).")
