"""Consent to use a person's likeness: challenge phrases, evidence, verification, revocation and the
workspace's policy (docs/CONSENT.md)."""

from characters.models import Consent, Person

VERIFIED, UNVERIFIED, REVOKED = "verified", "unverified", "revoked"


def consent_state(*, person: Person | None, kind: str) -> str:
    """`verified` while a verified consent covers `kind` (`voice` or `face`), `revoked` when the last one
    that did was revoked, else `unverified`: what an output's provenance records at generation time."""
    if person is None:
        return UNVERIFIED
    statuses = {c.status for c in person.consents.all() if c.covers(kind)}
    if Consent.Status.VERIFIED in statuses:
        return VERIFIED
    return REVOKED if Consent.Status.REVOKED in statuses else UNVERIFIED
