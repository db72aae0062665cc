"""The domain's errors. No DRF imports: services raise these, each dialect renders them."""


class DomainError(Exception):
    """A broken rule whose message is safe to show to the API caller.

    A subclass names its error kind and HTTP status in its header:
    `class NotFound(DomainError, kind="NotFound", status=404)`; a subclass naming neither keeps its parent's.
    """

    kind, status = "BadRequest", 400

    def __init_subclass__(cls, *, kind: str | None = None, status: int | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.kind, cls.status = kind or cls.kind, status or cls.status

    def __init__(self, message: str, *, details: dict | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message, self.details = message, details or {}
        self.retry_after = retry_after  # seconds, sent as Retry-After: when trying again may succeed


class InvalidInput(DomainError, kind="ValidationError", status=422):
    """Input of the right shape whose value breaks a rule (an unknown company, a bad page number)."""


class InvalidMedia(DomainError, kind="InvalidMedia", status=400):
    """Media that is not what it must be: not base64, not an image of an accepted format, truncated."""


class MediaTooLarge(DomainError, kind="PayloadTooLarge", status=413):
    """A body or media file over the size limit."""


class NotFound(DomainError, kind="NotFound", status=404):
    """Missing, or another workspace's: the two look the same."""


class NotEnoughCredits(DomainError, kind="PaymentRequired", status=402):
    """The workspace's balance does not cover the work."""


class PlanLimitReached(DomainError, kind="Forbidden", status=403):
    """The workspace's plan allows no more of something (persons)."""


class LikenessWithoutConsent(DomainError, kind="Forbidden", status=403):
    """A face or voice used without the consent the workspace's policy requires, or after it was revoked."""


class ReadOnlyPerson(DomainError, kind="Forbidden", status=403):
    """The demo person: every workspace shares its shape, so nobody may change or delete it."""


class Conflict(DomainError, kind="Conflict", status=409):
    """The request is fine but the resource's state forbids it now (a training already running)."""


class ProviderNotConfigured(DomainError, kind="ServiceUnavailable", status=503):
    """The work needs an external provider this installation has no key for."""


class ProviderUnavailable(DomainError, kind="ServiceUnavailable", status=503):
    """An external provider failed a call that must succeed before anything changes here; try again."""
