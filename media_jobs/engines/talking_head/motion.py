"""Face motion: what the face does in each frame, independent of whose face it is.

A driver turns a source of motion (speech with its phoneme timings, or a driving video) into a
FaceMotion; the renderer applies a FaceMotion to a photo. Every track holds one value per output
frame, at `fps`.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceMotion:
    fps: int
    # How far the jaw and lower lip drop: 0 closed (m, b, p), 1 a wide-open vowel. The renderer
    # scales it to the face: 1 opens the lips by about 40% of the mouth's width.
    jaw_open: np.ndarray
    # Lip shape: -1 rounded and narrow (o, u, w), 0 neutral, +1 spread wide (i, e).
    mouth_width: np.ndarray
    # How far each eye is closed: 0 open as in the photo, 1 shut (a blink).
    left_eye_closed: np.ndarray
    right_eye_closed: np.ndarray
    # Head pose relative to the photo, in degrees (small: a few degrees at most).
    head_yaw: np.ndarray
    head_pitch: np.ndarray
    head_roll: np.ndarray
    # Head translation relative to the photo, as a fraction of the face's width.
    head_dx: np.ndarray
    head_dy: np.ndarray
    # How far a smile the photo holds is let go: 0 held, 1 relaxed towards a neutral mouth. Speech lets
    # it go and pauses give it back; None holds it throughout (a driving video, whose own mouth decides).
    smile_relax: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return len(self.jaw_open)

    @classmethod
    def still(cls, frames: int, fps: int = 25) -> "FaceMotion":
        zeros = np.zeros(frames, dtype=np.float32)
        return cls(fps, *(zeros.copy() for _ in range(9)))
