"""`make run`'s last step: the web server and a Celery worker as one unit.

Ctrl-C, SIGTERM, or the death of the parent (`make`) stops both; if either child exits, the
other is stopped too, so nothing is left running half-alive.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: receive SIGTERM when the parent (make) dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class Command(BaseCommand):
    help = "Serve the API (gunicorn) and run a Celery worker together until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port: int, host: str, **options):
        _die_with_parent()
        bin_dir = os.path.dirname(sys.executable)
        web = [
            os.path.join(bin_dir, "gunicorn"),
            "persona_platform.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "1"),
            "--threads",
            os.environ.get("WEB_THREADS", "8"),
            "--access-logfile",
            "-",
            "--timeout",
            "120",
        ]
        worker = [
            os.path.join(bin_dir, "celery"),
            "-A",
            "persona_platform",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            os.environ.get("CELERY_CONCURRENCY", "2"),
        ]
        children = [subprocess.Popen(web), subprocess.Popen(worker)]
        self.stdout.write(
            f"Serving on http://{host}:{port} (API docs at /api/docs/) with a Celery worker. Ctrl-C stops both."
        )

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        codes = [child.returncode for child in children]
        self.stdout.write(f"Stopped (exit codes {codes}).")
