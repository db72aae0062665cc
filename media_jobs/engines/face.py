"""Face analysis, offline: face box, 68 landmarks and a 128-d identity embedding.

The models are dlib's HOG face detector, its 68-point shape predictor and its ResNet face
recognition model, as shipped in the `face_recognition_models` package; nothing is downloaded.
Detection runs on a copy scaled to at most DETECT_SIDE pixels (a photo's face is large), landmarks
and the embedding on the full image.
"""

import warnings
from functools import cache
from typing import Any, ClassVar

import numpy as np

from media_jobs.engines.base import Box, EngineError, Face

# dlib's detector scores a real frontal face around 1; badges, patches and textures that look a
# little like a face score near 0. Below this a detection is not a face.
MIN_SCORE = 0.3
# Two faces whose areas are within this ratio are "of similar size": we cannot tell whose photo it is.
SIMILAR_AREA = 0.5
DETECT_SIDE = 800


class FaceNotFound(EngineError):
    """No face in the image."""


class SeveralFaces(EngineError):
    """More than one face of similar size: the image does not say which person it shows."""


@cache
def _models() -> tuple[Any, Any, Any]:
    import dlib  # heavy: loaded on the first look at a face, not by every importer of this module

    with warnings.catch_warnings():
        # face_recognition_models finds its files with pkg_resources, which warns on import.
        warnings.simplefilter("ignore")
        import face_recognition_models  # heavy, with dlib: its import looks up the model files

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()),
        dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
    )


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


def detect_faces(image: np.ndarray, *, upsample: int = 1) -> list[tuple[Box, float]]:
    """Confident face boxes (left, top, right, bottom) with their scores, largest first."""
    import cv2  # heavy: loaded on the first detection, not by every importer of this module

    detector, _, _ = _models()
    image = _rgb(image)
    scale = min(1.0, DETECT_SIDE / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    rects, scores, _ = detector.run(small, upsample, MIN_SCORE)
    found = [
        (
            (
                round(rect.left() / scale),
                round(rect.top() / scale),
                round(rect.right() / scale),
                round(rect.bottom() / scale),
            ),
            float(score),
        )
        for rect, score in zip(rects, scores, strict=True)
        if score >= MIN_SCORE
    ]
    return sorted(found, key=lambda item: -((item[0][2] - item[0][0]) * (item[0][3] - item[0][1])))


def landmarks_in_box(image: np.ndarray, box: Box) -> np.ndarray:
    """The 68 landmarks of the face in `box` (fast: a few milliseconds; for tracking video frames)."""
    import dlib  # heavy: see _models

    _, predictor, _ = _models()
    shape = predictor(_rgb(image), dlib.rectangle(*map(int, box)))
    return np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float32)


def analyze_face(image: np.ndarray, *, embed: bool = True) -> Face:
    """The one face a portrait shows. Raises FaceNotFound or SeveralFaces; a much smaller face in
    the background is ignored."""
    import dlib  # heavy: see _models

    image = _rgb(image)
    found = detect_faces(image)
    if not found:
        raise FaceNotFound("No face was found in the image.")
    area = [(right - left) * (bottom - top) for (left, top, right, bottom), _ in found]
    if len(found) > 1 and area[1] >= SIMILAR_AREA * area[0]:
        raise SeveralFaces(f"The image shows {len(found)} faces of similar size; it must show one person.")
    box, score = found[0]
    _, predictor, recognizer = _models()
    shape = predictor(image, dlib.rectangle(*box))
    landmarks = np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float32)
    embedding = np.asarray(recognizer.compute_face_descriptor(image, shape), dtype=np.float32) if embed else None
    return Face(box=box, landmarks=landmarks, score=score, embedding=embedding)


def find_face(image: np.ndarray) -> Face | None:
    """The largest confident face without the portrait rules, or None (for frames of a video)."""
    found = detect_faces(image)
    if not found:
        return None
    box, score = found[0]
    return Face(box=box, landmarks=landmarks_in_box(image, box), score=score)


def face_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Euclidean distance of two identity embeddings: below about 0.6 means the same person."""
    return float(np.linalg.norm(np.asarray(first, dtype=np.float32) - np.asarray(second, dtype=np.float32)))


class DlibFaceAnalyzer:
    """The FaceAnalyzer the registry names "dlib": this module's functions, for callers that take any analyzer."""

    name: ClassVar[str] = "dlib"

    def analyze(self, image: np.ndarray, *, embed: bool = True) -> Face:
        return analyze_face(image, embed=embed)

    def find(self, image: np.ndarray) -> Face | None:
        return find_face(image)

    def detect(self, image: np.ndarray, *, upsample: int = 1) -> list[tuple[Box, float]]:
        return detect_faces(image, upsample=upsample)

    def landmarks(self, image: np.ndarray, box: Box) -> np.ndarray:
        return landmarks_in_box(image, box)

    def distance(self, first: np.ndarray, second: np.ndarray) -> float:
        return face_distance(first, second)
