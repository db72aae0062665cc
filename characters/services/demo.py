"""The demo person every workspace starts with.

Fictional name and company; the face is NASA's public-domain astronaut portrait that ships
inside scikit-image (see docs/DEMO_PERSON.md for why it is not a real celebrity).
"""

import io
from pathlib import Path

import skimage.data
from django.db import transaction
from PIL import Image

from accounts.models import Company, Workspace
from characters.models import Person
from characters.services.persons import person_create
from characters.services.photos import photo_from_bytes

DEMO_PERSON_NAME = "Nova Demo"
DEMO_PERSON_DESCRIPTION = (
    "A fictional demo persona for trying the API. Read-only: create your own person to edit or delete."
)
DEMO_COMPANY_NAME = "Demo Orbital Co."
DEMO_PHOTO_PATH = Path(skimage.data.__file__).parent / "astronaut.png"


def _demo_photo_jpeg() -> bytes:
    """The sample ships as a 0.5 MB PNG; every workspace keeps its own copy, so store a JPEG."""
    out = io.BytesIO()
    with Image.open(DEMO_PHOTO_PATH) as image:
        image.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


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
        photo=photo_from_bytes(_demo_photo_jpeg(), field="demo photo"),
        company=company,
        is_demo=True,
    )
