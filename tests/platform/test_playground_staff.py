"""The playground for signed-in staff: the page offers a key of their own workspace instead of asking for one.

The key is made by a CSRF-checked POST that only a staff session may make; it then works like any API key, and
asking again revokes the one made before (a key lost with its tab stops working)."""

import re

import pytest
from django.test import Client

from accounts.models import ApiKey, User
from accounts.services import PLAYGROUND_KEY_NAME


def signed_in(user: User) -> tuple[Client, str]:
    """A browser signed in as `user` that has opened the playground: its client and the page's CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/playground/").content.decode()
    token = re.search(r'id="staff-key"[^>]*data-csrf="([^"]+)"', page)
    return client, token.group(1) if token else ""


@pytest.mark.django_db
def test_staff_get_a_key_of_their_own_workspace_and_a_new_one_revokes_the_last():
    staff = User.objects.create_user(email="operator@example.com", password="x", is_staff=True)
    client, csrf = signed_in(staff)
    assert csrf, "the page offers staff a key of their own workspace"

    made = client.post("/playground/key", headers={"X-CSRFToken": csrf})
    assert made.status_code == 200
    assert made["Cache-Control"] == "no-store"
    first = made.json()
    workspace = staff.owned_workspaces.get()
    assert first["workspace"] == workspace.name
    replicas = Client().get("/v1/replicas", headers={"Authorization": f"Bearer {first['key']}"})
    assert replicas.status_code == 200  # the demo person of the new workspace
    assert replicas.json()["replicas"]

    second = client.post("/playground/key", headers={"X-CSRFToken": csrf}).json()
    assert second["key"] != first["key"]
    assert Client().get("/v1/replicas", headers={"Authorization": f"Bearer {first['key']}"}).status_code == 401
    assert Client().get("/v1/replicas", headers={"Authorization": f"Bearer {second['key']}"}).status_code == 200
    keys = ApiKey.objects.filter(user=staff, name=PLAYGROUND_KEY_NAME)
    assert [key.is_active for key in keys.order_by("created_at")] == [False, True]


@pytest.mark.django_db
def test_only_a_staff_session_with_the_pages_csrf_token_gets_a_key():
    staff = User.objects.create_user(email="operator@example.com", password="x", is_staff=True)
    client, _ = signed_in(staff)
    assert client.post("/playground/key").status_code == 403  # no CSRF token: another site's form
    assert client.get("/playground/key").status_code == 405

    member = User.objects.create_user(email="member@example.com", password="x")
    client, csrf = signed_in(member)
    assert not csrf  # the page does not offer it
    client.get("/admin/login/")  # a page with a form sets the CSRF cookie
    refused = client.post("/playground/key", headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert refused.status_code == 403
    assert "paste an API key" in refused.json()["message"]
    assert Client(enforce_csrf_checks=True).post("/playground/key").status_code == 403
    assert not ApiKey.objects.filter(name=PLAYGROUND_KEY_NAME).exists()
