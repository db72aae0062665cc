"""Per-key rate limiting in fixed windows, counted in the shared cache (Redis when configured).

The count is taken by authentication, in the same cache round trip that fetches the key's
identity (see persona_platform.api.gate); this throttle only compares it with the limit.
Counting is atomic (INCR on Redis, a lock in the local cache), so concurrent processes never
undercount, unlike DRF's read-modify-write history throttles.
"""

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# When the shared cache is down, each process counts on its own: N processes let through at most N times
# the limit, instead of no limit at all.
_fallback_counts = LocMemCache("persona-rate-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_fallback_warned_at = 0.0

DURATIONS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' → (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), DURATIONS[period.strip().lower()]


@dataclass(frozen=True)
class RateWindow:
    limit: int
    seconds: int
    cache_key: str
    ends_at: float


def rate_window(key_hash: str) -> RateWindow | None:
    """The fixed window the current request falls in, or None when rate limiting is off."""
    if not settings.API_RATE_LIMIT:
        return None
    limit, seconds = parse_rate(settings.API_RATE_LIMIT)
    window = int(time.time() // seconds)
    return RateWindow(limit, seconds, f"ratelimit:{key_hash[:32]}:{seconds}:{window}", (window + 1) * seconds)


def cache_count(cache, key: str, seconds: int) -> int:
    """One more request in a window counted in a Django cache (add and incr are atomic in it)."""
    cache.add(key, 0, timeout=seconds + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds + 1)
        return 1


def fallback_count(window: RateWindow) -> int:
    """This request's count in its window, counted in this process only (the shared cache is down)."""
    global _fallback_warned_at
    if time.monotonic() - _fallback_warned_at > 60:
        _fallback_warned_at = time.monotonic()
        logger.warning("rate limiting on the per-process fallback: the shared cache is unreachable")
    return cache_count(_fallback_counts, window.cache_key, window.seconds)


POLICY_NAME = "default"


def rate_limit_headers(count: int, window: RateWindow) -> dict[str, str]:
    """The IETF `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) for a
    request counted `count` in `window`: the quota and window length, then what is left of it and the
    seconds until it resets."""
    remaining = max(window.limit - count, 0)
    reset = max(math.ceil(window.ends_at - time.time()), 0)
    return {
        "RateLimit-Policy": f'"{POLICY_NAME}";q={window.limit};w={window.seconds}',
        "RateLimit": f'"{POLICY_NAME}";r={remaining};t={reset}',
    }


class ApiKeyRateThrottle(BaseThrottle):
    """`API_RATE_LIMIT` requests per key per window; 429 with Retry-After beyond it."""

    def allow_request(self, request, view) -> bool:
        counted = getattr(request, "rate_count", None)
        if counted is None:
            return True  # not authenticated (a 401 follows), limiting off, or the cache was unreachable
        count, window = counted
        self.wait_seconds = window.ends_at - time.time()
        return count <= window.limit

    def wait(self) -> float | None:
        return getattr(self, "wait_seconds", None)
