"""What a talking head's frames show, measured the same way by its tests and by bench/media_quality.py.

Everything is read back from rendered frames with dlib's 68 landmarks, never from the renderer's own
geometry, so a measurement checks what a viewer sees rather than what the renderer meant to draw:

- the mouth: the inner lips' gap (62↔66) and the outer corners' distance (48↔54), in inter-ocular
  distances; the open mouth's area is the inner-lip polygon (60–67), and its near-black share the
  pixels there darker than NEAR_BLACK_LUMA;
- detail: high-frequency energy (the mean squared Laplacian of the luma) of the face and of the eyes,
  against the same boxes of the photo;
- identity: the distance of dlib's 128-d embedding of a frame's face to the photo's.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from media_jobs.engines.base import Box
from media_jobs.engines.face import _models, detect_faces, landmarks_in_box

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec. 601
# A pixel darker than this (of 255) reads as black on a screen: what a flat painted cavity is made of.
NEAR_BLACK_LUMA = 40.0
# A frame's mouth counts as open when its lips part by this much more than the photo's (inter-ocular
# distances): about a third of the widest opening, where the cavity starts to show.
OPEN_GAP = 0.1
LOUDNESS_FLOOR_DB = -60.0
# A rolled head (roll_measures): the collar is read from this many face heights under the chin down, the hair
# over this many face heights above the brows.
COLLAR_BELOW = 0.4
HAIR_BAND = 0.4


def luma(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float32) @ LUMA


def detail(image: np.ndarray) -> float:
    """High-frequency energy: the mean squared Laplacian of the luma."""
    grey = luma(image)
    laplacian = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    return float(np.mean(laplacian**2))


def regions(landmarks: np.ndarray) -> dict[str, Box]:
    """The boxes detail is compared in: the face (all 68 points) and the eyes with their brows and lids."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes = np.concatenate([lm[17:27], lm[36:48]])
    eye_width = float(np.linalg.norm(lm[39] - lm[36]) + np.linalg.norm(lm[45] - lm[42])) / 2
    boxes = {
        "face": (*lm.min(axis=0), *lm.max(axis=0)),
        "eyes": (*eyes.min(axis=0), *(eyes.max(axis=0) + (0.0, 0.4 * eye_width))),  # the lower lids' skin too
    }
    return {name: tuple(int(round(v)) for v in box) for name, box in boxes.items()}  # type: ignore[misc]


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[max(0, y0) : y1, max(0, x0) : x1]


def inter_ocular(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0)))


def open_mouth_mask(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """The pixels inside the inner lips (60–67), as a boolean mask of an image of `shape`."""
    import cv2  # heavy: OpenCV loads with the renderer, not with the engine registry

    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[60:68] * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    return mask.astype(bool)


@dataclass(frozen=True)
class FrameMeasures:
    """Per frame (arrays of one value per frame): what the landmarks and pixels say."""

    gap: np.ndarray  # inner lips' gap 62↔66, inter-ocular distances
    width: np.ndarray  # outer corners 48↔54, inter-ocular distances
    mouth_area: np.ndarray  # pixels inside the inner lips
    near_black: np.ndarray  # of those, how many are darker than NEAR_BLACK_LUMA
    face_detail: np.ndarray  # high-frequency energy of the face box over the photo's
    eyes_detail: np.ndarray  # ... and of the eyes' box

    @classmethod
    def concatenate(cls, parts: Sequence["FrameMeasures"]) -> "FrameMeasures":
        names = cls.__dataclass_fields__
        return cls(**{name: np.concatenate([getattr(part, name) for part in parts]) for name in names})


def measure_frames(frames: Sequence[np.ndarray], *, photo: np.ndarray, box: Box) -> FrameMeasures:
    """Measure each frame; `box` is the photo's face box (the head moves a few pixels at most)."""
    boxes = regions(landmarks_in_box(photo, box))
    photo_detail = {name: detail(crop(photo, region)) for name, region in boxes.items()}
    rows = []
    for frame in frames:
        lm = landmarks_in_box(frame, box)
        iod = inter_ocular(lm)
        mask = open_mouth_mask(frame.shape, lm)
        rows.append(
            (
                float(np.linalg.norm(lm[66] - lm[62]) / iod),
                float(np.linalg.norm(lm[54] - lm[48]) / iod),
                int(mask.sum()),
                int(np.count_nonzero(luma(frame)[mask] < NEAR_BLACK_LUMA)),
                detail(crop(frame, boxes["face"])) / photo_detail["face"],
                detail(crop(frame, boxes["eyes"])) / photo_detail["eyes"],
            )
        )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    return FrameMeasures(*(np.asarray(column, dtype=np.float64) for column in columns))


def photo_mouth(photo: np.ndarray, box: Box) -> tuple[float, float]:
    """The photo's own (gap, width), in inter-ocular distances: what "closed" and "neutral" are."""
    measured = measure_frames([photo], photo=photo, box=box)
    return float(measured.gap[0]), float(measured.width[0])


def near_black_share(measured: FrameMeasures, photo_gap: float) -> float:
    """The near-black share of the open mouth's area, pooled over the frames whose mouth is open."""
    opened = measured.gap >= photo_gap + OPEN_GAP
    area = measured.mouth_area[opened].sum()
    return float(measured.near_black[opened].sum() / area) if area else 0.0


def width_range(measured: FrameMeasures, photo_width: float, speaking: np.ndarray) -> tuple[float, float]:
    """How much narrower and wider than the photo's the mouth gets while speaking: the 5th and 95th
    percentiles of width / photo width - 1 over the speaking frames (a single misplaced corner is ignored)."""
    relative = measured.width[np.asarray(speaking, dtype=bool)] / photo_width - 1.0
    if not len(relative):
        return 0.0, 0.0
    return float(np.percentile(relative, 5)), float(np.percentile(relative, 95))


def cavity_texture(frame: np.ndarray, landmarks: np.ndarray) -> float:
    """How textured the inside of a wide-open mouth is: the high-frequency energy of its darker 60% (the
    cavity, without teeth), away from the lips' edges, over its mean luma squared. A flat or smoothly
    shaded fill is near 0. Only for a mouth open wide on a raw frame: in a narrow gap the lips' edges
    dominate it, and H.264 smooths grain away."""
    import cv2  # heavy: see open_mouth_mask

    kernel = np.ones((5, 5), np.uint8)
    inner = cv2.erode(open_mouth_mask(frame.shape, landmarks).astype(np.uint8), kernel).astype(bool)
    grey = luma(frame)
    if inner.sum() < 20:
        return 0.0
    cavity = inner & (grey <= np.percentile(grey[inner], 60))
    cavity = cv2.erode(cavity.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if cavity.sum() < 10:
        return 0.0
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    return float(np.mean(laplacian[cavity] ** 2) / max(1.0, float(np.mean(grey[cavity]))) ** 2)


def lid_cover(photo: np.ndarray, frame: np.ndarray, landmarks: np.ndarray) -> float:
    """How far a shut eye's lid covers the eye, 0 (the photo's open eye) to 1 (lid skin all over it).

    Read where the photo's eyes are darkest (the irises: the darkest 30% inside each eye's landmarks,
    36-41 and 42-47): their luma in `frame` moved from the photo's towards the lid skin's (the middle of
    the band between the upper lid and the brow), averaged over both eyes. Landmarks are the photo's:
    dlib places its lids on a shut eye's lash line or crease alike, so it cannot tell a lid from an eye.
    """
    import cv2  # heavy: see open_mouth_mask

    lm = np.asarray(landmarks, dtype=np.float64)
    photo_luma, frame_luma = luma(photo), luma(frame)
    shares = []
    for eye, brow in ((lm[36:42], lm[17:22]), (lm[42:48], lm[22:27])):
        mask = np.zeros(photo.shape[:2], dtype=np.uint8)
        cv2.fillPoly(mask, [np.round(eye).astype(np.int32)], 1)
        inside = mask.astype(bool)
        iris = inside & (photo_luma <= np.percentile(photo_luma[inside], 30))
        upper, over = eye[[1, 2]], brow[[1, 3]]
        band = np.array([0.3 * over[0] + 0.7 * upper[0], 0.3 * over[1] + 0.7 * upper[1]])
        band = np.concatenate([band, [0.6 * over[1] + 0.4 * upper[1], 0.6 * over[0] + 0.4 * upper[0]]])
        skin_mask = np.zeros_like(mask)
        cv2.fillPoly(skin_mask, [np.round(band).astype(np.int32)], 1)
        skin = float(np.median(photo_luma[skin_mask.astype(bool)]))
        dark = float(photo_luma[iris].mean())
        shares.append((float(frame_luma[iris].mean()) - dark) / max(1.0, skin - dark))
    return float(np.mean(shares))


@dataclass(frozen=True)
class RollMeasures:
    """How a rolled head sits on its body (see roll_measures)."""

    roll: float  # degrees, as dlib reads the head's turn between the photo and the frame
    collar_change: float  # mean luma levels the rows under the neck changed by (0: the collar stayed put)
    hair_error: float  # mean luma levels the hair differs from the head turned as one piece (a halo: large)


def roll_measures(photo: np.ndarray, frame: np.ndarray, landmarks: np.ndarray, box: Box) -> RollMeasures:
    """A rolled head read back from its frame: the turn, the collar's change and the hair's.

    dlib's landmarks of the frame against the photo's give the head's rigid turn (a similarity fitted to
    the 68 points). The collar rows (from COLLAR_BELOW face heights under the chin down, a face wide) should
    not move: their mean change in luma levels. The hair (HAIR_BAND face heights over the brows, the jaw's
    width across) should turn with the head as one piece: its mean difference from the photo turned by that
    similarity; where the warp tears or smears the hair's edge into the background, it grows.
    """
    import cv2  # heavy: see open_mouth_mask

    lm = np.asarray(landmarks, dtype=np.float64)
    moved = landmarks_in_box(frame, box).astype(np.float64)
    turn, _ = cv2.estimateAffinePartial2D(lm.astype(np.float32), moved.astype(np.float32))
    roll = float(np.degrees(np.arctan2(turn[1, 0], turn[0, 0])))
    height, width = photo.shape[:2]
    (left, top), (right, bottom) = lm.min(axis=0), lm.max(axis=0)
    fh = bottom - top
    still, now = luma(photo), luma(frame)
    collar_top = int(min(height - 8, bottom + COLLAR_BELOW * fh))
    x0, x1 = int(max(0, left)), int(min(width, right))
    collar_change = float(np.abs(now[collar_top:, x0:x1] - still[collar_top:, x0:x1]).mean())
    turned = luma(cv2.warpAffine(photo, turn, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE))
    hair = (slice(int(max(0, top - HAIR_BAND * fh)), int(top)), slice(x0, x1))
    hair_error = float(np.abs(now[hair] - turned[hair]).mean())
    return RollMeasures(roll=roll, collar_change=collar_change, hair_error=hair_error)


def loudness_db(samples: np.ndarray, sample_rate: int, frames: int, fps: int) -> np.ndarray:
    """The RMS level of each video frame's own samples in dBFS, floored at LOUDNESS_FLOOR_DB."""
    per_frame = round(sample_rate / fps)
    rms = [np.sqrt(np.mean(np.square(samples[i * per_frame : (i + 1) * per_frame]))) for i in range(frames)]
    return np.maximum(20 * np.log10(np.maximum(np.nan_to_num(rms), 1e-9)), LOUDNESS_FLOOR_DB)


def pearson(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.corrcoef(first, second)[0, 1])


def embedding(image: np.ndarray, box: Box) -> np.ndarray:
    """dlib's identity embedding of the face in `box` (no detection: about 0.1 s a frame)."""
    import dlib  # heavy: loaded with the face models

    _, predictor, recognizer = _models()
    shape = predictor(np.ascontiguousarray(image[..., :3]), dlib.rectangle(*map(int, box)))
    return np.asarray(recognizer.compute_face_descriptor(np.ascontiguousarray(image[..., :3]), shape), np.float32)


def identity_distances(frames: Sequence[np.ndarray], *, photo: np.ndarray, box: Box) -> np.ndarray:
    """Each frame's identity distance to the photo (same person below about 0.6)."""
    reference = embedding(photo, box)
    return np.array([float(np.linalg.norm(embedding(frame, box) - reference)) for frame in frames])


# --- the portraits measured -----------------------------------------------------------------------------------

# Fictional faces only: OpenPeople's synthetic people (a pip-installed dataset, MIT; see docs/DEMO_PERSON.md)
# and scikit-image's public-domain astronaut. name -> (OpenPeople person and asset, or "astronaut"; what it is).
PORTRAITS: dict[str, tuple[str, str]] = {
    "astronaut": ("astronaut", "smiling with teeth, small face (about 90 px of 512)"),
    "neutral": ("P001/studio_portrait", "neutral, lips closed, frontal (the demo person)"),
    "smiling": ("P010/amateur_selfie", "broad smile with teeth, a selfie"),
    "three-quarter": ("P004/amateur_posture", "turned about 30 degrees, lips closed, outdoors"),
}
PORTRAIT_SIDE = 512
FACE_SHARE = 0.4  # a cropped portrait's face box is this share of its width


def portrait(name: str, side: int = PORTRAIT_SIDE) -> np.ndarray:
    """One of PORTRAITS as a side x side RGB image: the face's square surroundings, scaled down."""
    import cv2  # heavy: see open_mouth_mask
    import openpeople  # heavy: reads its dataset index on first use
    from PIL import Image  # heavy: only for decoding the dataset's JPEGs

    source = PORTRAITS[name][0]
    if source == "astronaut":
        from skimage import data  # heavy: scikit-image, for its public-domain test image

        return cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    person, asset = source.split("/")
    with Image.open(openpeople.curated.get(person).asset_path(asset)) as image:
        rgb = np.asarray(image.convert("RGB"))
    (left, top, right, bottom), _ = detect_faces(rgb)[0]
    half = min((right - left) / FACE_SHARE / 2, rgb.shape[0] / 2, rgb.shape[1] / 2)
    cx = float(np.clip((left + right) / 2, half, rgb.shape[1] - half))
    cy = float(np.clip((top + bottom) / 2, half, rgb.shape[0] - half))
    square = rgb[int(cy - half) : int(cy + half), int(cx - half) : int(cx + half)]
    return cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)
