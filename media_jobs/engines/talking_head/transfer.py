"""Motion transfer: a photo made to do what the face in a driving video does, with that video's sound.

The driving video is probed before anything else reads it (it is an upload), followed into a
FaceMotion, and rendered on the photo by the same renderer that speech uses, so a transferred video
looks like every other talking head.
"""

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from media_jobs.engines.base import Face, MotionTransferRequest, Progress, RenderedVideo
from media_jobs.engines.face import landmarks_in_box
from media_jobs.engines.talking_head.motion import FaceMotion
from media_jobs.engines.talking_head.render import MAX_SIDE, animate, fit_photo, portrait_face, render_request
from media_jobs.engines.talking_head.video_driver import FULL_OPEN_GAP, MAX_DURATION_S, measure_face, motion_from_video
from media_jobs.engines.video import extract_audio, probe_video

# Following the face costs about a third of rendering it: that share of the progress goes to it.
TRACKING_SHARE = 0.25
# The openings the photo is rendered at, and read back, to learn how far its lips really part.
PROBE_JAW = (0.5, 1.0)
# Whatever the read-back says (dlib misreads a frame now and then), jaw_open is scaled by no less and no
# more than these, and never past MAX_JAW: further, the warp stretches the chin too far.
SCALE_LIMITS = (0.75, 1.6)
MAX_JAW = 1.25


def transfer_motion(
    request: MotionTransferRequest, *, progress: Progress | None = None, max_duration: float = MAX_DURATION_S
) -> RenderedVideo:
    """Render the request's photo moving as the face in its driving video moves, as an MP4 at its out_path.

    Raises InvalidVideo for a driving video that is not a usable video (or is longer than
    max_duration), NoFaceInVideo when it shows no face, FaceNotFound/SeveralFaces for the photo.
    """
    driving_video = Path(request.driving_video)
    info = probe_video(driving_video, max_duration=max_duration)
    # The photo's face before the video is followed: a photo without one fails at once.
    face = portrait_face(request)
    request = replace(request, face=face)
    motion = motion_from_video(
        driving_video,
        max_duration=max_duration,
        duration=info.duration,
        progress=_part(progress, 0.0, TRACKING_SHARE),
    )
    motion = replace(motion, jaw_open=jaw_on_photo(motion.jaw_open, photo=request.photo, face=face))
    with tempfile.TemporaryDirectory(prefix="transfer-") as scratch:
        audio = extract_audio(driving_video, Path(scratch) / "driving.wav", max_duration=max_duration)
        return render_request(request, motion=motion, audio=audio, progress=_part(progress, TRACKING_SHARE, 1.0))


def jaw_on_photo(jaw_open: np.ndarray, *, photo: np.ndarray, face: Face) -> np.ndarray:
    """The jaw_open that parts this photo's lips as far as the driver's parted.

    FaceMotion's jaw_open 1 means a gap of FULL_OPEN_GAP of the mouth's width, but the renderer's warp parts
    the inner lips by 0.28-0.41 of it as dlib reads them back (least on a smile with teeth), so a
    transferred mouth moved 0.66-0.78x as far as the driver's on such photos. The photo is rendered at
    PROBE_JAW and read back the way the driver was read; the gap per unit of jaw_open (a least-squares
    line through the rest) sets the scale.
    """
    frame, landmarks = fit_photo(photo, np.asarray(face.landmarks, dtype=np.float32), MAX_SIDE)
    scale = frame.shape[1] / photo.shape[1]
    left, top, right, bottom = (int(round(value * scale)) for value in face.box)
    box = (left, top, right, bottom)
    jaws = np.array((0.0, *PROBE_JAW), dtype=np.float32)
    rest = np.zeros_like(jaws)
    probe = FaceMotion(1, jaws, *(rest for _ in range(8)))
    read = measure_face(np.stack([landmarks_in_box(picture, box) for picture in animate(frame, landmarks, probe)]))
    parted = (read["gap"] - read["gap"][0]) / read["width"][0]
    per_jaw = float(parted @ jaws / (jaws @ jaws))
    gain = np.clip(FULL_OPEN_GAP / max(per_jaw, 1e-3), *SCALE_LIMITS)
    return np.clip(np.asarray(jaw_open, dtype=np.float32) * gain, 0.0, MAX_JAW).astype(np.float32)


def _part(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A progress callback for one stage, reporting into its share [start, end] of the whole."""
    if progress is None:
        return None
    return lambda fraction: progress(start + (end - start) * min(max(fraction, 0.0), 1.0))
