"""API keys in any of the contract's three headers.

A mistyped key is refused by its checksum with no I/O. A well-formed key costs one cache round trip
(identity, rate count and last-use in one, see persona_platform.api.gate); the database is read only
when the cache has no snapshot of the key.
"""

import logging

from rest_framework import authentication, exceptions

from accounts.key_snapshots import api_key_from_snapshot, api_key_snapshot
from accounts.keys import key_hash, key_is_well_formed
from accounts.selectors import api_key_by_hash
from accounts.services import api_key_touch
from persona_platform.api.gate import GateAnswer, get_gate
from persona_platform.api.throttling import fallback_count, rate_window

logger = logging.getLogger(__name__)

INVALID_KEY = "Invalid or revoked API key."


def raw_key_from_headers(meta: dict) -> str | None:
    """`x-api-key: <key>`, `Authorization: Bearer <key>` or a bare `Authorization: <key>`."""
    if key := meta.get("HTTP_X_API_KEY", "").strip():
        return key
    header = meta.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip() or None
    return header


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Sets request.user to the key's user, request.auth to the ApiKey (which carries the workspace)
    and request.rate_count for the throttle."""

    def authenticate(self, request):
        raw = raw_key_from_headers(request.META)
        if raw is None:
            return None
        if not key_is_well_formed(raw):
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        hashed = key_hash(raw)
        window = rate_window(hashed)
        gate = get_gate()
        try:
            answer = gate.check(
                key_hash=hashed,
                rate_key=window.cache_key if window else None,
                rate_seconds=window.seconds if window else 0,
            )
        except Exception as exc:  # the cache is down: serve from the database, still throttled, and say so
            logger.warning("API gate unavailable, authenticating from the database: %s", exc)
            count = fallback_count(window) if window else None
            answer, gate = GateAnswer(snapshot=None, count=count, touch_due=True), None

        if answer.snapshot is not None:
            api_key = api_key_from_snapshot(answer.snapshot)
        else:
            api_key = api_key_by_hash(key_hash=hashed)
            if api_key is None:
                raise exceptions.AuthenticationFailed(INVALID_KEY)
            if gate is not None:
                gate.remember(key_hash=hashed, snapshot=api_key_snapshot(api_key))
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("The key's user is deactivated.")
        if answer.touch_due:
            api_key_touch(api_key=api_key)
        if window is not None and answer.count is not None:
            request.rate_count = (answer.count, window)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        # Without this DRF answers a missing key with 403; the contract wants 401.
        return 'Bearer realm="api"'
