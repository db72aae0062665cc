"""Face analysis with the packaged dlib models: real detections on real photos."""

import numpy as np
import pytest
from PIL import Image
from skimage import data

from media_jobs.engines.face import Face, FaceNotFound, SeveralFaces, analyze_face, face_distance, find_face


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def face(astronaut) -> Face:
    return analyze_face(astronaut)


def test_the_astronaut_has_one_face_with_landmarks_in_anatomical_order(face):
    left, top, right, bottom = face.box
    assert 150 < left < right < 290 and 50 < top < bottom < 190  # her face, not her mission patch
    points = face.landmarks
    assert points.shape == (68, 2) and face.score > 0.8
    eyes_y = points[36:48, 1].mean()
    nose_y = points[30, 1]
    mouth_y = points[48:68, 1].mean()
    chin_y = points[8, 1]
    assert eyes_y < nose_y < mouth_y < chin_y
    assert points[36:42, 0].mean() < points[42:48, 0].mean()  # dlib's "left" eye is on the image's left
    assert np.all((points[:, 0] > left - 20) & (points[:, 0] < right + 20))


def test_the_embedding_recognises_the_same_person_in_another_picture(astronaut, face):
    assert face.embedding.shape == (128,)
    assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 0.5
    smaller = np.asarray(Image.fromarray(astronaut).resize((384, 384)))
    brighter = np.clip(astronaut.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    for other in (smaller, brighter, astronaut[:, ::-1]):
        assert face_distance(face.embedding, analyze_face(other).embedding) < 0.4


def test_a_photo_without_a_face_is_refused():
    for image in (data.coffee(), data.chelsea(), np.full((300, 300, 3), 128, np.uint8)):
        with pytest.raises(FaceNotFound):
            analyze_face(image)
    assert find_face(data.coffee()) is None


def test_two_faces_of_similar_size_are_refused(astronaut):
    with pytest.raises(SeveralFaces, match="faces of similar size"):
        analyze_face(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))


def test_a_much_smaller_face_in_the_background_is_ignored(astronaut):
    canvas = astronaut.copy()
    canvas[400:496, 400:496] = np.asarray(Image.fromarray(astronaut[40:200, 140:300]).resize((96, 96)))
    face = analyze_face(canvas)
    assert face.box[0] < 300  # the large face


def test_the_analysis_survives_a_round_trip_through_json(face):
    restored = Face.from_json(face.to_json())
    assert restored.box == face.box
    assert np.abs(restored.landmarks - face.landmarks).max() <= 0.05
    assert face_distance(restored.embedding, face.embedding) < 1e-3
