"""A driving video as FaceMotion: what its face does, frame by frame, relative to its own rest pose.

The face is found with the detector on the first frame and again every second (or while it is lost),
and followed in between by placing dlib's landmark model in the box its previous landmarks give,
which costs a few milliseconds a frame. Measurements are ratios of landmark distances in the face's
own upright frame (divided by the distance between the eyes), so they do not depend on the face's
size or place in the picture. Each track is then read against the driver's own neutral: its mouth
closed is the narrowest opening it shows, its eyes open are its usual eyes, its head pose at rest is
its median pose. So the photo opens its mouth when, and as far as, the driver opens theirs.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from media_jobs.engines.base import EngineError
from media_jobs.engines.face import detect_faces, landmarks_in_box
from media_jobs.engines.talking_head.motion import FaceMotion
from media_jobs.engines.talking_head.render import WIDTH_RANGE
from media_jobs.engines.video import read_frames

FPS = 25
MAX_DURATION_S = 300.0
TRACK_SIDE = 640  # frames are tracked at this size: landmarks stay precise, detection stays fast
REDETECT_EVERY = FPS  # frames between checks that the tracked box still holds the face
SEARCH_EVERY = 5  # frames between searches while no face is tracked
MAX_MISSES = 2  # checks in a row that find no face before the tracked box is dropped
SMALL_FACE = 80  # pixels: the detector's smallest face without upsampling
MAX_JUMP = 0.3  # landmarks that move or scale by more than this share of the face in a frame are suspect

# "Closed" is the driver's own narrowest opening, but at most this gap (a fraction of the mouth's width),
# so a driver who never shuts their mouth still reads as opening it. A smile that shows its teeth rests
# at 0.13-0.15 (dlib, the astronaut): at 0.08 such a driver's closed mouth opened the photo's by a sixth.
CLOSED_GAP_MAX = 0.2
# FaceMotion's jaw_open 1 parts the lips by this fraction of the mouth's width (nominally: transfer.py
# scales it to what the renderer really does on the photo).
FULL_OPEN_GAP = 0.40
# FaceMotion's mouth_width ±1 is the mouth this much wider or narrower than at rest, as the renderer draws it.
FULL_SPREAD = WIDTH_RANGE
# Eyes: a lid lowered by less than the first fraction is noise; by the second fraction, shut.
BLINK_START, BLINK_FULL = 0.12, 0.65
# How far the nose tip stands in front of the eyes, in inter-ocular distances: turns its offset into degrees.
NOSE_DEPTH = 0.45
MAX_ANGLE_DEG = 10.0
MAX_SHIFT = 0.1  # of the face's width

# Signs and sides follow the renderer's conventions (image coordinates, y down): yaw > 0 turns the face
# to the image's right, pitch > 0 tips the nose down, roll > 0 is clockwise on screen, and the left eye
# is the subject's left (landmarks 42-47, on the image's right).
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)


class NoFaceInVideo(EngineError):
    """The driving video shows no face to follow."""


def motion_from_video(
    path: Path,
    *,
    fps: int = FPS,
    max_duration: float = MAX_DURATION_S,
    progress: Callable[[float], None] | None = None,
    duration: float | None = None,
) -> FaceMotion:
    """The driving video's face motion at `fps`, one value per output frame.

    Raises NoFaceInVideo when no face is found in any frame. Pass the probed `duration` for progress
    reports (0 to 1).
    """
    landmarks = _track(Path(path), fps=fps, max_duration=max_duration, progress=progress, duration=duration)
    found = ~np.isnan(landmarks[:, 0, 0])
    if not found.any():
        raise NoFaceInVideo("No face was found in the driving video; it must show one person facing the camera.")
    return _motion(_smooth(landmarks, found), found, fps)


def _track(
    path: Path, *, fps: int, max_duration: float, progress: Callable[[float], None] | None, duration: float | None
) -> np.ndarray:
    """(frames, 68, 2) landmarks in tracking pixels; NaN where no face was followed."""
    tracks: list[np.ndarray] = []
    box, anchor, misses, next_check, last = None, None, 0, 0, None
    nothing = np.full((68, 2), np.nan, dtype=np.float32)
    for index, (time, frame) in enumerate(read_frames(path, fps=fps, max_side=TRACK_SIDE, max_duration=max_duration)):
        if progress is not None and duration and index % fps == 0:
            progress(min(1.0, time / duration))
        if index >= next_check:
            # The detector finds faces down to ~80 px as they are, smaller ones only upsampled (4x slower).
            small = box is None or box[2] - box[0] < 1.25 * SMALL_FACE
            found = detect_faces(frame, upsample=1 if small else 0)
            if found:
                box, anchor, misses = _pick(found, box), None, 0
                next_check = index + REDETECT_EVERY
            else:
                misses += 1
                box = None if misses >= MAX_MISSES else box
                next_check = index + SEARCH_EVERY
        if box is None:
            tracks.append(nothing)
            last = None
            continue
        points = landmarks_in_box(frame, box)
        center, scale = points.mean(axis=0), _spread(points)
        if anchor is None:
            # Where the detector's box sits relative to the landmarks it gave, kept while tracking.
            anchor = (np.asarray(box, dtype=np.float32).reshape(2, 2) - center) / scale
        if last is not None and (
            abs(scale / last[1] - 1) > MAX_JUMP or np.hypot(*(center - last[0])) > MAX_JUMP * scale
        ):
            next_check = index + 1  # the landmarks jumped: make sure the face is still there
        left, top, right, bottom = (int(round(v)) for v in (center + anchor * scale).reshape(-1))
        box = (left, top, right, bottom)
        last = (center, scale)
        tracks.append(points)
    if not tracks:
        raise NoFaceInVideo("The driving video has no frames.")
    return np.stack(tracks)


def _pick(found: list, box: tuple | None) -> tuple[int, int, int, int]:
    """The detection that continues the tracked face (nearest to it), else the largest face."""
    if box is None:
        return found[0][0]
    center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    size = max(box[2] - box[0], 1)
    distances = [np.hypot((b[0] + b[2]) / 2 - center[0], (b[1] + b[3]) / 2 - center[1]) for b, _ in found]
    nearest = int(np.argmin(distances))
    return found[nearest][0] if distances[nearest] < size else found[0][0]


def _spread(points: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((points - points.mean(axis=0)) ** 2, axis=1)))) or 1.0


def _smooth(landmarks: np.ndarray, found: np.ndarray) -> np.ndarray:
    """A light [1, 2, 1] smoothing in time, within runs of tracked frames: it removes the landmark
    model's jitter but keeps a blink (three or four frames) visible."""
    smooth = landmarks.copy()
    inner = found[1:-1] & found[:-2] & found[2:]
    middle = np.flatnonzero(inner) + 1
    smooth[middle] = (landmarks[middle - 1] + 2 * landmarks[middle] + landmarks[middle + 1]) / 4
    return smooth


def measure_face(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame measurements in the face's upright frame, in inter-ocular distances."""
    right_eye, left_eye = landmarks[:, RIGHT_EYE].mean(axis=1), landmarks[:, LEFT_EYE].mean(axis=1)
    eye_line = left_eye - right_eye
    iod = np.maximum(np.linalg.norm(eye_line, axis=1), 1e-3)
    roll = np.arctan2(eye_line[:, 1], eye_line[:, 0])
    middle = (right_eye + left_eye) / 2
    cos, sin = np.cos(-roll), np.sin(-roll)
    offset = landmarks - middle[:, None]
    upright = (
        np.stack(
            [
                cos[:, None] * offset[..., 0] - sin[:, None] * offset[..., 1],
                sin[:, None] * offset[..., 0] + cos[:, None] * offset[..., 1],
            ],
            axis=-1,
        )
        / iod[:, None, None]
    )

    def distance(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(upright[:, a] - upright[:, b], axis=1)

    def eye_aspect(first: int) -> np.ndarray:
        p = first
        vertical = distance(p + 1, p + 5) + distance(p + 2, p + 4)
        return vertical / (2 * np.maximum(distance(p, p + 3), 1e-6))

    return {
        "gap": (distance(61, 67) + distance(62, 66) + distance(63, 65)) / 3,
        "width": distance(48, 54),
        "right_ear": eye_aspect(36),
        "left_ear": eye_aspect(42),
        "roll": np.degrees(roll),
        "nose_x": upright[:, 30, 0],
        "nose_y": upright[:, 30, 1],
        "x": middle[:, 0],
        "y": middle[:, 1],
        "face_width": np.linalg.norm(landmarks[:, 16] - landmarks[:, 0], axis=1),
    }


def _fill(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Frames without a face take values interpolated from their tracked neighbours."""
    index = np.arange(len(values))
    return np.interp(index, index[found], values[found]).astype(np.float32)


def _motion(landmarks: np.ndarray, found: np.ndarray, fps: int) -> FaceMotion:
    measured = {name: np.where(found, values, np.nan) for name, values in measure_face(landmarks).items()}
    seen = {name: values[found] for name, values in measured.items()}

    width_rest = float(np.median(seen["width"]))
    opening = measured["gap"] / width_rest
    closed = min(float(np.percentile(seen["gap"] / width_rest, 5)), CLOSED_GAP_MAX)
    jaw_open = np.clip((opening - closed) / FULL_OPEN_GAP, 0.0, 1.0)
    mouth_width = np.clip((measured["width"] / width_rest - 1.0) / FULL_SPREAD, -1.0, 1.0)

    def eye_closed(name: str) -> np.ndarray:
        open_ear = float(np.median(seen[name]))
        lowered = 1.0 - measured[name] / open_ear
        return np.clip((lowered - BLINK_START) / (BLINK_FULL - BLINK_START), 0.0, 1.0)

    def angle(name: str) -> np.ndarray:
        shift = np.clip((measured[name] - float(np.median(seen[name]))) / NOSE_DEPTH, -1.0, 1.0)
        return np.clip(np.degrees(np.arcsin(shift)), -MAX_ANGLE_DEG, MAX_ANGLE_DEG)

    face_width = float(np.median(seen["face_width"]))

    def shift(name: str) -> np.ndarray:
        return np.clip((measured[name] - float(np.median(seen[name]))) / face_width, -MAX_SHIFT, MAX_SHIFT)

    tracks = {
        "jaw_open": jaw_open,
        "mouth_width": mouth_width,
        "left_eye_closed": eye_closed("left_ear"),
        "right_eye_closed": eye_closed("right_ear"),
        "head_yaw": angle("nose_x"),
        "head_pitch": angle("nose_y"),
        "head_roll": np.clip(measured["roll"] - float(np.median(seen["roll"])), -MAX_ANGLE_DEG, MAX_ANGLE_DEG),
        "head_dx": shift("x"),
        "head_dy": shift("y"),
    }
    return FaceMotion(fps=fps, **{name: _fill(values, found) for name, values in tracks.items()})
