"""What a newcomer meets first: the sample portrait, the landing page and `make run`'s seed message."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from characters.models import Person
from characters.services.faces import portrait_face
from characters.services.photos import photo_from_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PORTRAIT = ROOT / "samples" / "portrait.jpg"


def test_the_sample_portrait_passes_the_face_checks():
    data = SAMPLE_PORTRAIT.read_bytes()

    photo = photo_from_bytes(data)
    face = portrait_face(photo)

    assert len(data) < 80_000
    assert (photo.width, photo.height, photo.extension) == (512, 512, "jpg")
    assert face["score"] >= 0.3
    assert len(face["landmarks"]) == 68
    assert len(face["embedding"]) == 128


def test_the_sample_portrait_has_its_origin_and_licence_written_down():
    doc = (ROOT / "docs" / "DEMO_PERSON.md").read_text()
    licence = (ROOT / "samples" / "LICENSE-openpeople.txt").read_text()

    assert "## The sample portrait" in doc
    assert "samples/portrait.jpg" in doc and "MIT" in doc
    assert licence.startswith("MIT License") and "Prompt Haus" in licence


@pytest.mark.django_db
def test_the_landing_page_names_the_docs_admin_health_and_every_dialect():
    response = Client().get("/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    for href in ("/api/docs/", "/api/redoc/", "/api/schema/", "/admin/", "/healthz"):
        assert f'href="{href}"' in page
    for root in ("/api/v1/persons", "/v1/", "/api/v1/characters", "/persona/api/"):
        assert f"<code>{root}</code>" in page
    for dialect in ("Persons API (twin.actor)", "TwinTone", "influgen", "BHuman"):
        assert f"<td>{dialect}</td>" in page
    assert page.count('href="/docs/DIALECTS.md#') == 4


@pytest.mark.django_db
def test_the_landing_pages_dialect_links_name_real_sections_of_the_dialects_doc():
    page = Client().get("/").content.decode()
    doc = Client().get("/docs/DIALECTS.md")
    headings = re.findall(r"^## (.+)$", doc.content.decode(), re.MULTILINE)
    # GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
    anchors = {re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings}

    assert doc.status_code == 200
    assert doc["Content-Type"] == "text/markdown; charset=utf-8"
    linked = re.findall(r'href="/docs/DIALECTS.md#([^"]+)"', page)
    assert len(linked) == 4 and set(linked) <= anchors


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/docs/SECRETS.md", "/docs/../README.md", "/docs/dialects.md", "/docs/"])
def test_only_existing_project_docs_are_served(path):
    assert Client().get(path).status_code == 404


@pytest.mark.django_db
def test_seed_on_a_fresh_database_says_demo_persons_come_with_each_new_workspace():
    out = io.StringIO()

    call_command("seed", stdout=out)

    assert out.getvalue() == (
        "No workspaces yet. Each new workspace gets its demo person when it is created (createapikey, the admin).\n"
    )


def test_seed_says_every_workspace_has_its_demo_person(workspace, other_workspace):
    out = io.StringIO()

    call_command("seed", stdout=out)

    assert Person.objects.filter(is_demo=True).count() == 2
    assert out.getvalue().startswith("Every workspace (2) has its demo person. Each new workspace gets")
