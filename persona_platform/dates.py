"""How every dialect and the webhooks write a moment: ISO 8601 in UTC with a `Z`."""

from datetime import UTC, datetime


def iso_utc(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it in UTC (`2024-05-01T12:00:00.123456Z`); None stays None.

    Stored datetimes are aware (USE_TZ), so converting to UTC is all that is needed.
    """
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
