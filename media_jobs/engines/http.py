"""How every provider adapter speaks HTTP: one request, its timeouts, and what a failure means.

* Timeouts are explicit: connecting gets at most CONNECT_TIMEOUT seconds, reading the adapter's timeout (for a
  stream, the wait for each chunk, the first one included).
* One retry rule: timeouts, connection errors, 408, 409, 429 and every 5xx are retryable (EngineError.retryable;
  the job machinery retries them); every other answer is not. A provider's Retry-After is kept on the error
  (EngineError.retry_after) and said in its message.
* Errors say what was being done and what the provider said, in its own words (provider_detail), and never the
  key that was sent: some providers echo it back.
* Redirects are not followed: a redirect must not carry the key to another host.
* A key is read from settings at each call (required_key), so tests and deployments can change it at run time.
"""

import email.utils
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from media_jobs.engines.base import EngineError, EngineUnavailable

CONNECT_TIMEOUT = 10.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})  # besides every 5xx
MAX_MESSAGE = 500
MAX_DETAIL = 300


def required_key(setting: str, *, service: str) -> str:
    """The API key in settings.<setting>; EngineUnavailable while it is empty. Adapters check it first in every
    call: without a key the engine is unavailable, whatever the input."""
    api_key = str(getattr(settings, setting) or "")  # named by the adapter; the default lives in settings
    if not api_key:
        raise EngineUnavailable(f"{service} is not configured: {setting} is empty.")
    return api_key


def is_retryable(status: int) -> bool:
    """Whether an HTTP status is worth another try: the provider was busy, conflicted or broken, not refusing."""
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass(frozen=True)
class ProviderClient:
    """One provider as an adapter reaches it: built at call time from settings, so changes apply at once."""

    provider: str  # as messages name it: "fal", "ElevenLabs", "the language model"
    api_key: str
    key_setting: str  # the setting that holds the key, named when the provider refuses it
    auth_headers: Mapping[str, str] = field(default_factory=dict)  # how the key is sent
    timeout: float = 60.0  # seconds to wait for an answer (connecting gets at most CONNECT_TIMEOUT of it)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        authorize: bool = True,
        ok: Collection[int] = (),
        accept: str = "application/json",
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """The provider's 2xx answer (or one of the `ok` statuses); any other outcome raises EngineError.

        `what` starts every message ("Text to speech failed: ..."). `authorize=False` leaves the key out, for
        signed URLs. Other keyword arguments go to requests (json, data, files, params, stream).
        """
        sent = {"Accept": accept, **(headers or {}), **(self.auth_headers if authorize else {})}
        try:
            response = requests.request(
                method,
                url,
                headers=sent,
                timeout=(min(self.timeout, CONNECT_TIMEOUT), self.timeout),
                allow_redirects=False,
                **kwargs,
            )
        except requests.Timeout as exc:
            message = f"{what} timed out after {self.timeout:g} s waiting for {self.provider}."
            raise EngineError(self.scrub(message), retryable=True) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            message = f"{what} could not reach {self.provider} ({type(exc).__name__})."
            raise EngineError(self.scrub(message), retryable=True) from exc
        except requests.RequestException as exc:
            raise EngineError(self.scrub(f"{what} failed: {exc}")[:MAX_MESSAGE]) from exc
        if 200 <= response.status_code < 300 or response.status_code in ok:
            return response
        try:
            error = self.error(response, what=what)
        finally:
            response.close()  # a streamed answer holds its connection until closed
        raise error

    def error(self, response: requests.Response, *, what: str) -> EngineError:
        """The EngineError for an answer the adapter cannot use, in the provider's own words."""
        status = response.status_code
        detail = self.scrub(provider_detail(response))
        if len(detail) > MAX_DETAIL:
            detail = detail[:MAX_DETAIL].rstrip() + " …"
        message = f"{what} failed: {self.provider} answered {status}" + (f": {detail}" if detail else ".")
        if status == 401:
            message += f" ({self.key_setting} is wrong or revoked)"
        retryable = is_retryable(status)
        retry_after = retry_after_seconds(response.headers.get("Retry-After")) if retryable else None
        if retry_after is not None:
            message += f" (retry after {math.ceil(retry_after)} s)"
        return EngineError(message[:MAX_MESSAGE], retryable=retryable, retry_after=retry_after)

    def scrub(self, message: str) -> str:
        return scrub(message, self.api_key)


def json_object(response: requests.Response, *, provider: str) -> dict[str, Any]:
    """A JSON object answer; anything else is the provider's fault, so worth another try."""
    try:
        payload = response.json()
    except ValueError as exc:
        raise EngineError(f"The answer from {provider} is not JSON.", retryable=True) from exc
    if not isinstance(payload, dict):
        raise EngineError(f"The answer from {provider} is JSON of an unexpected shape.", retryable=True)
    return payload


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def provider_detail(response: requests.Response) -> str:
    """The provider's own words, whatever its error shape: OpenAI's {error: {message}}, a plain
    {message}, FastAPI's {detail} as a string, {status, message} or a list of {loc, msg}, or text."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if not isinstance(payload, dict):
        return str(payload)[:200]
    error = payload.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    detail = payload.get("detail", payload.get("message", payload))
    if isinstance(detail, dict):
        parts = [str(detail[key]) for key in ("status", "message") if detail.get(key)]
        return ": ".join(parts) if parts else str(detail)
    if isinstance(detail, list):
        return "; ".join(_validation_message(item) for item in detail)
    return str(detail)


def _validation_message(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", item))


def scrub(message: str, api_key: str) -> str:
    return message.replace(api_key, "[key]") if api_key else message
