"""The platform's own routes under `/api/v1` (what no vendor document covers: the webhook secret): the
`/api/v1` error envelope, as influgen's routes beside them answer."""

from persona_platform.api.dialects.base import Dialect, DialectView, vendor_error

PLATFORM = Dialect(name="platform", tag="Platform", error_body=vendor_error)


class PlatformView(DialectView):
    dialect = PLATFORM
