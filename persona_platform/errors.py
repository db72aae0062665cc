"""The domain's errors. No DRF imports: services raise these, each dialect renders them."""


class DomainError(Exception):
    """A broken rule whose message is safe to show to the API caller."""

    kind, status = "BadRequest", 400

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message, self.details = message, details or {}


class InvalidInput(DomainError):
    """Input of the right shape whose value breaks a rule (an unknown company, a bad page number)."""

    kind, status = "ValidationError", 422


class InvalidMedia(DomainError):
    """Media that is not what it must be: not base64, not an image of an accepted format, truncated."""

    kind, status = "InvalidMedia", 400


class MediaTooLarge(DomainError):
    kind, status = "PayloadTooLarge", 413


class NotFound(DomainError):
    kind, status = "NotFound", 404


class NotEnoughCredits(DomainError):
    kind, status = "PaymentRequired", 402


class PlanLimitReached(DomainError):
    kind, status = "Forbidden", 403


class ReadOnlyPerson(DomainError):
    """The demo person: every workspace shares its shape, so nobody may change or delete it."""

    kind, status = "Forbidden", 403


class Conflict(DomainError):
    """The request is fine but the resource's state forbids it now (a training already running)."""

    kind, status = "Conflict", 409


class ProviderNotConfigured(DomainError):
    """The work needs an external provider this installation has no key for."""

    kind, status = "ServiceUnavailable", 503
