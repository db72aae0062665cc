"""How much an API key adds to a request: format and checksum, HMAC, and the one indexed lookup.

Run from the repository root:  .venv/bin/python bench/auth_overhead.py
Uses DATABASE_URL (PostgreSQL recommended) and REDIS_URL; a throwaway test database is created and dropped.
For scale it also times Django's password hasher, which a key check must not use.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

ROUNDS = 7


def per_call_us(func, calls: int) -> float:
    """Median over ROUNDS of the mean time per call, in microseconds."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(calls):
            func()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from rest_framework.request import Request
        from rest_framework.test import APIRequestFactory

        from accounts.authentication import ApiKeyAuthentication
        from accounts.keys import key_hash, key_is_well_formed
        from accounts.models import ApiKey
        from accounts.selectors import api_key_by_hash
        from accounts.services import api_key_create, user_get_or_create, workspace_create

        user, _ = user_get_or_create(email="bench@example.com")
        workspace = workspace_create(owner=user)
        api_key, raw = api_key_create(workspace=workspace, user=user)
        for _ in range(2000):  # a realistic table, not a single row
            api_key_create(workspace=workspace, user=user)
        hashed = key_hash(raw)
        mistyped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
        factory, auth = APIRequestFactory(), ApiKeyAuthentication()

        def authenticate(key: str):
            request = Request(factory.get("/api/v1/persons", HTTP_AUTHORIZATION=f"Bearer {key}"))
            try:
                return auth.authenticate(request)
            except Exception:
                return None

        authenticate(raw)  # warm: the snapshot is now cached
        rows = [
            ("format + checksum", per_call_us(lambda: key_is_well_formed(raw), 20000)),
            ("HMAC-SHA256 of the key", per_call_us(lambda: key_hash(raw), 20000)),
            ("mistyped key refused (no I/O)", per_call_us(lambda: authenticate(mistyped), 5000)),
            ("authenticate, warm (one cache round trip, no query)", per_call_us(lambda: authenticate(raw), 2000)),
            (
                "key lookup on a cache miss (one indexed query)",
                per_call_us(lambda: api_key_by_hash(key_hash=hashed), 2000),
            ),
            (
                "for scale: the same row by primary key",
                per_call_us(
                    lambda: ApiKey.objects.select_related("workspace", "user").filter(pk=api_key.pk).first(), 2000
                ),
            ),
        ]
        encoded = make_password(raw)
        rows.append(("for scale: Django password hasher", per_call_us(lambda: check_password(raw, encoded), 5)))

        cache = "Redis" if os.environ.get("REDIS_URL") else "process-local cache"
        print(f"database: {connection.vendor}, cache: {cache}, rounds: {ROUNDS} (median of per-call means)\n")
        print("| step | µs per call |")
        print("|---|---:|")
        for name, value in rows:
            print(f"| {name} | {value:,.1f} |")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
