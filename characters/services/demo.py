"""The demo person every workspace starts with.

Fictional name, company and face: the photo is person P001 of OpenPeople, a pip-installed dataset of
entirely synthetic people (MIT licence), read from the installed package. See docs/DEMO_PERSON.md.
"""

import copy
import io
from functools import cache
from pathlib import Path

import openpeople
from django.db import transaction
from PIL import Image

from accounts.models import Company, Workspace
from characters.models import Person
from characters.services.faces import portrait_face
from characters.services.persons import person_create
from characters.services.photos import photo_from_bytes

DEMO_PERSON_NAME = "Nova Demo"
DEMO_PERSON_DESCRIPTION = (
    "A fictional demo persona for trying the API. Read-only: create your own person to edit or delete."
)
DEMO_COMPANY_NAME = "Demo Orbital Co."
# P002 is the README's sample portrait; the demo person is another synthetic face, so the two never match.
DEMO_OPENPEOPLE_ID = "P001"
DEMO_PHOTO_SIDE = 512


def demo_photo_source() -> Path:
    """The 2048x2048 studio portrait inside the installed openpeople package (no copy in the repository)."""
    return Path(openpeople.curated.get(DEMO_OPENPEOPLE_ID).asset_path("studio_portrait"))


@cache
def demo_photo_jpeg() -> bytes:
    """The portrait at 512x512, made once per process: every workspace keeps its own copy, and the face stays
    about 220 px wide."""
    out = io.BytesIO()
    with Image.open(demo_photo_source()) as image:
        portrait = image.convert("RGB").resize((DEMO_PHOTO_SIDE, DEMO_PHOTO_SIDE), Image.Resampling.LANCZOS)
    portrait.save(out, format="JPEG", quality=90)
    return out.getvalue()


@cache
def _demo_face() -> dict:
    """The portrait's face analysis, once per process: every workspace's demo person has the same face, and
    analysing it (about 0.2 s) was most of the cost of creating a workspace."""
    return portrait_face(photo_from_bytes(demo_photo_jpeg(), field="demo photo"))


@transaction.atomic
def demo_person_ensure(*, workspace: Workspace) -> Person:
    """Idempotent: returns the workspace's demo person, creating it (and its company) when missing."""
    existing = Person.objects.filter(workspace=workspace, is_demo=True).first()
    if existing is not None:
        return existing
    company, _ = Company.objects.get_or_create(workspace=workspace, name=DEMO_COMPANY_NAME)
    return person_create(
        workspace=workspace,
        owner=workspace.owner,
        name=DEMO_PERSON_NAME,
        description=DEMO_PERSON_DESCRIPTION,
        photo=photo_from_bytes(demo_photo_jpeg(), field="demo photo"),
        company=company,
        is_demo=True,
        face=copy.deepcopy(_demo_face()),
    )
