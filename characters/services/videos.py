"""Videos a client sends: probed for what they really are before anything is stored.

A video's claims (its name, its type, the client's declared duration and resolution) are never
trusted; the container, codecs, duration and size come from decoding it.
"""

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from characters.models import Person, ProfileVideo
from characters.services.persons import person_require_editable
from characters.services.photos import Photo, photo_from_bytes
from media_jobs.engines.face import detect_faces
from media_jobs.engines.video import (
    InvalidVideo,
    VideoInfo,
    probe_video,
    read_frames,
    resolution_label,
    resolution_matches,
)
from persona_platform.errors import InvalidInput, InvalidMedia
from persona_platform.media import guarded_files, random_name

VIDEO_DIRECTORY = "persons/videos"
# A replica's training video is a short clip of the person; frames are sampled at this rate.
TRAINING_VIDEO_SECONDS = 120
TRAINING_SAMPLE_FPS = 2
TRAINING_SAMPLE_SIDE = 1024


@contextmanager
def probed_video(data: bytes, *, field: str, max_duration: float | None = None) -> Iterator[tuple[Path, VideoInfo]]:
    """The bytes as a temporary file and what probing found; InvalidMedia (400) if they are not a video."""
    with tempfile.NamedTemporaryFile(suffix=".video") as handle:
        handle.write(data)
        handle.flush()
        path = Path(handle.name)
        try:
            info = probe_video(path, max_duration=max_duration or settings.MAX_VIDEO_SECONDS)
        except InvalidVideo as exc:
            raise InvalidMedia(f"{field}: {exc}") from None
        yield path, info


def duration_matches(declared: float, measured: float) -> bool:
    """Declared whole seconds are right within a second (or 5% of a long video)."""
    return abs(declared - measured) <= max(1.0, 0.05 * measured)


def profile_video_add(
    *,
    person: Person,
    data: bytes,
    title: str,
    description: str = "",
    declared_duration: float,
    declared_resolution: str,
    field: str = "file",
) -> ProfileVideo:
    """Store a video on a persona's profile once probing has shown it is a video within the limits. What
    the client declared is kept beside what was measured, not checked against it: a phone's rounded
    duration or a re-encode's new size is no reason to refuse a good video, and the measured values are
    the ones everything else uses."""
    person_require_editable(person=person)
    with probed_video(data, field=field) as (_, info):
        pass
    with guarded_files() as files, transaction.atomic():
        video = ProfileVideo(
            workspace_id=person.workspace_id,
            person=person,
            title=title,
            description=description,
            container=info.container,
            video_codec=info.video_codec,
            audio_codec=info.audio_codec or "",
            duration=round(info.duration, 3),
            width=info.width,
            height=info.height,
            declared_duration=declared_duration,
            declared_resolution=declared_resolution.strip(),
        )
        video.file.name = files.save(random_name(VIDEO_DIRECTORY, info.container), data)
        video.full_clean(exclude=["workspace", "person", "file"])
        video.save()
    return video


def profile_video_report(video: ProfileVideo) -> dict:
    """What the client declared beside what probing measured, and whether the two agree (the duration
    within a second or 5%, the resolution by any usual name: "1080p", "4k", "1920x1080")."""
    matches = (video.declared_duration is None or duration_matches(video.declared_duration, video.duration)) and (
        not video.declared_resolution or resolution_matches(video.declared_resolution, video.width, video.height)
    )
    return {
        "declared": {"duration": video.declared_duration, "resolution": video.declared_resolution},
        "measured": {
            "duration": video.duration,
            "resolution": resolution_label(video.width, video.height),
            "width": video.width,
            "height": video.height,
        },
        "matches_declared": matches,
    }


def photo_from_video(data: bytes, *, field: str) -> Photo:
    """The clearest frame of a short training video that shows one face, as a photo."""
    with probed_video(data, field=field, max_duration=TRAINING_VIDEO_SECONDS) as (path, _):
        best, best_score = None, 0.0
        for _, frame in read_frames(path, fps=TRAINING_SAMPLE_FPS, max_side=TRAINING_SAMPLE_SIDE):
            faces = detect_faces(frame)
            if not faces:
                continue
            (left, top, right, bottom), score = faces[0]
            # A larger, more confident, sharper face makes the better portrait.
            score *= (right - left) * (bottom - top) * _sharpness(frame[max(top, 0) : bottom, max(left, 0) : right])
            if score > best_score:
                best, best_score = frame, score
    if best is None:
        raise InvalidInput(f"{field}: no face was found in the video; film the person facing the camera.")
    out = io.BytesIO()
    Image.fromarray(best).save(out, format="JPEG", quality=95)
    return photo_from_bytes(out.getvalue(), field=field)


def video_shows_face(path: Path, *, within_seconds: float = 10.0) -> bool:
    """Whether a face appears early in the video: cheap enough to check before queueing a job."""
    frames = read_frames(path, fps=TRAINING_SAMPLE_FPS, max_side=640, max_duration=within_seconds)
    return any(detect_faces(frame) for _, frame in frames)


def _sharpness(region: np.ndarray) -> float:
    """Variance of the Laplacian: motion-blurred frames score low."""
    import cv2  # heavy: OpenCV loads only in the processes that check training videos

    if region.size == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()) + 1.0
