"""What every provider adapter does with an HTTP answer it did not like: say what the provider
said, and never repeat the key it was sent (some providers echo it back in their errors)."""

import requests


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


def _validation_message(item) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", item))


def scrub(message: str, api_key: str) -> str:
    return message.replace(api_key, "[key]") if api_key else message
