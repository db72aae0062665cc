"""The visible disclosure: a small "AI-generated" label burned into the bottom-right corner of a video's frames.

It is drawn once per video and blended into each frame just while that frame is written: the renderer reuses
one frame buffer and repaints only the face, so a label left in the buffer would be blended again and again.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

TEXT = "AI-generated"
TEXT_SHARE = 0.025  # the letters' height, as a share of the frame's shorter side: 26 px at 1024, 13 px at 512
MIN_TEXT_PX = 10  # below this the letters stop being legible (a 256 px preview)
BOX_OPACITY = 0.55  # the dark box behind the letters; the letters themselves are opaque white


class DisclosureLabel:
    """The label for frames of one size, its box inside the frame with a margin."""

    def __init__(self, *, width: int, height: int):
        import cv2  # heavy: OpenCV loads when a worker first renders, not when the engine is imported

        font = cv2.FONT_HERSHEY_SIMPLEX
        text_px = max(MIN_TEXT_PX, round(min(width, height) * TEXT_SHARE))
        thickness = max(1, text_px // 12)
        scale = cv2.getFontScaleFromHeight(font, text_px, thickness)
        (text_w, text_h), baseline = cv2.getTextSize(TEXT, font, scale, thickness)
        pad = max(2, text_px // 3)
        box_w, box_h = min(width, text_w + 2 * pad), min(height, text_h + baseline + 2 * pad)
        right, bottom = width - pad, height - pad
        self.box = (max(0, right - box_w), max(0, bottom - box_h), right, bottom)
        letters = np.zeros((box_h, box_w), dtype=np.uint8)
        cv2.putText(letters, TEXT, (pad, pad + text_h), font, scale, 255, thickness, cv2.LINE_AA)
        x0, y0, x1, y1 = self.box
        letters = letters[: y1 - y0, : x1 - x0]
        alpha = BOX_OPACITY + (1.0 - BOX_OPACITY) * (letters.astype(np.float32) / 255.0)
        self._keep = (1.0 - alpha)[..., None]
        self._ink = (255.0 * (letters.astype(np.float32) / 255.0) * alpha)[..., None] + 0.5  # white letters

    @contextmanager
    def drawn_on(self, frame: np.ndarray) -> Iterator[np.ndarray]:
        """The frame with the label in it, for as long as the block runs; the pixels under it come back after."""
        x0, y0, x1, y1 = self.box
        region = frame[y0:y1, x0:x1]
        clean = region.copy()
        region[:] = (clean * self._keep + self._ink).astype(np.uint8)
        try:
            yield frame
        finally:
            region[:] = clean
