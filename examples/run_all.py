"""Run every example against one server, one after another, and print a summary with each wall time.

Exits non-zero when any example failed. Reads the same environment as the examples:
PERSONA_BASE_URL (default http://127.0.0.1:8000) and PERSONA_API_KEY.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = [
    "persons_person.py",
    "twintone_speech.py",
    "twintone_video.py",
    "influgen_talking_head.py",
    "bhuman_knowledge_chat.py",
]
TIMEOUT_SECONDS = 600


def run(script: str) -> tuple[bool, float, str]:
    """(passed, seconds, why it failed) of one example, its output streamed as it runs."""
    print(f"\n=== {script}", flush=True)
    started = time.monotonic()
    try:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its prints and its failure message in order
        result = subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, env=env, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started, f"timed out after {TIMEOUT_SECONDS} s"
    seconds = time.monotonic() - started
    return result.returncode == 0, seconds, "" if result.returncode == 0 else f"exit status {result.returncode}"


def main() -> int:
    if not os.environ.get("PERSONA_API_KEY"):
        print("Set PERSONA_API_KEY (manage.py createapikey --email you@example.com prints one).", file=sys.stderr)
        return 2
    results = [(script, *run(script)) for script in EXAMPLES]
    print(f"\n=== summary against {os.environ.get('PERSONA_BASE_URL', 'http://127.0.0.1:8000')}")
    for script, passed, seconds, why in results:
        print(f"{'ok  ' if passed else 'FAIL'} {seconds:6.1f} s  {script}{'  (' + why + ')' if why else ''}")
    failed = [script for script, passed, *_ in results if not passed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
