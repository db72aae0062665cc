"""What every example shares: where the server is, the key, the sample portrait, and checks that stop
the script (exit status 1) with the server's answer when something is not as documented.

Each example sets its vendor's own auth header and paths itself, so the vendor's shapes stay visible.
"""

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import requests

BASE_URL = os.environ.get("PERSONA_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
API_KEY = os.environ.get("PERSONA_API_KEY", "")
PORTRAIT = Path(__file__).resolve().parent.parent / "samples" / "portrait.jpg"  # a fictional person
OUT_DIR = Path(os.environ.get("PERSONA_EXAMPLES_OUT") or tempfile.gettempdir())  # where downloads are saved
POLL_TIMEOUT_SECONDS = float(os.environ.get("PERSONA_POLL_TIMEOUT", "300"))

if not API_KEY:
    sys.exit("Set PERSONA_API_KEY (manage.py createapikey --email you@example.com prints one).")


def fail(message: str) -> NoReturn:
    sys.exit(f"FAILED: {message}")


def expect(response: requests.Response, status: int) -> dict:
    """The JSON body of a response with exactly `status`; anything else stops the example."""
    if response.status_code != status:
        request = f"{response.request.method} {response.url}"
        fail(f"{request} answered {response.status_code}, not {status}: {response.text[:500]}")
    return response.json() if response.content else {}


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def poll(fetch, *, done, label: str, interval: float = 1.0):
    """Call `fetch()` until `done(body)` is true; stop the example after POLL_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while True:
        body = fetch()
        if done(body):
            return body
        if time.monotonic() > deadline:
            fail(f"{label} not finished after {POLL_TIMEOUT_SECONDS:g} s: {body}")
        time.sleep(interval)


def download(url: str, *, magic: bytes, offset: int = 0, save_as: str = "") -> bytes:
    """The file at `url`, which must hold `magic` at `offset` (b"RIFF" for WAV, b"ftyp" at 4 for MP4);
    with `save_as`, also written to OUT_DIR under that name."""
    response = requests.get(url, timeout=60)
    check(response.status_code == 200, f"GET {url} answered {response.status_code}")
    content = response.content
    check(content[offset : offset + len(magic)] == magic, f"{url} is not the expected file: {content[:16]!r}")
    if save_as:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / save_as).write_bytes(content)
        print(f"Saved {len(content)} bytes to {OUT_DIR / save_as}")
    return content
