"""A person's photo must show one face: refused with 422 otherwise, analysed and kept when it does."""

import base64
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from characters.models import Person
from media_jobs.engines.face import analyze_face
from tests import factories
from tests.helpers import assert_vendor_error, stored_files

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/persons"


def _two_faces() -> str:
    portrait = np.asarray(Image.open(io.BytesIO(factories.image_bytes(portrait=True))).convert("RGB"))
    out = io.BytesIO()
    Image.fromarray(np.concatenate([portrait, portrait], axis=1)).save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode()


BAD_FACES = {
    "no-face": (lambda: factories.image_base64(portrait=False), "photo_base64: no face was found in the photo"),
    "two-faces": (_two_faces, "photo_base64: The image shows 2 faces of similar size"),
}


def _snapshot(media_root):
    return list(Person.objects.values_list("pk", "name", "photo", "face")), stored_files(media_root)


@pytest.mark.parametrize(("photo", "message"), BAD_FACES.values(), ids=BAD_FACES.keys())
def test_create_refuses_a_photo_without_one_face_with_422(api_client, media_root, photo, message):
    before = _snapshot(media_root)

    response = api_client.post(LIST_URL, {"name": "Grace", "photo_base64": photo()}, format="json")

    assert_vendor_error(response, 422, "ValidationError", message)
    assert _snapshot(media_root) == before


@pytest.mark.parametrize(("photo", "message"), BAD_FACES.values(), ids=BAD_FACES.keys())
def test_update_refuses_a_photo_without_one_face_and_keeps_the_person(
    api_client, workspace, media_root, photo, message
):
    person = factories.person_create(workspace=workspace, name="Ada")
    before = _snapshot(media_root)

    response = api_client.put(f"{LIST_URL}/{person.pk}", {"name": "Grace", "photo_base64": photo()}, format="json")

    assert_vendor_error(response, 422, "ValidationError", message)
    assert _snapshot(media_root) == before


def test_create_keeps_the_faces_landmarks_and_identity(api_client, workspace):
    response = api_client.post(LIST_URL, {"name": "Ada", "photo_base64": factories.image_base64()}, format="json")

    assert response.status_code == 201, response.content
    face = Person.objects.get(pk=response.json()["id"]).face
    assert set(face) == {"box", "landmarks", "score", "embedding"}
    left, top, right, bottom = face["box"]
    assert 0 <= left < right <= 256 and 0 <= top < bottom <= 256
    landmarks = np.asarray(face["landmarks"])
    assert landmarks.shape == (68, 2)
    assert (landmarks >= 0).all() and (landmarks <= 256).all()
    # dlib's order: the eyes (36-47) lie above the mouth (48-67), the subject's right eye on the image's left.
    assert landmarks[36:48, 1].mean() < landmarks[48:68, 1].mean()
    assert landmarks[36:42, 0].mean() < landmarks[42:48, 0].mean()
    assert len(face["embedding"]) == 128 and face["score"] > 0.3
    # The portrait is cut from scikit-image's astronaut: the embeddings say it is the same person.
    whole = analyze_face(data.astronaut()).embedding
    assert np.linalg.norm(np.subtract(face["embedding"], whole)) < 0.6


def test_a_new_photo_replaces_the_face(api_client, workspace):
    person = factories.person_create(workspace=workspace, name="Ada")
    small, identity = np.asarray(person.face["landmarks"]), person.face["embedding"]
    photo = factories.image_base64(size=(512, 512))

    response = api_client.put(f"{LIST_URL}/{person.pk}", {"name": "Ada", "photo_base64": photo}, format="json")

    assert response.status_code == 200, response.content
    person.refresh_from_db()
    large = np.asarray(person.face["landmarks"])
    # The same portrait at twice the size: the landmarks land about twice as far out.
    assert np.abs(large - 2 * small).mean() < 4
    assert np.linalg.norm(np.subtract(person.face["embedding"], identity)) < 0.3  # and the same person


def test_a_much_smaller_face_in_the_background_is_ignored(api_client):
    portrait = Image.open(io.BytesIO(factories.image_bytes(portrait=True))).convert("RGB")
    canvas = Image.new("RGB", (640, 480), (90, 90, 90))
    canvas.paste(portrait.resize((400, 400)), (0, 40))
    canvas.paste(portrait.resize((150, 150)), (470, 20))
    out = io.BytesIO()
    canvas.save(out, format="JPEG")

    response = api_client.post(
        LIST_URL, {"name": "Ada", "photo_base64": base64.b64encode(out.getvalue()).decode()}, format="json"
    )

    assert response.status_code == 201, response.content
    left, _, right, _ = Person.objects.get(pk=response.json()["id"]).face["box"]
    assert right <= 400 and right - left > 100  # the large face, not the small one
