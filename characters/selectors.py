from django.db.models import QuerySet

from accounts.models import Workspace
from characters.models import Person, SpeakingProfile
from persona_platform.errors import NotFound


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


def speaking_profile_list(*, workspace: Workspace) -> QuerySet[SpeakingProfile]:
    return SpeakingProfile.objects.filter(workspace=workspace)


def speaking_profile_get(*, workspace: Workspace, profile_id: int) -> SpeakingProfile:
    profile = SpeakingProfile.objects.filter(workspace=workspace, pk=profile_id).first()
    if profile is None:
        raise NotFound(f"Persona {profile_id} not found.")
    return profile
