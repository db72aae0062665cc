"""Faces: a persona's photo must show one face, whose landmarks and identity embedding are kept.

Analysis runs when a photo arrives, so a photo nobody could animate is refused at once with a
422 naming the field, instead of failing a video job minutes later.
"""

import io

import numpy as np
from PIL import Image

from characters.models import Person
from characters.services.photos import Photo
from media_jobs.engines.base import EngineError
from media_jobs.engines.face import Face, FaceNotFound, SeveralFaces, analyze_face
from persona_platform.errors import InvalidInput


def image_rgb(content: bytes) -> np.ndarray:
    """Pixels of an image already validated by photo intake."""
    with Image.open(io.BytesIO(content)) as image:
        return np.asarray(image.convert("RGB"))


def portrait_face(photo: Photo) -> dict:
    """The analysis of the one face the photo shows, as stored on the person."""
    try:
        return analyze_face(image_rgb(photo.content)).to_json()
    except FaceNotFound:
        raise InvalidInput(
            f"{photo.field}: no face was found in the photo; use a clear, front-facing portrait."
        ) from None
    except SeveralFaces as exc:
        raise InvalidInput(f"{photo.field}: {exc}") from None


def person_portrait(person: Person) -> tuple[np.ndarray, Face]:
    """The person's photo pixels and its face, for rendering. A photo stored before faces were
    analysed is analysed now, and the result kept."""
    if not person.photo:
        raise EngineError(f"{person.name} has no photo to animate; add a portrait first.")
    with person.photo.open("rb") as handle:
        rgb = image_rgb(handle.read())
    if person.face:
        return rgb, Face.from_json(person.face)
    try:
        face = analyze_face(rgb)
    except (FaceNotFound, SeveralFaces) as exc:
        raise EngineError(f"The photo of {person.name} cannot be animated: {exc}") from None
    Person.objects.filter(pk=person.pk).update(face=face.to_json())
    return rgb, face
