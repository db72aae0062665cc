"""API keys in any of the contract's three headers."""

from rest_framework import authentication, exceptions

from accounts.selectors import api_key_for_raw_key
from accounts.services import api_key_touch


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
    """Sets request.user to the key's user and request.auth to the ApiKey (which carries the workspace)."""

    def authenticate(self, request):
        raw = raw_key_from_headers(request.META)
        if raw is None:
            return None
        api_key = api_key_for_raw_key(raw_key=raw)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("The key's user is deactivated.")
        api_key_touch(api_key=api_key)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        # Without this DRF answers a missing key with 403; the contract wants 401.
        return 'Bearer realm="api"'
