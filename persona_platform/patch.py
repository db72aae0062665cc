"""PATCH for services: a keyword argument left at UNSET was not sent, so its field keeps its value."""

from typing import Any

UNSET: Any = object()


def apply_sent(instance: object, **values: Any) -> list[str]:
    """Set on `instance` each value that was sent (not UNSET); the names of the attributes set."""
    sent = {name: value for name, value in values.items() if value is not UNSET}
    for name, value in sent.items():
        setattr(instance, name, value)
    return list(sent)
