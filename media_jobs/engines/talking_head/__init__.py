"""Talking heads on the CPU: a photo and a source of motion (speech, or a driving video) → an MP4.

The speech driver and the motion-transfer driver each turn their input into a FaceMotion; the
renderer applies a FaceMotion to the photo. The registry imports this package only when a worker first
renders, so OpenCV (which the renderer needs) loads there and not in web processes.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from media_jobs.engines.base import Face, PhonemeTiming, Progress, RenderedVideo
from media_jobs.engines.face import analyze_face
from media_jobs.engines.talking_head import transfer
from media_jobs.engines.talking_head.render import render_video
from media_jobs.engines.talking_head.speech_driver import speech_motion_from_file

__all__ = ["LocalTalkingHead", "RenderedVideo"]


class LocalTalkingHead:
    """Landmark-driven warps of the photo itself: no model weights, no GPU, a few ms per frame."""

    name: ClassVar[str] = "local"

    def render_speech(
        self,
        *,
        photo: np.ndarray,
        audio: Path,
        phonemes: Sequence[PhonemeTiming],
        out_path: Path,
        face: Face | None = None,
        preview: bool = False,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> RenderedVideo:
        """The photo speaking `audio` (phonemes: its timings); one frame per 40 ms of audio.

        face: the photo's face if already analysed (saves ~0.1 s); seed picks blinks and head sway.
        """
        if face is None:
            face = analyze_face(photo, embed=False)
        motion = speech_motion_from_file(audio=Path(audio), phonemes=phonemes, seed=seed)
        return render_video(
            photo=photo,
            face=face,
            motion=motion,
            audio=Path(audio),
            out_path=out_path,
            preview=preview,
            progress=progress,
        )

    def transfer_motion(
        self,
        *,
        photo: np.ndarray,
        driving_video: Path,
        out_path: Path,
        face: Face | None = None,
        preview: bool = False,
        progress: Progress | None = None,
    ) -> RenderedVideo:
        """The photo's face doing what the face in `driving_video` does, with that video's sound."""
        return transfer.transfer_motion(
            photo=photo, driving_video=driving_video, out_path=out_path, face=face, preview=preview, progress=progress
        )
