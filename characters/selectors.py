import re

from django.db.models import QuerySet

from accounts.models import Workspace
from characters.models import Consent, Person, SpeakingProfile, Voice
from persona_platform.api.converters import body_reference
from persona_platform.errors import Conflict, NotFound
from persona_platform.ids import CHARACTER_ID_REGEX, character_public_id, character_ulid


def person_list(
    *, workspace: Workspace, has_voice: bool | None = None, company_id: int | None = None
) -> QuerySet[Person]:
    persons = Person.objects.filter(workspace=workspace).select_related("voice")
    if has_voice is not None:
        persons = persons.filter(voice__isnull=not has_voice)
    if company_id is not None:
        persons = persons.filter(company_id=company_id)
    return persons


def person_get(*, workspace: Workspace, person_id: int) -> Person:
    """Another workspace's person is reported exactly like a missing one."""
    person = Person.objects.select_related("voice").filter(workspace=workspace, pk=person_id).first()
    if person is None:
        raise NotFound(f"Person {person_id} not found.")
    return person


def person_get_by_ulid(*, workspace: Workspace, ulid: str) -> Person:
    """A character (`char_<ulid>`); another workspace's is reported exactly like a missing one."""
    person = Person.objects.select_related("voice").filter(workspace=workspace, ulid=ulid).first()
    if person is None:
        raise NotFound(f"Character {character_public_id(ulid)} not found.")
    return person


def person_own_default(*, workspace: Workspace) -> Person | None:
    """The persona calls that name none act on: the one marked default, else the workspace's first
    own persona; None before the workspace has made one (the demo person is never the default)."""
    return (
        Person.objects.select_related("voice")
        .filter(workspace=workspace, is_demo=False)
        .order_by("-is_default", "created_at", "id")
        .first()
    )


def person_default(*, workspace: Workspace) -> Person:
    """The workspace's default persona, for calls that change it and cannot make one (a profile video):
    before there is one the request is fine but premature, a 409 saying what to create."""
    person = person_own_default(workspace=workspace)
    if person is None:
        raise Conflict(
            "This workspace has no persona yet: create one first (POST /persona/api/instance), "
            "or name one with instance_id."
        )
    return person


def person_speaking_default(*, workspace: Workspace) -> Person:
    """Who answers for the workspace (chat, suggested prompts): its default persona, else the demo
    person every workspace starts with, so a new workspace can talk at once."""
    person = person_own_default(workspace=workspace)
    if person is None:
        person = Person.objects.select_related("voice").filter(workspace=workspace, is_demo=True).first()
    if person is None:
        raise Conflict("This workspace has no persona: create one first (POST /persona/api/instance).")
    return person


def person_in_body(*, workspace: Workspace, raw_id: str, field: str, noun: str) -> Person:
    """The persona a request body names by string id (TwinTone's `replica_id`, BHuman's `instance_id`):
    one the caller cannot see is a 404 naming the field."""
    return body_reference(
        raw_id, field=field, noun=noun, lookup=lambda pk: person_get(workspace=workspace, person_id=pk)
    )


def person_instance(*, workspace: Workspace, instance_id: str | None) -> Person:
    """The persona a BHuman call names with `instance_id`, else the workspace's default one (409 before
    it has one)."""
    if instance_id is None:
        return person_default(workspace=workspace)
    return person_in_body(workspace=workspace, raw_id=instance_id, field="instance_id", noun="instance")


def person_instance_or_none(*, workspace: Workspace, instance_id: str | None) -> Person | None:
    """For BHuman reads: the named persona, else the default one, else None (a new workspace's lists
    are empty, not an error)."""
    if instance_id is None:
        return person_own_default(workspace=workspace)
    return person_instance(workspace=workspace, instance_id=instance_id)


def person_speaking_instance(*, workspace: Workspace, instance_id: str | None) -> Person:
    """For BHuman chat and prompts: the named persona, else whoever answers for the workspace."""
    if instance_id is None:
        return person_speaking_default(workspace=workspace)
    return person_instance(workspace=workspace, instance_id=instance_id)


def speaking_profile_list(*, workspace: Workspace) -> QuerySet[SpeakingProfile]:
    return SpeakingProfile.objects.filter(workspace=workspace)


def speaking_profile_get(*, workspace: Workspace, profile_id: int) -> SpeakingProfile:
    profile = SpeakingProfile.objects.filter(workspace=workspace, pk=profile_id).first()
    if profile is None:
        raise NotFound(f"Persona {profile_id} not found.")
    return profile


def speaking_profile_in_body(*, workspace: Workspace, raw_id: str, field: str = "persona_id") -> SpeakingProfile:
    """The speaking profile a request body names by string id (TwinTone's `persona_id`): one the caller
    cannot see is a 404 naming the field."""
    return body_reference(
        raw_id, field=field, noun="persona", lookup=lambda pk: speaking_profile_get(workspace=workspace, profile_id=pk)
    )


def voice_get(*, workspace: Workspace, voice_id: int) -> Voice:
    voice = Voice.objects.filter(workspace=workspace, pk=voice_id).first()
    if voice is None:
        raise NotFound(f"Voice {voice_id} not found.")
    return voice


def person_by_any_id(*, workspace: Workspace, raw_id: int | str, field: str = "person_id") -> Person:
    """The persona any dialect's id names: an integer (twin.actor, TwinTone, BHuman) or `char_<ulid>`
    (influgen). Another workspace's is a 404 naming the field, like an unknown one."""
    if isinstance(raw_id, str) and re.fullmatch(CHARACTER_ID_REGEX, raw_id):
        person = Person.objects.filter(workspace=workspace, ulid=character_ulid(raw_id)).first()
        if person is None:
            raise NotFound(f"{field}: no persona with id {raw_id!r}.")
        return person
    return person_in_body(workspace=workspace, raw_id=str(raw_id), field=field, noun="persona")


def consent_get(*, workspace: Workspace, consent_id: int) -> Consent:
    consent = Consent.objects.select_related("person").filter(workspace=workspace, pk=consent_id).first()
    if consent is None:
        raise NotFound(f"Consent {consent_id} not found.")
    return consent


def consent_list(*, person: Person, status: str | None = None) -> QuerySet[Consent]:
    consents = person.consents.select_related("person")
    return consents.filter(status=status) if status else consents
