"""The demo person shows nobody real: its photo is a synthetic OpenPeople face that passes the face checks."""

import io
import json
from pathlib import Path

import numpy as np
import openpeople
import pytest
from PIL import Image
from skimage import data

from characters.models import Person
from characters.services.demo import DEMO_OPENPEOPLE_ID, demo_photo_jpeg, demo_photo_source
from characters.services.faces import image_rgb, portrait_face
from characters.services.photos import photo_from_bytes
from media_jobs.engines.face import analyze_face, face_distance

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PORTRAIT = ROOT / "samples" / "portrait.jpg"  # OpenPeople P002, the README's upload


def identity(rgb: np.ndarray) -> np.ndarray:
    face = analyze_face(rgb)
    assert face.embedding is not None
    return face.embedding


def test_the_demo_photo_is_read_from_the_installed_openpeople_package():
    source = demo_photo_source()
    metadata = json.loads((source.parent.parent / "metadata.json").read_text())

    assert DEMO_OPENPEOPLE_ID != "P002"  # not the sample portrait
    assert source.is_relative_to(Path(openpeople.__file__).parent) and source.name == "studio_portrait.jpg"
    assert metadata["person_id"] == DEMO_OPENPEOPLE_ID
    assert metadata["generated_with"]  # made by an image model, not photographed
    with Image.open(source) as original:
        assert original.size == (2048, 2048)


def test_the_demo_photo_passes_the_face_checks():
    photo = photo_from_bytes(demo_photo_jpeg(), field="demo photo")
    face = portrait_face(photo)

    assert (photo.width, photo.height, photo.extension) == (512, 512, "jpg")
    assert face["score"] >= 1.0  # a clear frontal face; dlib scores the portraits here 2.3 to 3.4
    assert len(face["landmarks"]) == 68 and len(face["embedding"]) == 128
    left, top, right, bottom = face["box"]
    assert 150 <= right - left <= 300 and 0 < left < right < 512 and 0 < top < bottom < 512


@pytest.mark.django_db
def test_the_demo_person_shows_the_openpeople_face_and_not_the_astronaut(workspace):
    demo = Person.objects.get(workspace=workspace, is_demo=True)
    with demo.photo.open("rb") as handle:
        stored = image_rgb(handle.read())
    with Image.open(demo_photo_source()) as original:
        expected = np.asarray(original.convert("RGB").resize((512, 512), Image.Resampling.LANCZOS))
    with Image.open(SAMPLE_PORTRAIT) as sample:
        sample_portrait = np.asarray(sample.convert("RGB"))

    assert stored.shape == (512, 512, 3)
    assert np.abs(stored.astype(np.int16) - expected).mean() < 3  # the same pixels, after two JPEG encodings
    stored_identity = np.asarray(demo.face["embedding"])
    assert face_distance(stored_identity, identity(expected)) < 0.2
    assert face_distance(stored_identity, identity(data.astronaut())) > 0.6  # the old face is gone
    assert face_distance(stored_identity, identity(sample_portrait)) > 0.6  # another synthetic person


def test_the_demo_persons_origin_and_licence_are_written_down():
    doc = (ROOT / "docs" / "DEMO_PERSON.md").read_text()

    assert f"`{DEMO_OPENPEOPLE_ID}`" in doc and "openpeople==0.1.2" in doc and "MIT" in doc
    assert "astronaut" not in doc.lower()


def test_the_demo_photo_is_made_once_per_process():
    assert demo_photo_jpeg() is demo_photo_jpeg()
    with Image.open(io.BytesIO(demo_photo_jpeg())) as image:
        assert (image.format, image.size) == ("JPEG", (512, 512))
