"""What a generated file's C2PA manifest says about the persona it shows or speaks as (media_jobs.provenance)."""

from characters.models import Person
from characters.services.consent_policy import consent_state
from media_jobs.provenance import ProvenanceClaim


def provenance_claim(
    *, person: Person | None, engine: str, likeness: tuple[str, ...], audio_origin: str = ""
) -> ProvenanceClaim:
    """The persona (id and name only) and the consent state of each likeness used (`voice`, `face`) as the file
    is made: an output made before a revocation keeps saying what held when it was made."""
    return ProvenanceClaim(
        persona_id=person.pk if person is not None else None,
        persona_name=person.name if person is not None else "",
        engine=engine,
        consent={kind: consent_state(person=person, kind=kind) for kind in likeness},
        audio_origin=audio_origin,
    )
