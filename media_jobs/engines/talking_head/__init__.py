"""Talking heads on the CPU: a photo and a source of motion (speech, or a driving video) → an MP4.

The speech driver and the motion-transfer driver each turn their input into a FaceMotion; the
renderer applies a FaceMotion to the photo. The registry imports this package only when a worker first
renders, so OpenCV (which the renderer needs) loads there and not in web processes.
"""

from pathlib import Path
from typing import ClassVar

from media_jobs.engines.base import MotionTransferRequest, Progress, RenderedVideo, SpeechVideoRequest
from media_jobs.engines.talking_head import transfer
from media_jobs.engines.talking_head.render import render_request
from media_jobs.engines.talking_head.speech_driver import speech_motion_from_file

__all__ = ["LocalTalkingHead", "RenderedVideo"]


class LocalTalkingHead:
    """Landmark-driven warps of the photo itself: no model weights, no GPU, a few ms per frame."""

    name: ClassVar[str] = "local"

    def render_speech(self, request: SpeechVideoRequest, *, progress: Progress | None = None) -> RenderedVideo:
        """The photo speaking the request's audio; one frame per 40 ms of audio.

        A request without the photo's face has it analysed here (~0.1 s); the seed picks blinks and head sway.
        """
        audio = Path(request.audio)
        motion = speech_motion_from_file(audio=audio, phonemes=request.phonemes, seed=request.seed)
        return render_request(request, motion=motion, audio=audio, progress=progress)

    def transfer_motion(self, request: MotionTransferRequest, *, progress: Progress | None = None) -> RenderedVideo:
        """The photo's face doing what the face in the driving video does, with that video's sound."""
        return transfer.transfer_motion(request, progress=progress)
