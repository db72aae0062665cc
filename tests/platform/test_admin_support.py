"""The Support group: demo persons, jobs, retry and cancel; no credit grants, no API keys, no user changes."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse

from accounts.models import User
from accounts.webhook_secrets import webhook_secret
from characters.admin import PersonAdminForm
from characters.models import Person
from media_jobs.models import MediaJob
from tests import factories

pytestmark = pytest.mark.django_db

SUPPORT_PERMISSIONS = {
    "accounts.view_company", "accounts.view_user", "accounts.view_workspace",
    "characters.change_person", "characters.view_loramodel", "characters.view_person", "characters.view_profilevideo",
    "characters.view_referenceimage", "characters.view_speakingprofile", "characters.view_voice",
    "media_jobs.change_mediajob", "media_jobs.view_mediajob", "media_jobs.view_webhookattempt",
    "media_jobs.view_webhookdelivery",
}  # fmt: skip
INLINES = ["voice_clones", "reference_images", "lora", "profile_videos"]
support_group_migration = importlib.import_module("accounts.migrations.0003_support_group")


@pytest.fixture(autouse=True)
def support_group(db):
    """The group the migration made; made again by the same code where a transactional test has flushed it."""
    if not Group.objects.filter(name="Support").exists():
        support_group_migration.create_support_group(apps, SimpleNamespace(connection=connection))
    return Group.objects.get(name="Support")


def staff_user(email: str, *groups: str) -> User:
    user = User.objects.create_user(email=email, password="x", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def support_client(client, db):
    client.force_login(staff_user("support@example.com", "Support"))
    return client


@pytest.fixture
def demo_person(workspace):
    return Person.objects.get(workspace=workspace, is_demo=True)


def person_form(person: Person, **changes) -> dict:
    data = {"workspace": person.workspace_id, "owner": person.owner_id, "name": person.name,
            "description": person.description, "niche": person.niche}  # fmt: skip
    for prefix in INLINES:
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    return {**data, **changes}


def test_the_support_group_has_exactly_what_support_needs():
    group = Group.objects.get(name="Support")
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}

    assert granted == SUPPORT_PERMISSIONS
    assert not any(name.endswith(("_creditentry", "_apikey")) for name in granted)


@pytest.mark.parametrize(
    "url_name, args",
    [
        ("admin:index", []),
        ("admin:characters_person_changelist", []),
        ("admin:characters_person_change", ["demo"]),
        ("admin:media_jobs_mediajob_changelist", []),
        ("admin:media_jobs_mediajob_change", ["job"]),
        ("admin:media_jobs_webhookdelivery_changelist", []),
        ("admin:characters_voice_changelist", []),
        ("admin:accounts_workspace_change", ["workspace"]),
    ],
)
def test_support_opens_the_pages_it_needs(support_client, workspace, demo_person, url_name, args):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed")
    ids = {"demo": demo_person.pk, "job": job.pk, "workspace": workspace.pk}

    assert support_client.get(reverse(url_name, args=[ids[arg] for arg in args])).status_code == 200


@pytest.mark.parametrize(
    "url_name, args",
    [
        ("admin:accounts_creditentry_add", []),
        ("admin:accounts_creditentry_changelist", []),
        ("admin:accounts_apikey_changelist", []),
        ("admin:accounts_apikey_add", []),
        ("admin:accounts_user_add", []),
        ("admin:accounts_workspace_add", []),
        ("admin:characters_person_add", []),
        ("admin:auth_group_changelist", []),
        ("admin:accounts_workspace_webhook_secret_rotate", ["workspace"]),
    ],
)
def test_support_is_refused_credits_keys_users_and_secrets(support_client, workspace, url_name, args):
    ids = {"workspace": workspace.pk}

    assert support_client.get(reverse(url_name, args=[ids[arg] for arg in args])).status_code == 403


def test_support_cannot_rotate_the_webhook_secret_by_post_either(support_client, workspace):
    before = webhook_secret(workspace_id=workspace.pk)
    url = reverse("admin:accounts_workspace_webhook_secret_rotate", args=[workspace.pk])

    assert support_client.post(url).status_code == 403
    assert webhook_secret(workspace_id=workspace.pk) == before


def test_support_sees_the_workspace_without_its_keys_or_secret(support_client, workspace, api_key):
    url = reverse("admin:accounts_workspace_change", args=[workspace.pk])
    html = support_client.get(url, {"reveal_secret": "1"}).content.decode()

    assert webhook_secret(workspace_id=workspace.pk) not in html
    assert api_key.prefix not in html and 'id="webhook-secret-rotate"' not in html


def test_support_retries_and_cancels_jobs(support_client, workspace):
    failed = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed")
    queued = MediaJob.objects.create(workspace=workspace, kind="speech", status="queued")

    page = support_client.get(reverse("admin:media_jobs_mediajob_change", args=[failed.pk])).content.decode()
    support_client.post(reverse("admin:media_jobs_mediajob_retry", args=[failed.pk]))
    support_client.post(reverse("admin:media_jobs_mediajob_cancel", args=[queued.pk]))

    assert 'id="job-retry"' in page
    failed.refresh_from_db()
    queued.refresh_from_db()
    assert (failed.status, queued.status) == ("queued", "canceled")


def test_staff_outside_support_cannot_retry_jobs(client, workspace):
    viewer = staff_user("viewer@example.com")
    viewer.user_permissions.add(*Group.objects.get(name="Support").permissions.filter(codename="view_mediajob"))
    client.force_login(viewer)
    job = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed")

    page = client.get(reverse("admin:media_jobs_mediajob_change", args=[job.pk])).content.decode()

    assert 'id="job-retry"' not in page
    assert client.post(reverse("admin:media_jobs_mediajob_retry", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == "failed"


def test_support_edits_the_demo_person(support_client, demo_person):
    response = support_client.post(
        reverse("admin:characters_person_change", args=[demo_person.pk]),
        person_form(demo_person, description="Updated by support", is_demo="on"),
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    demo_person.refresh_from_db()
    assert demo_person.description == "Updated by support" and demo_person.is_demo


def test_support_may_unset_and_set_the_demo_flag_on_the_demo_person(support_client, demo_person):
    url = reverse("admin:characters_person_change", args=[demo_person.pk])

    support_client.post(url, person_form(demo_person))
    demo_person.refresh_from_db()
    unset = demo_person.is_demo
    support_client.post(url, person_form(demo_person, is_demo="on"))
    demo_person.refresh_from_db()

    assert (unset, demo_person.is_demo) == (False, True)


def test_the_demo_flag_cannot_be_set_on_another_person(support_client, workspace, demo_person):
    person = factories.person_create(workspace=workspace)
    url = reverse("admin:characters_person_change", args=[person.pk])

    page = support_client.get(url).content.decode()
    support_client.post(url, person_form(person, is_demo="on"))

    assert 'name="is_demo"' not in page  # read-only: the workspace has its demo person
    person.refresh_from_db()
    assert person.is_demo is False


def test_the_form_refuses_a_second_demo_person(workspace, demo_person):
    person = factories.person_create(workspace=workspace)
    form = PersonAdminForm(data=person_form(person, is_demo="on"), instance=person)

    assert not form.is_valid()
    assert form.errors["is_demo"] == [
        f"Only the workspace's demo person can be marked demo: it is #{demo_person.pk} {demo_person.name}."
    ]


def test_staff_outside_support_see_the_demo_flag_read_only(client, demo_person):
    editor = staff_user("editor@example.com")
    editor.user_permissions.add(*Group.objects.get(name="Support").permissions.filter(codename__endswith="_person"))
    client.force_login(editor)
    url = reverse("admin:characters_person_change", args=[demo_person.pk])

    page = client.get(url).content.decode()
    client.post(url, person_form(demo_person))

    assert 'name="is_demo"' not in page
    demo_person.refresh_from_db()
    assert demo_person.is_demo is True


def test_superusers_may_set_the_demo_flag(client, demo_person):
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x"))

    page = client.get(reverse("admin:characters_person_change", args=[demo_person.pk])).content.decode()

    assert 'name="is_demo"' in page
