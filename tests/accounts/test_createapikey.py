import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey, User, Workspace
from characters.models import Person

pytestmark = pytest.mark.django_db


def createapikey(*args: str) -> str:
    out = io.StringIO()
    call_command("createapikey", *args, stdout=out)
    return out.getvalue().rstrip("\n").splitlines()[-1]


def test_prints_a_working_key_alone_on_the_last_line():
    key = createapikey("--email", "new@example.com")

    assert key.startswith("pp_") and " " not in key
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/persons")
    assert response.status_code == 200
    assert [person["name"] for person in response.json()] == ["Nova Demo"]


def test_creates_the_user_workspace_and_demo_person_once():
    createapikey("--email", "Same@Example.com")
    createapikey("--email", "same@example.com", "--name", "ci")

    user = User.objects.get(email="same@example.com")
    workspace = Workspace.objects.get(owner=user)
    assert ApiKey.objects.filter(workspace=workspace).count() == 2
    assert list(ApiKey.objects.filter(workspace=workspace).values_list("name", flat=True)) == ["ci", "default"]
    assert Person.objects.filter(workspace=workspace, is_demo=True).count() == 1


def test_sets_the_plan_and_grants_credits():
    createapikey("--email", "pro@example.com", "--plan", "pro", "--credits", "250")
    createapikey("--email", "pro@example.com", "--plan", "agency", "--credits", "50")

    workspace = Workspace.objects.get(owner__email="pro@example.com")
    assert workspace.plan == "agency"
    assert workspace.credit_balance == 300
    assert list(workspace.credit_entries.values_list("amount", flat=True)) == [50, 250]


def test_a_second_email_is_a_separate_tenant():
    first = createapikey("--email", "one@example.com")
    second = createapikey("--email", "two@example.com")
    first_ids = [p["id"] for p in APIClient(HTTP_X_API_KEY=first).get("/api/v1/persons").json()]

    response = APIClient(HTTP_X_API_KEY=second).get(f"/api/v1/persons/{first_ids[0]}")

    assert response.status_code == 404


@pytest.mark.parametrize("args", [["--email", "not-an-email"], ["--email", "x@example.com", "--credits", "-1"]])
def test_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        createapikey(*args)
    assert not User.objects.exists()


def test_refuses_an_unknown_plan():
    with pytest.raises(CommandError):
        createapikey("--email", "x@example.com", "--plan", "platinum")
