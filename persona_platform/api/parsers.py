"""Request bodies with bounds: JSON nesting and key counts are checked on the raw text, before parsing.

Python's json module recurses once per nesting level, so a body nested 100,000 deep raises
RecursionError (a 500) and a 5,000-deep `personality` reaches the database as is. The shape is
measured first, in one pass over the bytes, and refused with a 400 naming the limit.
"""

import io
import re

import numpy as np
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN, _CLOSE = np.frombuffer(b"[{", dtype=np.uint8), np.frombuffer(b"]}", dtype=np.uint8)


def json_shape(raw: bytes) -> tuple[int, int]:
    """(deepest nesting, number of object keys) of a JSON text, strings left out."""
    structure = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = np.isin(structure, _OPEN).astype(np.int32) - np.isin(structure, _CLOSE).astype(np.int32)
    depth = int(np.cumsum(steps).max()) if steps.size else 0
    return depth, int(np.count_nonzero(structure == ord(":")))


def check_json_shape(raw: bytes) -> None:
    depth, keys = json_shape(raw)
    if depth > settings.API_MAX_JSON_DEPTH:
        raise ParseError(f"JSON nested {depth} levels deep; at most {settings.API_MAX_JSON_DEPTH} are accepted.")
    if keys > settings.API_MAX_JSON_KEYS:
        raise ParseError(f"JSON with {keys} keys; at most {settings.API_MAX_JSON_KEYS} are accepted.")


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        check_json_shape(raw)
        return super().parse(io.BytesIO(raw), media_type, parser_context)
