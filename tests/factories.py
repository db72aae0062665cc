"""Test data built through the same services the API uses."""

import base64
import copy
import io
from functools import cache
from itertools import count
from pathlib import Path

from PIL import Image, ImageOps

from accounts.models import ApiKey, Company, Plan, Workspace
from accounts.services import api_key_create as service_api_key_create
from accounts.services import user_get_or_create
from accounts.services import workspace_create as service_workspace_create
from characters.models import Person, Voice
from characters.services.faces import portrait_face
from characters.services.persons import person_create as service_person_create
from characters.services.photos import photo_from_bytes

_sequence = count(1)


def workspace_create(*, email: str | None = None, plan: str = Plan.AGENCY) -> Workspace:
    user, _ = user_get_or_create(email=email or f"user{next(_sequence)}@example.com")
    return service_workspace_create(owner=user, plan=plan)


def api_key_create(*, workspace: Workspace, name: str = "test") -> ApiKey:
    """An ApiKey with its raw value attached as `.raw`."""
    api_key, raw = service_api_key_create(workspace=workspace, user=workspace.owner, name=name)
    api_key.raw = raw
    return api_key


# A synthetic person (samples/LICENSE-openpeople.txt): a face that is not the test portrait's.
SAMPLE_PORTRAIT = Path(__file__).resolve().parent.parent / "samples" / "portrait.jpg"


@cache
def _portrait() -> Image.Image:
    """A square around the face of scikit-image's astronaut (a public-domain NASA portrait)."""
    from skimage import data

    return Image.fromarray(data.astronaut()[0:256, 92:348])


def image_bytes(
    *, size=(256, 256), image_format="JPEG", color=(200, 120, 80), portrait: bool = False, **save_options
) -> bytes:
    """A test image; `portrait=True` shows one face (what a person's photo must), else two flat colours."""
    if portrait:
        image = ImageOps.fit(_portrait(), size)
    else:
        image = Image.new("RGB", size, color)
        # A second colour in the top-left quarter makes orientation observable.
        image.paste((20, 40, 220), (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    image.save(out, format=image_format, **save_options)
    return out.getvalue()


def image_base64(*, data_url: bool = False, mime: str = "image/jpeg", portrait: bool = True, **kwargs) -> str:
    encoded = base64.b64encode(image_bytes(portrait=portrait, **kwargs)).decode()
    return f"data:{mime};base64,{encoded}" if data_url else encoded


def company_create(*, workspace: Workspace, name: str | None = None) -> Company:
    return Company.objects.create(workspace=workspace, name=name or f"Company {next(_sequence)}")


@cache
def _portrait_face() -> dict:
    """The test portrait's face analysis, made once: analysing it costs about 0.2 s per person created."""
    return portrait_face(photo_from_bytes(image_bytes(portrait=True)))


def person_create(*, workspace: Workspace, name: str | None = None, with_photo: bool = True, **kwargs) -> Person:
    if with_photo:
        kwargs.setdefault("face", copy.deepcopy(_portrait_face()))
    return service_person_create(
        workspace=workspace,
        owner=workspace.owner,
        name=name or f"Person {next(_sequence)}",
        photo=photo_from_bytes(image_bytes(portrait=True)) if with_photo else None,
        **kwargs,
    )


def voice_create(*, person: Person, provider: str = Voice.Provider.ELEVENLABS, voice_id: str = "voice_abc123") -> Voice:
    """A voice clone of the person, made the person's speaking voice."""
    voice = Voice.objects.create(
        workspace=person.workspace,
        person=person,
        name=f"{person.name}'s voice",
        provider=provider,
        provider_voice_id=voice_id,
    )
    person.voice = voice
    person.save(update_fields=["voice"])
    return voice
