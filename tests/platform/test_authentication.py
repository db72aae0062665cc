import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from tests import factories
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "headers",
    [
        lambda key: {"HTTP_AUTHORIZATION": f"Bearer {key}"},
        lambda key: {"HTTP_AUTHORIZATION": f"bearer {key}"},
        lambda key: {"HTTP_X_API_KEY": key},
        lambda key: {"HTTP_AUTHORIZATION": key},
    ],
    ids=["bearer", "bearer-lowercase", "x-api-key", "bare-authorization"],
)
def test_every_header_style_authenticates(raw_key, headers):
    response = APIClient().get("/api/v1/persons", **headers(raw_key))

    assert response.status_code == 200
    assert [person["name"] for person in response.json()] == ["Nova Demo"]


def test_a_missing_key_is_401_with_www_authenticate(anonymous_client):
    response = anonymous_client.get("/api/v1/persons")

    assert_vendor_error(response, 401, "Unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # a typo in the checksum
        lambda key: key[:10] + ("x" if key[10] != "x" else "y") + key[11:],  # a typo in the body
        lambda key: key[:-3],  # truncated
        lambda key: "sk_" + key[3:],  # another vendor's prefix
        lambda key: key + " extra",
    ],
)
def test_a_mistyped_key_is_refused_without_any_query(raw_key, mangle, django_assert_num_queries):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mangle(raw_key)}")

    with django_assert_num_queries(0):
        response = client.get("/api/v1/persons")

    assert_vendor_error(response, 401, "Unauthorized", "Invalid")


def test_a_well_formed_unknown_key_is_401(db):
    from accounts.keys import key_generate

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key_generate())

    assert_vendor_error(client.get("/api/v1/persons"), 401, "Unauthorized")


def test_a_revoked_key_is_401(api_client, api_key):
    api_key_revoke(api_key=api_key)

    assert_vendor_error(api_client.get("/api/v1/persons"), 401, "Unauthorized", "revoked")


def test_a_deactivated_users_key_is_401(api_client, workspace):
    workspace.owner.is_active = False
    workspace.owner.save()

    assert_vendor_error(api_client.get("/api/v1/persons"), 401, "Unauthorized")


def test_use_sets_last_used_at_at_most_once_a_minute(api_client, api_key, django_assert_num_queries):
    assert api_key.last_used_at is None
    api_client.get("/api/v1/persons")
    api_key.refresh_from_db()
    first_use = api_key.last_used_at
    assert first_use is not None and (timezone.now() - first_use).total_seconds() < 5

    api_client.get("/api/v1/persons")

    api_key.refresh_from_db()
    assert api_key.last_used_at == first_use


def test_the_stored_key_is_a_hash_never_the_key(api_key):
    stored = ApiKey.objects.get(pk=api_key.pk)

    assert api_key.raw not in {stored.key_hash, stored.prefix, stored.name}
    assert len(stored.key_hash) == 64
    assert api_key.raw.startswith(stored.prefix)


def test_each_key_sees_only_its_own_workspace(workspace, other_workspace):
    mine = APIClient(HTTP_X_API_KEY=factories.api_key_create(workspace=workspace).raw)
    theirs = APIClient(HTTP_X_API_KEY=factories.api_key_create(workspace=other_workspace).raw)
    factories.person_create(workspace=workspace, name="Mine")

    assert [p["name"] for p in mine.get("/api/v1/persons").json()] == ["Mine", "Nova Demo"]
    assert [p["name"] for p in theirs.get("/api/v1/persons").json()] == ["Nova Demo"]
