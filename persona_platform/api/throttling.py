"""Per-key rate limiting in fixed windows, counted in the shared cache (Redis when configured)."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

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


class ApiKeyRateThrottle(BaseThrottle):
    """`API_RATE_LIMIT` requests per key per window.

    `cache.add` then `cache.incr` is atomic on Redis (INCR) and on the local-memory cache (a lock),
    so concurrent processes never undercount, unlike DRF's read-modify-write history throttles.
    """

    def allow_request(self, request, view) -> bool:
        api_key = getattr(request, "auth", None)
        if api_key is None or not settings.API_RATE_LIMIT:
            return True
        limit, duration = parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // duration)
        key = f"ratelimit:{api_key.pk}:{duration}:{window}"
        cache.add(key, 0, timeout=duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=duration + 1)
            count = 1
        self.wait_seconds = (window + 1) * duration - now
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "wait_seconds", None)
