"""twin.actor's Persons API (`/api/v1/persons`): integer ids, 422 for a body of the wrong shape."""

from persona_platform.api.dialects.base import Dialect, DialectView, vendor_error

PERSONS = Dialect(name="persons", tag="Persons (twin.actor)", error_body=vendor_error)


class PersonsView(DialectView):
    dialect = PERSONS
