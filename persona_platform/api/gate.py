"""One cache round trip per authenticated request.

Every API request needs three small things from the shared cache: the key's cached identity (so
authentication runs no query), its rate-limit count, and whether `last_used_at` is due a write.
Redis answers all three in a single pipelined round trip; without Redis the process-local cache
answers them (embedded mode serves from one process).

The identity is a snapshot of a few columns, dropped whenever the key, its user or its workspace
changes (see accounts.signals), so revoking a key takes effect on the next request everywhere.
"""

import json
import logging
import os
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.serializers.json import DjangoJSONEncoder

from persona_platform.api.throttling import cache_count

logger = logging.getLogger(__name__)

# Changes drop snapshots at once; the expiry only bounds a read that raced a change (see accounts.signals).
SNAPSHOT_SECONDS = 60
TOUCH_SECONDS = 60  # last_used_at is written at most once a minute per key


@dataclass(frozen=True)
class GateAnswer:
    snapshot: dict | None  # the key's cached identity, None on a miss
    count: int | None  # requests in the current rate window, this one included; None when not counted
    touch_due: bool  # True for the first request of a key in a TOUCH_SECONDS window


def _snapshot_key(key_hash: str) -> str:
    return f"apikey:snapshot:{key_hash}"


def _touch_key(key_hash: str) -> str:
    return f"apikey:touched:{key_hash}"


class RedisGate:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def check(self, *, key_hash: str, rate_key: str | None, rate_seconds: int) -> GateAnswer:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(_snapshot_key(key_hash))
        pipe.set(_touch_key(key_hash), 1, nx=True, ex=TOUCH_SECONDS)
        if rate_key:
            pipe.incr(rate_key)
            pipe.expire(rate_key, rate_seconds + 1, nx=True)
        results = pipe.execute()
        snapshot = json.loads(results[0]) if results[0] else None
        return GateAnswer(snapshot=snapshot, count=results[2] if rate_key else None, touch_due=bool(results[1]))

    def remember(self, *, key_hash: str, snapshot: dict) -> None:
        self.client.set(_snapshot_key(key_hash), json.dumps(snapshot, cls=DjangoJSONEncoder), ex=SNAPSHOT_SECONDS)

    def forget(self, key_hashes: list[str]) -> None:
        if key_hashes:
            self.client.delete(*(_snapshot_key(key_hash) for key_hash in key_hashes))


def _revocation_stamp_path() -> Path:
    return Path(settings.VAR_DIR) / "run" / "api-keys.stamp"


def revocation_stamp() -> int:
    """When any process last changed a key, a user or a workspace (embedded mode): a file's mtime, which every
    process on the machine sees, where the process-local cache is each process's own."""
    try:
        return _revocation_stamp_path().stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def revocation_stamp_bump() -> None:
    path = _revocation_stamp_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    now = time.time_ns()
    os.utime(path, ns=(now, max(now, revocation_stamp() + 1)))


class CacheGate:
    """Django's cache: the process-local cache in embedded mode (add and incr are atomic under its lock).

    Snapshots are filed under the revocation stamp, so a key revoked by another process (the admin, a
    shell, `createapikey`) stops working here on the next request, not when the snapshot expires."""

    def check(self, *, key_hash: str, rate_key: str | None, rate_seconds: int) -> GateAnswer:
        snapshot = django_cache.get(self._snapshot_key(key_hash))
        touch_due = django_cache.add(_touch_key(key_hash), 1, timeout=TOUCH_SECONDS)
        count = cache_count(django_cache, rate_key, rate_seconds) if rate_key else None
        return GateAnswer(snapshot=json.loads(snapshot) if snapshot else None, count=count, touch_due=touch_due)

    def remember(self, *, key_hash: str, snapshot: dict) -> None:
        django_cache.set(
            self._snapshot_key(key_hash), json.dumps(snapshot, cls=DjangoJSONEncoder), timeout=SNAPSHOT_SECONDS
        )

    def forget(self, key_hashes: list[str]) -> None:
        django_cache.delete_many([self._snapshot_key(key_hash) for key_hash in key_hashes])
        revocation_stamp_bump()

    @staticmethod
    def _snapshot_key(key_hash: str) -> str:
        return f"{_snapshot_key(key_hash)}:{revocation_stamp()}"


@cache
def _redis_gate(url: str) -> RedisGate:
    return RedisGate(url)


def get_gate() -> RedisGate | CacheGate:
    """The gate for the configured cache; Redis clients are made once per process (they pool connections)."""
    return _redis_gate(settings.REDIS_URL) if settings.REDIS_URL else CacheGate()
