"""Motion transfer: a photo made to do what the face in a driving video does, with that video's sound.

The driving video is probed before anything else reads it (it is an upload), followed into a
FaceMotion, and rendered on the photo by the same renderer that speech uses, so a transferred video
looks like every other talking head.
"""

import tempfile
from dataclasses import replace
from pathlib import Path

from media_jobs.engines.base import MotionTransferRequest, Progress, RenderedVideo
from media_jobs.engines.talking_head.render import portrait_face, render_request
from media_jobs.engines.talking_head.video_driver import MAX_DURATION_S, motion_from_video
from media_jobs.engines.video import extract_audio, probe_video

# Following the face costs about a third of rendering it: that share of the progress goes to it.
TRACKING_SHARE = 0.25


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
    request = replace(request, face=portrait_face(request))
    motion = motion_from_video(
        driving_video,
        max_duration=max_duration,
        duration=info.duration,
        progress=_part(progress, 0.0, TRACKING_SHARE),
    )
    with tempfile.TemporaryDirectory(prefix="transfer-") as scratch:
        audio = extract_audio(driving_video, Path(scratch) / "driving.wav", max_duration=max_duration)
        return render_request(request, motion=motion, audio=audio, progress=_part(progress, TRACKING_SHARE, 1.0))


def _part(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A progress callback for one stage, reporting into its share [start, end] of the whole."""
    if progress is None:
        return None
    return lambda fraction: progress(start + (end - start) * min(max(fraction, 0.0), 1.0))
