"""Workspace B's key never sees workspace A's objects: every detail route answers 404, like a missing id.

Routes are listed once here; each new dialect adds its detail routes to DETAIL_ROUTES.
"""

import pytest

from characters.models import Person
from tests import factories
from tests.helpers import assert_vendor_error

pytestmark = pytest.mark.django_db

# (method, path template, body): the template gets the id of workspace A's object.
DETAIL_ROUTES = [
    ("get", "/api/v1/persons/{person}", None),
    ("put", "/api/v1/persons/{person}", {"name": "Stolen"}),
    ("delete", "/api/v1/persons/{person}", None),
]


@pytest.fixture
def alices_objects(workspace):
    return {"person": factories.person_create(workspace=workspace, name="Alice's person").pk}


@pytest.mark.parametrize(("method", "template", "body"), DETAIL_ROUTES)
def test_another_workspaces_object_is_404(other_client, alices_objects, method, template, body):
    path = template.format(**alices_objects)

    response = getattr(other_client, method)(path, body, format="json")

    assert_vendor_error(response, 404, "NotFound")
    assert Person.objects.get(pk=alices_objects["person"]).name == "Alice's person"


@pytest.mark.parametrize(("method", "template", "body"), DETAIL_ROUTES)
def test_the_owner_reaches_the_same_routes(api_client, alices_objects, method, template, body):
    response = getattr(api_client, method)(template.format(**alices_objects), body, format="json")

    assert response.status_code in {200, 204}


def test_another_workspaces_demo_person_is_404_too(other_client, workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)

    assert_vendor_error(other_client.get(f"/api/v1/persons/{demo.pk}"), 404, "NotFound")


def test_lists_never_include_another_workspaces_persons(api_client, other_client, workspace, other_workspace):
    factories.person_create(workspace=other_workspace, name="Bob's person")

    names = [person["name"] for person in api_client.get("/api/v1/persons").json()]

    assert "Bob's person" not in names
    assert [p["name"] for p in other_client.get("/api/v1/persons").json()] == ["Bob's person", "Nova Demo"]


def test_a_company_filter_cannot_reach_across_workspaces(api_client, other_workspace):
    company = factories.company_create(workspace=other_workspace)
    factories.person_create(workspace=other_workspace, company=company)

    assert api_client.get("/api/v1/persons", {"company_id": company.pk}).json() == []
