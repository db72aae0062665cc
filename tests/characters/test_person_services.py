import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import Company
from characters.models import Person
from characters.services import persons as person_services
from characters.services.demo import DEMO_COMPANY_NAME, DEMO_PERSON_NAME, demo_person_ensure
from characters.services.photos import photo_from_bytes
from persona_platform.errors import PlanLimitReached, ReadOnlyPerson
from tests import factories
from tests.helpers import stored_files

pytestmark = pytest.mark.django_db


def test_a_failed_save_leaves_no_photo_file(workspace, media_root, monkeypatch):
    before = stored_files(media_root)

    def failing_save(instance):
        raise IntegrityError("disk full")

    monkeypatch.setattr(person_services, "_full_clean_and_save", failing_save)

    with pytest.raises(IntegrityError):
        person_services.person_create(
            workspace=workspace,
            owner=workspace.owner,
            name="X",
            photo=photo_from_bytes(factories.image_bytes(portrait=True)),
        )

    assert stored_files(media_root) == before
    assert not Person.objects.filter(name="X").exists()


def test_a_failed_update_keeps_the_old_photo_and_deletes_the_new_one(workspace, media_root, monkeypatch):
    person = factories.person_create(workspace=workspace)
    before = stored_files(media_root)
    monkeypatch.setattr(person_services, "_full_clean_and_save", lambda instance: (_ for _ in ()).throw(OSError()))

    with pytest.raises(OSError):
        person_services.person_update(person=person, photo=photo_from_bytes(factories.image_bytes(portrait=True)))

    assert stored_files(media_root) == before
    person.refresh_from_db()
    assert person.photo.name in before


def test_the_plan_limit_ignores_the_demo_person(workspace):
    workspace.plan = "free"
    for _ in range(5):
        factories.person_create(workspace=workspace, with_photo=False)

    with pytest.raises(PlanLimitReached):
        factories.person_create(workspace=workspace, with_photo=False)


def test_the_demo_person_cannot_be_changed_through_the_services(workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    with pytest.raises(ReadOnlyPerson):
        person_services.person_update(person=demo, name="x")
    with pytest.raises(ReadOnlyPerson):
        person_services.person_delete(person=demo)


def test_every_workspace_gets_one_fictional_demo_person_with_a_photo(workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    assert demo.name == DEMO_PERSON_NAME and demo.company.name == DEMO_COMPANY_NAME
    assert demo.owner == workspace.owner
    assert demo.photo.name.endswith(".jpg") and demo.photo.size > 10_000


def test_demo_seeding_is_idempotent(workspace, other_workspace):
    demo = demo_person_ensure(workspace=workspace)
    call_command("seed", stdout=io.StringIO())
    call_command("seed", stdout=io.StringIO())

    assert demo_person_ensure(workspace=workspace) == demo
    assert Person.objects.filter(is_demo=True).count() == 2
    assert Company.objects.filter(workspace=workspace, name=DEMO_COMPANY_NAME).count() == 1


def test_seed_restores_a_demo_person_deleted_by_staff(workspace):
    Person.objects.filter(workspace=workspace, is_demo=True).delete()
    out = io.StringIO()

    call_command("seed", stdout=out)

    assert Person.objects.filter(workspace=workspace, is_demo=True).count() == 1
    assert "1 created" in out.getvalue()


def test_the_database_allows_one_demo_person_per_workspace(workspace):
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(workspace=workspace, owner=workspace.owner, name="Second demo", is_demo=True)
