"""What a likeness may be used for, by the state of its consents and the workspace's policy.

Under `record` everything goes ahead and outputs say whether consent was verified; under `enforce` a
face or voice without a verified consent is refused. A revoked consent refuses its likeness under
either policy: revoking is an explicit no. The services that clone, train or generate call
`likeness_require_consent` before they queue anything.
"""

from accounts.models import ConsentPolicy, Workspace
from characters.models import Consent, Person, Voice
from persona_platform.errors import LikenessWithoutConsent

VERIFIED, UNVERIFIED, REVOKED = "verified", "unverified", "revoked"
VOICE, FACE = Consent.Kind.VOICE.value, Consent.Kind.FACE.value
CONSENTS_ROUTE = "/api/v1/consents"
HOW_TO_CONSENT = (
    f"Record it with POST {CONSENTS_ROUTE} (person_id, kind) and upload the recording to "
    f"POST {CONSENTS_ROUTE}/{{id}}/evidence."
)


def consent_state(*, person: Person | None, kind: str) -> str:
    """`verified` while a verified consent covers `kind` (`voice` or `face`), `revoked` when the last one
    that did was revoked, else `unverified`: what an output's provenance records at generation time."""
    if person is None:
        return UNVERIFIED
    statuses = {c.status for c in person.consents.all() if c.covers(kind)}
    if Consent.Status.VERIFIED in statuses:
        return VERIFIED
    return REVOKED if Consent.Status.REVOKED in statuses else UNVERIFIED


def likeness_require_consent(*, workspace: Workspace, person: Person | None, kinds: tuple[str, ...], what: str) -> None:
    """Refuse (403) using a likeness whose consent was revoked, and, under the `enforce` policy, one
    without a verified consent. `what` names the refused action for the message."""
    enforce = workspace.consent_policy == ConsentPolicy.ENFORCE
    for kind in kinds:
        state = consent_state(person=person, kind=kind)
        if state == VERIFIED or (state == UNVERIFIED and not enforce):
            continue
        who = f"{person.name} (person {person.pk})" if person is not None else "a voice without a person"
        why = "was revoked" if state == REVOKED else "has not been verified"
        raise LikenessWithoutConsent(f"{what}: consent to use the {kind} of {who} {why}. {HOW_TO_CONSENT}")


def speech_require_consent(*, workspace: Workspace, voice: Voice | None, what: str) -> None:
    """Speaking with a clone uses its person's voice (a library clone, made without a person, is nobody's
    that can consent); the built-in voice, an unsaved row, is no one's."""
    if voice is not None and voice.pk is not None:
        person = voice.person if voice.person_id else None
        likeness_require_consent(workspace=workspace, person=person, kinds=(VOICE,), what=what)


def new_likeness_require_policy(*, workspace: Workspace, what: str) -> None:
    """Under `enforce`, a persona made from a face in the same request (a TwinTone replica, a character
    created with reference images) cannot have consented yet: it is made through the persons route first."""
    if workspace.consent_policy == ConsentPolicy.ENFORCE:
        raise LikenessWithoutConsent(
            f"{what}: this workspace requires verified consent before a face is used. Create the persona "
            f"with POST /api/v1/persons, verify its consent (kind `face`), then use its id. {HOW_TO_CONSENT}"
        )
