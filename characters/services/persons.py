"""Person rules shared by every dialect: plan capacity, photos, companies, the demo person."""

from django.db import transaction
from django.db.models import Model

from accounts.models import Company, User, Workspace
from accounts.plans import plan_limits
from characters.models import Person
from characters.selectors import person_instance, person_own_default
from characters.services.faces import portrait_face
from characters.services.photos import Photo
from persona_platform.errors import PlanLimitReached, ReadOnlyPerson
from persona_platform.media import delete_file_on_commit, guarded_files, random_name
from persona_platform.patch import UNSET, apply_sent

PHOTO_DIRECTORY = "persons/photos"


def person_require_capacity(*, workspace: Workspace) -> None:
    limits = plan_limits(workspace.plan)
    if limits.max_persons is None:
        return
    count = Person.objects.filter(workspace=workspace, is_demo=False).count()
    if count >= limits.max_persons:
        raise PlanLimitReached(
            f"The {workspace.plan} plan allows {limits.max_persons} persons and this workspace has {count}. "
            "Delete one or upgrade the plan."
        )


def person_require_editable(*, person: Person) -> None:
    if person.is_demo:
        raise ReadOnlyPerson(
            "The demo person is read-only: it cannot be changed or deleted. Create your own person instead."
        )


def _full_clean_and_save(instance: Model) -> None:
    # Foreign keys come from selectors already scoped to the workspace: skip their extra lookups.
    instance.full_clean(exclude=["photo", "workspace", "owner", "company", "voice"], validate_constraints=False)
    instance.save()


def person_create(
    *,
    workspace: Workspace,
    owner: User,
    name: str,
    description: str = "",
    photo: Photo | None = None,
    company: Company | None = None,
    is_demo: bool = False,
    face: dict | None = None,
) -> Person:
    """One person and its photo file, both or neither. The photo must show one face (`face`: its
    analysis, when the caller has it already)."""
    if photo is not None and not face:
        face = portrait_face(photo)
    with guarded_files() as files, transaction.atomic():
        if not is_demo:
            # Lock the workspace row so two concurrent creates cannot both take the last free place.
            Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
            person_require_capacity(workspace=workspace)
        person = Person(
            workspace=workspace,
            owner=owner,
            name=name,
            description=description,
            company=company,
            is_demo=is_demo,
            face=face or {},
        )
        if photo is not None:
            person.photo.name = files.save(random_name(PHOTO_DIRECTORY, photo.extension), photo.content)
        _full_clean_and_save(person)
    return person


def person_update(
    *,
    person: Person,
    name: str = UNSET,
    description: str = UNSET,
    photo: Photo | None = None,
    company: Company | None = UNSET,
) -> Person:
    """Change what is given; a new photo replaces the old file once the change has committed."""
    person_require_editable(person=person)
    face = portrait_face(photo) if photo is not None else None
    old_photo = person.photo.name
    with guarded_files() as files, transaction.atomic():
        apply_sent(person, name=name, description=description, company=company)
        if photo is not None:
            person.photo.name = files.save(random_name(PHOTO_DIRECTORY, photo.extension), photo.content)
            person.face = face
            delete_file_on_commit(old_photo)
        _full_clean_and_save(person)
    return person


@transaction.atomic
def person_delete(*, person: Person) -> None:
    """Delete the person and its voice clones; generated media (jobs and their files) is kept."""
    person_require_editable(person=person)
    person.delete()  # the photo file goes with the row: see characters.signals


@transaction.atomic
def instance_create(*, workspace: Workspace, owner: User, name: str, description: str, configuration: dict) -> Person:
    """A BHuman instance: a persona whose configuration is kept as its settings."""
    person = person_create(workspace=workspace, owner=owner, name=name, description=description)
    Person.objects.filter(pk=person.pk).update(settings=configuration)
    person.settings = configuration
    return person


def person_default_ensure(*, workspace: Workspace, owner: User) -> Person:
    """The workspace's default persona, made now (named after the workspace) when it has none: BHuman
    clients add a voice or knowledge before, or instead of, creating an instance. The workspace row is
    locked so two first calls at once make one persona, not two."""
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        person = person_own_default(workspace=workspace)
        if person is None:
            person = person_create(workspace=workspace, owner=owner, name=workspace.name[:200] or "My persona")
    return person


def instance_ensure(*, workspace: Workspace, owner: User, instance_id: str | None) -> Person:
    """The persona a BHuman call that adds something (a voice, knowledge) acts on: the one `instance_id`
    names, else the default one, made if need be."""
    if instance_id is None:
        return person_default_ensure(workspace=workspace, owner=owner)
    return person_instance(workspace=workspace, instance_id=instance_id)
