"""influgen's API (`/api/v1/characters`, `/api/v1/influencers`, `/api/v1/voices`, ...): `char_<ulid>` ids."""

from persona_platform.api.dialects.base import Dialect, DialectView, vendor_error

INFLUGEN = Dialect(name="influgen", tag="influgen", error_body=vendor_error)


class InflugenView(DialectView):
    dialect = INFLUGEN
