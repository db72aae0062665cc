"""Log lines that say which request or job wrote them.

The request id, the workspace, the route and the job being run are kept in a context variable while a
request (persona_platform.middleware.RequestIdMiddleware) or a job (persona_platform.celery) is handled;
`ContextFilter` copies them onto every record, whichever logger wrote it, so a line can be traced back to
the request or job without each call passing them. `LOG_FORMAT` picks the formatter: one JSON object
per line for log collectors, or text for people.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime

# What a line can be traced by; each is None where not known (a line written outside any request or job).
CONTEXT_FIELDS = ("request_id", "workspace_id", "route", "status", "job_id")
# Fields a caller may add with `extra=` that the JSON line carries too (the access log's duration).
EXTRA_FIELDS = ("method", "duration_ms")

_context: ContextVar[dict] = ContextVar("log_context", default={})  # noqa: B039  (never mutated: bind() copies)

# A client's own id is kept when it is 1 to 200 visible ASCII characters: anything else (spaces, control
# characters, non-ASCII) could forge or break log lines, so a fresh one replaces it.
REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")
REQUEST_ID_HEADER = "X-Request-ID"


def request_id_from(value: str | None) -> str:
    """The client's `X-Request-ID` when it is well formed, else a new one (32 hex digits)."""
    if value and REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return uuid.uuid4().hex


def bind(**fields) -> Token:
    """Add fields to the current context; `unbind(token)` restores the one before."""
    return _context.set({**_context.get(), **fields})


def unbind(token: Token) -> None:
    _context.reset(token)


def current(name: str):
    """One field of the current context, or None."""
    return _context.get().get(name)


class ContextFilter(logging.Filter):
    """Sets the context fields on every record (a field passed with `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context fields and,
    for an exception, its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message [request_id=… job_id=…]`: the known context fields, at the end."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        known = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None)]
        if not known:
            return text
        head, newline, rest = text.partition("\n")  # a traceback stays below the line
        return f"{head} [{' '.join(known)}]{newline}{rest}"
