"""FaceMotion + photo → H.264/AAC MP4 of the whole photo with its face animated, on the CPU.

Everything is a backward warp built from the photo's 68 landmarks and applied with cv2.remap to
the face's region of interest only; the rest of every frame is the photo itself, byte for byte.

- Mouth: per unit of jaw_open and mouth_width, a displacement field over the lower face is
  precomputed. The jaw field has a step along the line between the lips: everything under it (lower
  lip, chin, lower teeth when the photo shows them) drops, the upper lip lifts a little, the cheeks
  and the neck stretch smoothly. The width fields (one to spread, one to round) move the corners by
  up to WIDTH_RANGE / 2 of the mouth's width each, the lips' sides most and their middle least, and
  fade out before the face's outline; the jaw opens the mouth as the width warp has shaped it. The
  gap that opens is painted as a mouth, with sub-pixel, anti-aliased edges: a cavity of the lips'
  own tissue in shade (dark only at a small throat core, never a flat near-black fill), a tongue,
  teeth coloured from the photo's own teeth or the whites of its eyes where the photo shows none,
  and a fixed grain as strong as the photo's own, so the inside reads as tissue.
- Eyes: the upper lid comes down over the eye: its lash line and the lid just above slide down
  unchanged, the plain skin under the brow stretches to follow, the eye stays put under it, and the
  lower lid rises a little to meet it; the lids' edges are anti-aliased by coverage.
- Head: small rotations and shifts of the head region, with a weight that falls smoothly to zero
  before the region's border, so nothing tears and the background outside never moves. Yaw and
  pitch move each point by its depth on an ellipsoid (the nose most), a 2-D stand-in for turning.

Conventions (image coordinates, y down): head_yaw > 0 turns the face towards the image's right,
head_pitch > 0 tips the nose down, head_roll > 0 rotates the head clockwise on screen, head_dx/dy > 0
move it right/down. left_eye_closed is the subject's left eye (landmarks 42–47, on the image's right).

The mouth and eye warps live in the face's own frame and the head motion moves that frame: per output
pixel, the head's map says where in the face's frame it is, the local fields are read there, and the
photo is resampled once through the composed map (bicubic, from a copy of the photo Fourier-interpolated to
twice its size where the photo has detail near the pixel's scale to keep); the painted mouth and the lids'
edges are drawn through the same map, so they move with the head. A frame whose motion is all zero is the
photo, unchanged.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media_jobs.engines.base import EngineError, Face, PortraitVideoRequest, Progress, RenderedVideo
from media_jobs.engines.face import analyze_face
from media_jobs.engines.talking_head.disclosure import DisclosureLabel
from media_jobs.engines.talking_head.encode import VideoWriter
from media_jobs.engines.talking_head.motion import FaceMotion

MAX_SIDE = 1024
PREVIEW_MAX_SIDE = 256
STILL = 1e-3  # motion values below this are no motion
JAW_GAP = 0.40  # jaw_open 1 opens the lips by this share of the mouth's width (see FaceMotion)
LIP_LIFT = 0.12  # the upper lip rises by this share of the lower lip's drop
CHIN_SHARE = 0.8  # the chin drops by this share of the lower lip's drop
SMILE_WIDTH_SCALE = 0.5  # a photo showing its teeth: the share of a rounding its lips make while it holds its smile
RELAXED_WIDTH_SCALE = 0.5  # ... and once the smile is let go while speaking (spreading takes the whole range)
SMILE_RELAX = 0.15  # a let-go smile narrows like this much of a rounding (mouth_width -SMILE_RELAX) ...
CORNER_DROP = 0.03  # ... and its corners come down by this share of the mouth's width
OPEN_NARROWS = 0.4  # a smile with teeth narrows by this much of a rounding per unit of jaw_open ...
MOST_ROUNDED = 0.55  # ... down to this rounding at most (the most its speech reaches: identity holds there)
CHEEK_RISE = 1.0  # a smile's cheeks follow its corners up beside the nose this share of the way to lm 29
WIDTH_RANGE = 0.32  # mouth_width +1 makes the mouth this much wider, -1 this much narrower (corner to corner)
EYE_MEET = 0.8  # a shut eye's lids meet this far down the open eye (the lower lid rises the rest)
LID_OVERLAP = 0.05  # of the eye's width: how far a shut upper lid reaches over the lower lid's rim
LASH_BAND = 0.1  # of the lid's skin between brow and lash line, the lower share slides down unstretched
PROGRESS_EVERY = 10  # frames
# The head region (FaceRig._head_fields): an arc HAIR_WIDTH of the jaw's width across and HAIR_HEIGHT face
# heights over the brows holds the head and its hair; the head's motion fades out over HEAD_RAMP face widths
# of background around it and NECK_RAMP face heights under the jaw. The ROI leaves room for both.
HAIR_WIDTH = 0.72
HAIR_HEIGHT = 0.7
HEAD_RAMP = 0.5
NECK_RAMP = 0.35
ROI_SIDE = 0.75  # face widths beside the landmarks
ROI_ABOVE = 1.1  # face heights above them
BAND = 16  # rows: a moving head is resampled in bands cut to where it moves (FaceRig._head_bands)
# Every warp reads bicubic. A face with detail near the pixel's own scale is read from a copy at twice the size
# (Fourier interpolated, once per photo), where that detail is far from the pixel's scale and bicubic keeps it
# all; a face without (a photo scaled up to the video's size) is read as it is, when that keeps this share of
# the face's own detail half a pixel off (FaceRig._reading_scale). That read goes through the photo's bicubic
# picture sampled at every QUARTER_STEPS-th of a pixel once per photo (quartered()) and read bilinear between
# the samples: OpenCV's bilinear remap is vectorized and its bicubic one is not, 4.6x the time.
CUBIC_KEEPS = 0.97
QUARTER_STEPS = 4
BICUBIC_A = -0.75  # OpenCV's bicubic kernel (its INTER_CUBIC), which quartered() samples
DOUBLING_PAD = 32  # pixels mirrored around the ROI before its Fourier doubling, so its edges do not ring


def fit_photo(photo: np.ndarray, landmarks: np.ndarray, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo at most max_side on its longer side with even dimensions (yuv420p), landmarks to match.

    A photo small enough keeps its pixels (an odd last row or column is dropped); a larger one is
    scaled down with area averaging.
    """
    import cv2  # heavy: OpenCV loads when a worker first renders, not when the engine is imported

    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    if photo.ndim != 3 or photo.shape[2] < 3 or photo.dtype != np.uint8:
        raise EngineError("The photo must be an RGB image (height x width x 3, uint8).")
    photo = photo[..., :3]
    height, width = photo.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        out_w = max(2, int(width * scale) // 2 * 2)
        out_h = max(2, int(height * scale) // 2 * 2)
        frame = cv2.resize(photo, (out_w, out_h), interpolation=cv2.INTER_AREA)
        factors = np.array([out_w / width, out_h / height], dtype=np.float32)
        return np.ascontiguousarray(frame), (landmarks * factors).astype(np.float32)
    out_h, out_w = height // 2 * 2, width // 2 * 2
    if out_h < 2 or out_w < 2:
        raise EngineError("The photo is too small.")
    return np.ascontiguousarray(photo[:out_h, :out_w]), landmarks.astype(np.float32)


# Framing: the whole photo, or head and shoulders cropped around the face (a square SHOULDERS_SPAN face
# widths across, its top HAIR_ROOM face heights above the brows), at the photo's own size or a resolution.
FRAMINGS = ("photo", "head_and_shoulders")
SHOULDERS_SPAN = 3.2
HAIR_ROOM = 0.9
MAX_RESOLUTION = 1080  # the tallest output (1080p); its width follows the framing's aspect


def frame_photo(
    photo: np.ndarray, landmarks: np.ndarray, *, framing: str = "photo", resolution: int | None = None, preview=False
) -> tuple[np.ndarray, np.ndarray]:
    """The picture a video shows, with the landmarks in its pixels: the photo or its head and shoulders,
    at `resolution` pixels tall when given (scaled once, per photo: Lanczos up, area averaging down),
    else at the photo's own size capped at MAX_SIDE; a preview is capped at PREVIEW_MAX_SIDE."""
    import cv2  # heavy: see fit_photo

    if framing not in FRAMINGS:
        raise EngineError(f"Unknown framing {framing!r}; one of {', '.join(FRAMINGS)}.")
    if resolution is not None and not 64 <= resolution <= MAX_RESOLUTION:
        raise EngineError(f"The resolution must be 64 to {MAX_RESOLUTION} pixels tall, not {resolution}.")
    photo, landmarks = fit_photo(photo, landmarks, max(photo.shape[:2]))  # checked, even sides
    if framing == "head_and_shoulders":
        photo, landmarks = _head_and_shoulders(photo, landmarks)
    if preview or resolution is None:
        return fit_photo(photo, landmarks, PREVIEW_MAX_SIDE if preview else MAX_SIDE)
    height, width = photo.shape[:2]
    out_h = resolution // 2 * 2
    out_w = max(2, round(width * out_h / height / 2) * 2)
    if (out_w, out_h) == (width, height):
        return photo, landmarks
    interpolation = cv2.INTER_AREA if out_h < height else cv2.INTER_LANCZOS4
    frame = cv2.resize(photo, (out_w, out_h), interpolation=interpolation)
    factors = np.array([out_w / width, out_h / height], dtype=np.float32)
    return np.ascontiguousarray(frame), (landmarks * factors).astype(np.float32)


def _head_and_shoulders(photo: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A square around the face with room for the hair above and the shoulders below, inside the photo
    (smaller where the photo is, even sides)."""
    height, width = photo.shape[:2]
    left, top = landmarks.min(axis=0)
    right, bottom = landmarks.max(axis=0)
    face_w, face_h = right - left, bottom - top
    side = min(SHOULDERS_SPAN * face_w, width, height) // 2 * 2
    x0 = int(np.clip(round((left + right) / 2 - side / 2), 0, width - side))
    y0 = int(np.clip(round(top - HAIR_ROOM * face_h), 0, height - side))
    side = int(side)
    crop = np.ascontiguousarray(photo[y0 : y0 + side, x0 : x0 + side])
    return crop, (landmarks - np.array([x0, y0], dtype=np.float32)).astype(np.float32)


LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601


def _unit_luma(colour: np.ndarray) -> np.ndarray:
    """The colour scaled to luma 1: a tint that a luma map multiplies into a colour."""
    return (np.asarray(colour, dtype=np.float64) / max(1.0, float(colour @ LUMA))).astype(np.float32)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _laplacian_energy(grey: np.ndarray) -> float:
    laplacian = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    return float(np.mean(laplacian**2))


def doubled(image: np.ndarray) -> np.ndarray:
    """The image at twice its size, band-limited (Fourier) interpolation: sample (2y, 2x) is pixel (y, x), and the
    samples between are what the pixels' own frequencies put there, so a read between pixels keeps the detail
    that any short kernel (Lanczos's 8 taps too) loses half a pixel off. Mirrored DOUBLING_PAD pixels around it
    keep the periodic transform from wrapping one edge into the other."""
    height, width = image.shape[:2]
    pad = DOUBLING_PAD
    samples: np.ndarray = np.pad(
        image.astype(np.float32), ((pad, pad + height % 2), (pad, pad + width % 2), (0, 0)), mode="symmetric"
    )
    for axis in (0, 1):
        length = samples.shape[axis]  # even
        spectrum = np.fft.rfft(samples, axis=axis)
        nyquist = [slice(None)] * spectrum.ndim
        nyquist[axis] = slice(length // 2, length // 2 + 1)
        spectrum[tuple(nyquist)] *= 0.5  # the Nyquist term splits between +f and -f once it is not Nyquist
        samples = np.fft.irfft(spectrum, n=2 * length, axis=axis) * 2.0
    out = np.clip(samples[2 * pad : 2 * (pad + height), 2 * pad : 2 * (pad + width)] + 0.5, 0, 255).astype(np.uint8)
    out[::2, ::2] = image  # exact, not within a rounding: a read at whole pixels is the photo, byte for byte
    return out


def _bicubic_taps(offset: float) -> np.ndarray:
    """The four weights of OpenCV's bicubic kernel for a read `offset` (0-1) past a pixel, pixels -1 to +2."""
    a, x = BICUBIC_A, offset
    taps = [
        ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a,
        ((a + 2) * x - (a + 3)) * x * x + 1,
        ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1,
    ]
    return np.array([*taps, 1.0 - sum(taps)], dtype=np.float32)


def quartered(image: np.ndarray) -> np.ndarray:
    """The image's bicubic picture at QUARTER_STEPS times its size: sample (4y, 4x) is pixel (y, x), the samples
    between are the bicubic read there (edges replicated), each rounded once. A bilinear read of it is within
    a level or two of the bicubic read of the image, and 4.6x faster; between samples it keeps 0.99x of a
    scaled-up face's detail (the quarter step is far from that picture's own scale, as the doubled copy's half
    step is from a sharp photo's)."""
    import cv2  # heavy: see fit_photo

    steps = QUARTER_STEPS
    height, width = image.shape[:2]
    samples = image.astype(np.float32)
    across = np.empty((height, width, steps, 3), dtype=np.float32)
    for step in range(steps):
        kernel = _bicubic_taps(step / steps)[None, :]
        across[:, :, step] = cv2.filter2D(samples, -1, kernel, anchor=(1, 0), borderType=cv2.BORDER_REPLICATE)
    wide = across.reshape(height, width * steps, 3)
    rows = np.empty((height, steps, width * steps, 3), dtype=np.uint8)
    for step in range(steps):
        kernel = _bicubic_taps(step / steps)[:, None]
        down = np.asarray(cv2.filter2D(wide, -1, kernel, anchor=(0, 1), borderType=cv2.BORDER_REPLICATE), np.float32)
        down += np.float32(0.5)
        rows[:, step] = np.clip(down, 0, 255, out=down)  # in place: each float step is as large as the copy
    out = rows.reshape(height * steps, width * steps, 3)
    out[::steps, ::steps] = image  # exact, not within a rounding: a read at whole pixels is the photo, byte for byte
    return out


def _lid_curve(cols: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A lid's edge through its four landmarks (corner, two on the lid, corner) as a smooth cubic, not a
    polyline whose kinks a closing lid would carry across the eye; beyond the corners, the corner's height."""
    xs, ys = points[:, 0], points[:, 1]
    if np.any(np.diff(xs) <= 0.5):  # a degenerate eye: the polyline is all there is
        return np.interp(cols, xs, ys)
    curve = np.polyval(np.polyfit(xs - xs[0], ys, 3), np.clip(cols, xs[0], xs[-1]) - xs[0])
    return np.clip(curve, ys.min() - 0.25 * np.ptp(ys) - 1.0, ys.max() + 0.25 * np.ptp(ys) + 1.0)


def _median_colour(
    image: np.ndarray, polygons: Sequence[np.ndarray], minus: Sequence[np.ndarray] = (), top: float = 1.0
) -> np.ndarray | None:
    """Median RGB inside the polygons (less the `minus` ones); `top` keeps only the brightest share."""
    import cv2  # heavy: see fit_photo

    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    for polygon in polygons:
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    for polygon in minus:
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 0)
    pixels = image[mask.astype(bool)].astype(np.float32)
    if len(pixels) == 0:
        return None
    if top < 1.0:
        brightness = pixels.sum(axis=1)
        pixels = pixels[brightness >= np.quantile(brightness, 1.0 - top)]
    return np.median(pixels, axis=0)


@dataclass
class _Eye:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in ROI pixels
    upper: np.ndarray  # per column of the box: upper lid y (ROI pixels)
    lower: np.ndarray  # lower lid y
    top: np.ndarray  # where the stretched lid skin starts (between brow and lid)
    bottom: np.ndarray  # where the lower lid's stretch ends
    cols: np.ndarray  # ROI x of the box's columns
    width: float  # corner to corner


class FaceRig:
    """Everything about one photo's face that does not change from frame to frame."""

    def __init__(self, frame: np.ndarray, landmarks: np.ndarray):
        lm = landmarks.astype(np.float64)
        height, width = frame.shape[:2]
        left, top = lm.min(axis=0)
        right, bottom = lm.max(axis=0)
        self.face_width = fw = max(8.0, right - left)
        self.face_height = fh = max(8.0, bottom - top)
        x0 = max(0, int(np.floor(left - ROI_SIDE * fw)))
        x1 = min(width, int(np.ceil(right + ROI_SIDE * fw)))
        y0 = max(0, int(np.floor(top - ROI_ABOVE * fh)))
        y1 = min(height, int(np.ceil(bottom + 0.5 * fh)))
        self.roi = (x0, y0, x1, y1)
        self.photo_roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
        self.lm = lm - (x0, y0)  # landmarks in ROI pixels
        self.read_scale = self._reading_scale()
        if self.read_scale == 2:  # read bicubic from the doubled copy
            self.read_source, self.read_steps, self.read_bicubic = doubled(self.photo_roi), 2, True
        else:  # read bilinear from the bicubic picture at quarter pixels: the photo's bicubic read, faster
            self.read_source, self.read_steps, self.read_bicubic = quartered(self.photo_roi), QUARTER_STEPS, False
        rows, cols = np.mgrid[0 : y1 - y0, 0 : x1 - x0].astype(np.float32)
        self.grid_x, self.grid_y = cols, rows
        edge_taper = self._edge_taper(cols, rows, (x0, y0, x1, y1), (width, height), 0.12 * fw)
        self._head_fields(cols, rows, edge_taper)
        self._mouth_fields()
        self.eyes = {"right": self._eye(range(36, 42), range(17, 22)), "left": self._eye(range(42, 48), range(22, 27))}
        self._colours()
        self.head_bands = self._head_bands()

    def _reading_scale(self) -> int:
        """How every warp reads the photo: 2 (bicubic from the doubled copy) where the face has detail near the
        pixel's scale, which a read between pixels loses with any short kernel (half a pixel off on both axes,
        bicubic keeps 0.4-0.65x of it, Lanczos 0.6-0.8x) and the doubled copy keeps (0.96-1.0x); 1 (bicubic
        from the photo, through its quartered() picture: 6x faster) where the face has none to lose, as on a
        photo scaled up for the video.

        Decided on the face read half a pixel off on both axes, the worst case: 1 when bicubic from the photo
        keeps at least CUBIC_KEEPS of the face's high-frequency energy.
        """
        import cv2  # heavy: see fit_photo

        (left, top), (right, bottom) = self.lm.min(axis=0), self.lm.max(axis=0)
        face = self.photo_roi[max(0, int(top)) : int(bottom) + 1, max(0, int(left)) : int(right) + 1]
        if min(face.shape[:2]) < 16:
            return 2
        grey = face.astype(np.float32) @ LUMA.astype(np.float32)
        shifted = np.mgrid[0 : grey.shape[0], 0 : grey.shape[1]].astype(np.float32) + np.float32(0.5)
        read = cv2.remap(grey, shifted[1], shifted[0], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        return 1 if _laplacian_energy(read[:-2, :-2]) >= CUBIC_KEEPS * _laplacian_energy(grey[:-2, :-2]) else 2

    def read(self, source_x: np.ndarray, source_y: np.ndarray) -> np.ndarray:
        """The photo's ROI read at (source_x, source_y) (ROI pixels, one per output pixel): bicubic, from the
        doubled copy where the face has fine detail, else from the photo (through its quartered() picture, read
        bilinear; see _reading_scale)."""
        import cv2  # heavy: see fit_photo

        steps = np.float32(self.read_steps)
        interpolation = cv2.INTER_CUBIC if self.read_bicubic else cv2.INTER_LINEAR
        return cv2.remap(
            self.read_source, source_x * steps, source_y * steps, interpolation, borderMode=cv2.BORDER_REPLICATE
        )

    def _head_bands(self) -> list[tuple[slice, slice]]:
        """Bands of BAND rows of the ROI, each cut to the columns the head's motion or a local field can move:
        a frame whose head moves resamples only these; the rest of the ROI is the photo's own pixels."""
        moving = np.zeros(self.grid_x.shape, dtype=bool)
        for field in (*self.head_x.values(), *self.head_y.values()):
            moving |= field != 0
        grow = int(np.ceil(0.15 * self.face_width))
        for x0, y0, x1, y1 in (self.mouth_box, *(eye.box for eye in self.eyes.values())):
            moving[max(0, y0 - grow) : y1 + grow, max(0, x0 - grow) : x1 + grow] = True
        bands = []
        for start in range(0, moving.shape[0], BAND):
            columns = np.flatnonzero(moving[start : start + BAND].any(axis=0))
            if len(columns):
                bands.append((slice(start, min(moving.shape[0], start + BAND)), slice(columns[0], columns[-1] + 1)))
        return bands

    # --- geometry -------------------------------------------------------------------------------

    @staticmethod
    def _edge_taper(cols, rows, roi, size, ramp):
        """1 inside, falling to 0 at the ROI's borders; borders on the image's edge need no taper."""
        x0, y0, x1, y1 = roi
        width, height = size
        taper = np.ones_like(cols)
        for distance, at_image_edge in (
            (cols, x0 == 0),
            (rows, y0 == 0),
            (cols.max() - cols, x1 == width),
            (rows.max() - rows, y1 == height),
        ):
            if not at_image_edge:
                taper *= _smoothstep((distance - 1.0) / ramp)
        return taper

    def _head_fields(self, cols, rows, edge_taper):
        """Backward displacement per degree (yaw, pitch, roll) and per face width (dx, dy)."""
        import cv2  # heavy: see fit_photo

        lm, fw, fh = self.lm, self.face_width, self.face_height
        centre = lm.mean(axis=0)
        # The head and its hair: the jaw line below, an arc well over the hair above. The head turns as one
        # piece inside it; outside, the weight falls off over HEAD_RAMP face widths of background (gently,
        # so the hair's edge and what is around it move together: no stretched ring at the hair); under the
        # jaw it falls off over NECK_RAMP face heights, so the neck bends and the collar stays put.
        ear_y = float(lm[[0, 16], 1].mean())
        arc_x = HAIR_WIDTH * (lm[16][0] - lm[0][0])
        arc_y = ear_y - (lm[17:27, 1].min() - HAIR_HEIGHT * fh)
        angles = np.linspace(0.0, np.pi, 25)
        arc = np.stack([centre[0] + arc_x * np.cos(angles), ear_y - arc_y * np.sin(angles)], axis=1)
        outline = np.concatenate([lm[0:17], arc])
        inside = np.zeros(cols.shape, dtype=np.uint8)
        cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
        distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
        jaw = lm[0:17][np.argsort(lm[0:17, 0])]
        under_jaw = rows - np.interp(cols, jaw[:, 0], jaw[:, 1])
        neck = 1.0 - _smoothstep(under_jaw / (NECK_RAMP * fh))
        weight = (1.0 - _smoothstep(distance / (HEAD_RAMP * fw))) * neck * edge_taper
        # Depth over the face for yaw and pitch: an ellipsoid, and the nose standing out of it.
        fx, fy = lm[27:31, 0].mean(), lm[27:31, 1].mean()
        r2 = ((cols - fx) / (0.55 * fw)) ** 2 + ((rows - fy) / (0.7 * fh)) ** 2
        depth = 0.35 * fw * np.clip(1.0 - r2, 0.0, None) ** 1.5
        nose = lm[30]
        depth += 0.15 * fw * np.exp(-(((cols - nose[0]) ** 2 + (rows - nose[1]) ** 2) / (2 * (0.09 * fw) ** 2)))
        depth *= edge_taper
        rad = np.pi / 180.0
        # A head tilts about the top of its neck: between the jaw's angles, level with the mouth.
        pivot = lm[[4, 12]].mean(axis=0)
        # Roll is an exact rotation (its sine and its cosine - 1 scale these per frame), not a shear, so ±10°
        # neither shears the head nor grows it.
        self.head_x = {
            "yaw": (-rad * depth).astype(np.float32),
            "roll": ((rows - pivot[1]) * weight).astype(np.float32),
            "roll_cos": ((cols - pivot[0]) * weight).astype(np.float32),
            "dx": (-fw * weight).astype(np.float32),
        }
        self.head_y = {
            "pitch": (-rad * depth).astype(np.float32),
            "roll": (-(cols - pivot[0]) * weight).astype(np.float32),
            "roll_cos": ((rows - pivot[1]) * weight).astype(np.float32),
            "dy": (-fw * weight).astype(np.float32),
        }

    def _mouth_fields(self):
        lm, fh = self.lm, self.face_height
        roi_h, roi_w = self.photo_roi.shape[:2]
        corners = lm[48], lm[54]
        self.mouth_width = mw = max(4.0, float(np.hypot(*(corners[1] - corners[0]))))
        half = mw / 2
        xc = float(corners[0][0] + corners[1][0]) / 2
        # The line the jaw opens along: between the lips, or under the upper teeth when the photo
        # shows them (they belong to the skull and stay; lower teeth, if shown, go with the jaw).
        inner = lm[60:68]
        self.gap_in_photo = float(np.mean(np.linalg.norm(inner[[1, 2, 3]] - inner[[7, 6, 5]], axis=1)))
        self.shows_teeth = self.gap_in_photo > 0.06 * mw
        self.split = self._upper_teeth_end(inner) if self.shows_teeth else 0.5
        upper_lip, lower_lip = inner[[1, 2, 3]], inner[[7, 6, 5]]
        split_pts = upper_lip + self.split * (lower_lip - upper_lip)
        # The line runs on to the outer corners, where the jaw's drop ends: the gap closes there.
        mid_pts = np.array([lm[48], inner[0], *split_pts, inner[4], lm[54]])
        mid_pts = mid_pts[np.argsort(mid_pts[:, 0])]
        self.mid_x, self.mid_y = mid_pts[:, 0], mid_pts[:, 1]
        jaw_pts = lm[2:15]
        nose_y = float(lm[33][1])

        x0 = int(max(0, np.floor(min(lm[3][0], xc - 2.7 * half))))
        x1 = int(min(roi_w, np.ceil(max(lm[13][0], xc + 2.7 * half)) + 1))
        # A smile's fold runs from the corners up beside the nose: there the cheeks move with the corners
        # (see the width band below), so the box reaches up beside the nose.
        cheek_top = nose_y - (CHEEK_RISE * (nose_y - float(lm[29][1])) if self.shows_teeth else 0.0)
        y0 = int(max(0, np.floor(min(nose_y - 0.02 * fh, cheek_top - 3.0 if self.shows_teeth else nose_y))))
        y1 = int(min(roi_h, np.ceil(jaw_pts[:, 1].max() + 0.45 * fh) + 1))
        self.mouth_box = (x0, y0, x1, y1)
        cols, rows = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        mid = np.interp(cols, self.mid_x, self.mid_y)
        chin = np.interp(cols, jaw_pts[:, 0], jaw_pts[:, 1])
        below = rows >= mid
        dx = cols - xc

        # Jaw: the lower lip drops by `drop`, the chin by CHIN_SHARE of it; the dropping part narrows
        # to the mouth's corners at the lips and widens to the jaw towards the chin.
        drop = JAW_GAP * mw
        t = np.clip((rows - mid) / np.maximum(chin - mid, 1.0), 0.0, 1.0)
        jaw_half = max(half * 1.05, 0.5 * abs(lm[11][0] - lm[5][0]))
        spread = half + (jaw_half - half) * _smoothstep(t)
        lateral = np.clip(1.0 - (dx / spread) ** 2, 0.0, None)
        neck = 1.0 - _smoothstep((rows - chin) / (0.4 * fh))
        lower = drop * lateral * (1.0 - (1.0 - CHIN_SHARE) * t) * neck
        # Upper lip: lifts a little, fading out towards the nose.
        lift = LIP_LIFT * drop * np.clip(1.0 - (dx / half) ** 2, 0.0, None)
        lift = lift * np.clip((rows - nose_y) / np.maximum(mid - nose_y, 1.0), 0.0, 1.0) ** 2
        taper = self._box_taper(cols.shape, 3.0)
        self.jaw_y = (np.where(below, -lower, lift) * taper).astype(np.float32)  # backward: src = out + field

        # Width: the corners move out (spread) or in (rounded), the lips with them over their whole
        # height; the philtrum and the chin follow less, and the field is zero before the box's edges
        # (at the nose, at the chin and at the face's outline), so no seam and no background moves.
        upper_flat = float(lm[51][1])  # the top of the upper lip
        lower_flat = float(lm[57][1]) + 0.5 * drop  # the bottom of the lower lip, half-way down
        chin_y = float(lm[8][1])
        # Above the lips the field fades out by the nose's base in the middle, and (a smile) by cheek_top
        # beside the nose: a smile's corners sit as high as its upper lip, and a field that stopped at the
        # nose's base there would move the corner and leave the fold above it (a kink dlib reads as the
        # corner, which then does not move: -3.7% read for a full rounding of the selfie, -11.9% now).
        nose_half = 0.6 * abs(float(lm[35][0] - lm[31][0]))
        beside = _smoothstep((np.abs(dx) - nose_half) / max(1.0, half - nose_half))
        reach_up = np.maximum(1.0, (upper_flat - nose_y) + beside * (nose_y - cheek_top))
        above = 1.0 - _smoothstep((upper_flat - rows) / reach_up)
        beneath = 1.0 - _smoothstep((rows - lower_flat) / max(1.0, chin_y - lower_flat))
        band = np.where(rows < upper_flat, above, np.where(rows > lower_flat, beneath, 1.0)) * taper
        self.width_x = {sign: self._width_field(sign, rows[:, :1], dx, band) for sign in (1, -1)}
        # A smile that shows its teeth is held: its lips are spread already and cannot round far without
        # letting the smile go, which a still photo cannot. They round half as far (further, rounded and
        # open, the face stops looking like the photo's person: dlib identity distance past 0.35 on the
        # astronaut); they spread the whole range. While speaking such a smile is let go
        # (FaceMotion.smile_relax): the corners come in and down towards a neutral mouth; pauses give it
        # back. An opening jaw pulls its corners in too (OPEN_NARROWS), as it does a real mouth's.
        self.width_scale = SMILE_WIDTH_SCALE if self.shows_teeth else 1.0
        self.relaxes = self.shows_teeth
        sigma2 = 2.0 * (0.3 * mw) ** 2
        blobs = sum(np.exp(-((cols - c[0]) ** 2 + (rows - c[1]) ** 2) / sigma2) for c in corners)
        self.corner_drop_y = (-CORNER_DROP * mw * np.minimum(blobs, 1.0) * taper).astype(np.float32)

        # Per column of the box, what the gap painter needs: the lip line and how far each lip moves.
        self.mouth_cols = np.arange(x0, x1, dtype=np.float64)
        column_mid = np.interp(self.mouth_cols, self.mid_x, self.mid_y)
        mid_rows = np.clip(np.round(column_mid).astype(int) - y0, 0, y1 - y0 - 1)
        self.width_at_mid = {
            sign: field[mid_rows, np.arange(x1 - x0)].astype(np.float64) for sign, field in self.width_x.items()
        }
        self.drop_at_mid = -self.corner_drop_y[mid_rows, np.arange(x1 - x0)].astype(np.float64)
        self.zero_mouth = np.zeros(cols.shape, dtype=np.float32)
        # The opening between the inner lips (the teeth a smile shows), anti-aliased, in the box's pixels:
        # a rounding mouth's lips slide over the teeth, which belong to the skull and keep their size.
        self.opening = None
        if self.shows_teeth:
            import cv2  # heavy: see fit_photo

            mask = np.zeros(cols.shape, dtype=np.uint8)
            cv2.fillPoly(mask, [np.round((inner - (x0, y0)) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
            rows_inside = np.nonzero(mask.any(axis=1))[0]
            self.opening_rows = slice(int(rows_inside.min()), int(rows_inside.max()) + 1)
            self.opening = mask[self.opening_rows].astype(np.float32) / 255.0
        self.mouth_local_grid = ((cols - x0).astype(np.float32), (rows - y0).astype(np.float32))
        self.mouth_centre, self.jaw_drop = xc, drop
        self.lower_lip = (lower * taper).astype(np.float32)  # the drop per unit jaw, also above the line

    def _width_field(self, sign: int, rows: np.ndarray, dx: np.ndarray, band: np.ndarray) -> np.ndarray:
        """Backward x displacement for mouth_width = sign (+1 spread, -1 rounded), over the mouth box.

        Between the corners each point moves with the square of its distance from the middle, so each
        corner lands WIDTH_RANGE / 2 of the mouth's width out (or in); beyond a corner the shift fades
        out smoothly before the face's outline on that row. Where the outline is close (a broad smile,
        a turned face) the corner moves less: the skin between is stretched or squeezed, never folded.
        """
        lm, half = self.lm, self.mouth_width / 2
        xc = float(lm[48][0] + lm[54][0]) / 2

        def outline(points: np.ndarray) -> np.ndarray:  # the jaw line's x at each row
            ys = np.maximum.accumulate(points[:, 1])
            return np.interp(rows, ys + np.arange(len(ys)) * 1e-3, points[:, 0])

        reach = np.where(dx < 0, (xc - half) - outline(lm[0:9]), outline(lm[16:7:-1]) - (xc + half))
        reach = np.maximum(reach, 1.0)
        limit = 0.5 if sign > 0 else 0.6  # of the reach: squeezing is worse than stretching
        shift = sign * np.minimum(WIDTH_RANGE / 2 * self.mouth_width, limit * reach)  # where each corner goes
        distance = np.abs(dx)
        # Inside, a point at r from the middle moves by shift * (r / half)**2: the corners and the lips'
        # sides move, the middle (the Cupid's bow, the philtrum) hardly does, as when a real mouth
        # spreads or rounds. Inverted for the backward map: r = s + a s**2 for the source s.
        a = shift / half**2
        safe = np.where(np.abs(a) < 1e-9, 1e-9, a)
        source = np.where(
            np.abs(a) < 1e-9, distance, (np.sqrt(np.maximum(1.0 + 4.0 * safe * distance, 0.0)) - 1.0) / (2.0 * safe)
        )
        inner = np.sign(dx) * source - dx
        fade = 1.0 - _smoothstep((distance - half - shift) / np.maximum(reach - shift, 1.0))
        outer = -shift * np.sign(dx) * fade
        return (np.where(distance <= half + shift, inner, outer) * band).astype(np.float32)

    def _upper_teeth_end(self, inner: np.ndarray) -> float:
        """Where the upper teeth end, as a share of the way from the upper to the lower inner lip.

        Per column across the middle of the mouth: the first run of light, unsaturated (tooth)
        pixels from the upper lip down; the median of where it ends. 1 when the teeth reach the
        lower lip (no lower teeth shown), less when a dark gap or lower teeth follow.
        """
        image = self.photo_roi.astype(np.float32)
        ends = []
        for share in np.linspace(0.25, 0.75, 9):
            top = inner[1] + (inner[3] - inner[1]) * share
            bottom = inner[7] + (inner[5] - inner[7]) * share
            length = float(bottom[1] - top[1])
            if length < 2:
                continue
            ts = np.linspace(0.0, 1.0, max(3, int(length * 2) + 1))
            xs = np.clip(np.round(top[0] + (bottom[0] - top[0]) * ts).astype(int), 0, image.shape[1] - 1)
            ys = np.clip(np.round(top[1] + (bottom[1] - top[1]) * ts).astype(int), 0, image.shape[0] - 1)
            pixels = image[ys, xs]
            light = pixels.mean(axis=1)
            saturation = (pixels.max(axis=1) - pixels.min(axis=1)) / np.maximum(pixels.max(axis=1), 1.0)
            tooth = (light > 0.8 * np.percentile(light, 90)) & (saturation < 0.35)
            if not tooth.any():
                continue
            first = int(np.argmax(tooth))
            run_end = first + int(np.argmin(np.append(tooth[first:], False)))
            ends.append(ts[min(run_end, len(ts) - 1)])
        return float(np.clip(np.median(ends), 0.45, 1.0)) if ends else 0.5

    def _box_taper(self, shape, ramp):
        h, w = shape
        ys = np.minimum(np.arange(h), h - 1 - np.arange(h))[:, None].astype(np.float64)
        xs = np.minimum(np.arange(w), w - 1 - np.arange(w))[None, :].astype(np.float64)
        return _smoothstep(ys / ramp) * _smoothstep(xs / ramp)

    def _eye(self, points: range, brow_points: range) -> _Eye:
        lm = self.lm
        eye, brow = lm[list(points)], lm[list(brow_points)]
        eye_w = float(np.hypot(*(eye[3] - eye[0])))
        roi_h, roi_w = self.photo_roi.shape[:2]
        x0 = int(max(0, np.floor(eye[0][0] - 0.3 * eye_w)))
        x1 = int(min(roi_w, np.ceil(eye[3][0] + 0.3 * eye_w) + 1))
        cols = np.arange(x0, x1, dtype=np.float64)
        upper_pts = eye[[0, 1, 2, 3]]
        lower_pts = eye[[0, 5, 4, 3]]
        upper = _lid_curve(cols, upper_pts)
        lower = np.maximum(_lid_curve(cols, lower_pts), upper)
        brow_y = np.minimum(np.interp(cols, brow[:, 0], brow[:, 1]), upper - 2.0)
        # The lid skin that comes down: the lower 60% of the band between brow and lid.
        top = upper - 0.6 * (upper - brow_y)
        y0 = int(max(0, np.floor(top.min()) - 1))
        y1 = int(min(roi_h, np.ceil(lower.max() + 0.45 * eye_w) + 1))
        top = np.maximum(top, y0 + 0.5)
        bottom = np.minimum(lower + 0.3 * eye_w, y1 - 1.5)
        return _Eye((x0, y0, x1, y1), upper, lower, top, bottom, cols, eye_w)

    # --- colours --------------------------------------------------------------------------------

    def _colours(self):
        """Mouth colours from the photo: lips, skin, and teeth (its own, or the whites of its eyes)."""
        image, lm = self.photo_roi, self.lm
        lips = _median_colour(image, [lm[48:60]], [lm[60:68]])
        skin = _median_colour(
            image, [np.array([lm[1], lm[31], lm[48], lm[4]]), np.array([lm[15], lm[35], lm[54], lm[12]])]
        )
        skin = skin if skin is not None else np.array([190.0, 150.0, 130.0])
        lips = lips if lips is not None else skin * np.array([0.85, 0.6, 0.6])
        teeth = None
        if self.shows_teeth:
            teeth = _median_colour(image, [lm[60:68]], top=0.3)
        if teeth is None:
            sclera = _median_colour(image, [lm[36:42], lm[42:48]], top=0.25)
            teeth = sclera if sclera is not None and sclera.sum() > skin.sum() else skin * 0.55 + 255 * 0.4
            teeth = 0.85 * teeth + 0.15 * np.array([235.0, 225.0, 200.0])  # a touch warmer than sclera
        self.lip_colour = lips.astype(np.float32)
        self.teeth_colour = np.clip(teeth * 0.92, 0, 255).astype(np.float32)
        # The inside of the mouth is the lips' own tissue in shade: their hue, a little deeper red;
        # the tongue pinker. Both are kept at unit luma and given their brightness per pixel.
        lip_luma = max(20.0, float(lips @ LUMA))
        self.lip_luma = lip_luma
        self.cavity_tint = _unit_luma(lips * np.array([1.05, 0.82, 0.82]))
        self.tongue_tint = _unit_luma(lips * np.array([1.04, 0.8, 0.86]))
        # The photo's own teeth come along with the warp; what it does not show is painted.
        self.paint_upper_teeth = not self.shows_teeth
        self.paint_lower_teeth = not self.shows_teeth or self.split > 0.85
        self._mouth_texture()

    def _mouth_texture(self):
        """A fixed grain and a faint mottling for the painted mouth, as strong as the photo's own grain,
        so the cavity is never a flat fill. Fixed per photo (seeded), so it does not flicker."""
        import cv2  # heavy: see fit_photo

        x0, y0, x1, y1 = self.mouth_box
        lm = self.lm
        grey = self.photo_roi.astype(np.float32) @ LUMA
        fine = grey - cv2.GaussianBlur(grey, (0, 0), 1.5)
        mask = np.zeros(grey.shape, dtype=np.uint8)
        cv2.fillPoly(mask, [np.round(lm[48:60]).astype(np.int32)], 1)
        lips = mask.astype(bool)
        grain = float(np.std(fine[lips]) / max(1.0, np.mean(grey[lips]))) if lips.sum() > 8 else 0.04
        rng = np.random.default_rng(0)
        fine_noise = cv2.GaussianBlur(rng.standard_normal((y1 - y0, x1 - x0)).astype(np.float32), (0, 0), 0.7)
        coarse_noise = cv2.GaussianBlur(
            rng.standard_normal((y1 - y0, x1 - x0)).astype(np.float32), (0, 0), max(1.0, 0.06 * self.mouth_width)
        )
        noise = np.asarray(fine_noise, dtype=np.float32) / max(1e-6, float(np.std(fine_noise)))
        mottle = np.asarray(coarse_noise, dtype=np.float32) / max(1e-6, float(np.std(coarse_noise)))
        self.mouth_grain = (float(np.clip(grain, 0.03, 0.1)) * noise + 0.07 * mottle).astype(np.float32)

    # --- per frame ------------------------------------------------------------------------------

    def render(
        self, jaw: float, width: float, eyes: dict[str, float], head: dict[str, float], smile_relax: float = 0.0
    ) -> np.ndarray:
        """The ROI for one frame (the photo's own ROI, not a copy, when nothing moves).

        `smile_relax` (0-1) lets go of a smile the photo holds (a photo showing its teeth); other
        photos ignore it.

        Every warp is composed into one map from output pixel to photo pixel (head pose first, then
        the mouth's and the eyelids' fields read where the head puts each pixel), and the photo is
        resampled once (FaceRig.read): no pixel is interpolated twice. The painted mouth and the
        eyelids' edges are drawn in the output's own pixels, anti-aliased, through the same map.
        """

        jaw = max(0.0, jaw)
        relax = min(1.0, max(0.0, smile_relax)) if self.relaxes else 0.0
        scale = self.width_scale + (RELAXED_WIDTH_SCALE - self.width_scale) * relax if width < 0 else 1.0
        width = width * scale - SMILE_RELAX * relax
        if self.shows_teeth:  # a jaw that opens pulls a smile's corners in, as it does a real mouth's
            width = min(width, max(width - OPEN_NARROWS * jaw, -MOST_ROUNDED))
        width = float(np.clip(width, -1.0, 1.0))
        mouth_moves = jaw > STILL or abs(width) > STILL or relax > STILL
        closing = {name: min(1.0, closed) for name, closed in eyes.items() if closed > STILL}
        head_moves = any(abs(value) > STILL for value in head.values())
        if not (mouth_moves or closing or head_moves):
            return self.photo_roi
        warp = _Warp(self, head if head_moves else None)
        if mouth_moves:
            warp.add(self.mouth_box, self._mouth_displacement(jaw, width, relax))
        out = warp.resample(self.photo_roi)
        if jaw > STILL:
            self._paint_gap(out, warp, jaw, width, relax)
        for name, closed in closing.items():
            self._close_eye(out, warp, self.eyes[name], closed)
        return out

    def _mouth_displacement(self, jaw: float, width: float, relax: float) -> np.ndarray:
        """(h, w, 2) backward displacement over the mouth box: the lips' width, then the jaw's drop (and
        a let-go smile's corners)."""
        import cv2  # heavy: see fit_photo

        field_x = self.width_x[1 if width > 0 else -1] * np.float32(abs(width)) if width else self.zero_mouth
        if width < 0 and self.opening is not None:  # the lips close over the photo's teeth, which stay put
            rows = self.opening_rows
            local_x, local_y = (grid[rows] for grid in self.mouth_local_grid)
            inside = cv2.remap(
                self.opening, local_x + field_x[rows], local_y - np.float32(rows.start), cv2.INTER_LINEAR
            )
            field_x[rows] *= 1.0 - inside
        field_y = self.jaw_y
        if width and jaw:  # the jaw opens the mouth as it is now shaped: its field follows the width warp
            local_x, local_y = self.mouth_local_grid
            field_y = cv2.remap(field_y, local_x + field_x, local_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        field_y = field_y * np.float32(jaw)
        if relax > STILL:
            field_y = field_y + self.corner_drop_y * np.float32(relax)
        return np.dstack([field_x, field_y])

    def _paint_gap(self, out: np.ndarray, warp: "_Warp", jaw: float, width: float, relax: float) -> None:
        """Paint the opened mouth into the gap between the lips, in the output's own pixels (in place).

        Back to front: the cavity (the lips' tissue in shade, darkest only in a small core where the
        throat is, lighter towards the lips and the cheeks' insides), the tongue, the lower and upper
        teeth the photo does not show, the upper lip's shadow; then the photo's grain. The lips' edges
        are found per column of the face's own frame and read, like everything here, where the head
        warp puts each output pixel: every edge is a ramp about one pixel wide, never stair-stepped,
        and nothing painted is resampled again.
        """
        import cv2  # heavy: see fit_photo

        x0, y0, x1, y1 = self.mouth_box
        # Output column → the source column it shows (the width warp), then the lips' edges there.
        source_cols = self.mouth_cols + abs(width) * self.width_at_mid[1 if width > 0 else -1]
        inside = (source_cols > self.mid_x[0]) & (source_cols < self.mid_x[-1])
        if not inside.any():
            return
        mid = np.interp(source_cols, self.mid_x, self.mid_y) + relax * self.drop_at_mid
        # The fields are functions of the output pixel: the lips' edges are where they carry the line
        # between the lips to. The lower one: out_y - jaw * drop(out_y) = mid, by two fixed-point steps.
        # The jaw's fields are read at the source column too: the jaw opens the mouth as it is shaped.
        half = self.mouth_width / 2
        lift = LIP_LIFT * self.jaw_drop * np.clip(1.0 - ((source_cols - self.mouth_centre) / half) ** 2, 0.0, None)
        top = mid - jaw * lift
        bottom = mid.copy()
        columns = np.clip(np.round(source_cols).astype(int) - x0, 0, x1 - x0 - 1)
        for _ in range(2):
            row = np.clip(np.round(bottom).astype(int) - y0, 0, y1 - y0 - 1)
            bottom = mid + jaw * self.lower_lip[row, columns]
        bottom = np.where(inside, bottom, mid)
        top = np.where(inside, top, mid)
        if np.max(bottom - top) < 0.3:
            return
        cols = np.nonzero(bottom - top > 0.05)[0]
        c0, c1 = cols[0], cols[-1] + 1
        r0 = int(max(y0, np.floor(top[c0:c1].min()) - 1))
        r1 = int(min(y1, np.ceil(bottom[c0:c1].max()) + 2))
        column_x = self.mouth_cols[c0:c1]
        mw = self.mouth_width
        opened = float(_smoothstep(np.asarray(np.max(bottom - top) / (0.22 * mw))))  # how much of the inside shows
        window, qx, qy = warp.window((int(column_x[0]), r0, int(column_x[-1]) + 1, r1))
        # Per output pixel, the gap's column profile where the head warp puts it (exact columns when
        # the head is still); beyond the gap's first and last column nothing is painted.
        beside = (qx < column_x[0] - 0.5) | (qx > column_x[-1] + 0.5)
        top = np.interp(qx, column_x, top[c0:c1])
        bottom = np.interp(qx, column_x, bottom[c0:c1])
        ys = qy + np.float32(0.5)
        soft = max(0.8, 0.012 * mw)  # edges as soft as the photo's own at this scale
        alpha = np.clip((ys - top) / soft + 0.5, 0.0, 1.0) * np.clip((bottom - ys) / soft + 0.5, 0.0, 1.0)
        alpha[beside] = 0.0
        if not alpha.any():
            return
        gap = np.maximum(bottom - top, 1e-3)
        v = np.clip((ys - top) / gap, 0.0, 1.0)  # 0 at the upper lip, 1 at the lower
        corner_l, corner_r = source_cols[cols[0]], source_cols[cols[-1]]
        u = (np.interp(qx, column_x, source_cols[c0:c1]) - (corner_l + corner_r) / 2) / max(
            1.0, (corner_r - corner_l) / 2
        )
        # Cavity: half the lips' brightness by the lips, 0.3 of it at the throat's small core, a little
        # darker in the cheeks' shadow at the corners and right under the upper lip.
        throat = np.exp(-0.5 * ((u / 0.26) ** 2 + ((v - 0.42) / 0.2) ** 2)) * opened
        brightness = (0.5 - 0.2 * throat) * (1.0 - 0.25 * _smoothstep((np.abs(u) - 0.55) / 0.45))
        colour = self.cavity_tint * (self.lip_luma * brightness)[..., None]
        # Tongue: a low mound behind the lower teeth, lit at its front, with a faint middle groove.
        lower_span = np.clip(1.0 - (u / 0.62) ** 2, 0.0, 1.0)  # the lower front teeth: a narrower arch
        lower_h = np.minimum(0.06 * mw * lower_span, 0.3 * gap) if self.paint_lower_teeth else 0.0 * gap
        front = bottom - lower_h
        tongue_h = np.clip(gap - 0.04 * mw, 0.0, None) * 0.42 * np.sqrt(np.clip(1.0 - (u / 0.78) ** 2, 0.0, 1.0))
        tongue_top = front - tongue_h
        tongue = np.clip((ys - tongue_top) / np.maximum(0.35 * tongue_h, 1.2), 0.0, 1.0)
        lit = np.clip((ys - tongue_top) / np.maximum(tongue_h, 1.0), 0.0, 1.0)
        groove = 1.0 - 0.14 * np.exp(-0.5 * (u / 0.07) ** 2) * (1.0 - lit)
        tongue_luma = self.lip_luma * (0.46 + 0.22 * lit) * groove
        colour += (self.tongue_tint * tongue_luma[..., None] - colour) * tongue[..., None]
        # Teeth: lit in the middle, shaded towards the corners where they turn away, with narrow
        # darker gaps at roughly incisor and canine spacing.
        seams = np.zeros_like(u)
        for at in (0.0, 0.24, -0.24, 0.46, -0.46, 0.66, -0.66):
            seams = np.maximum(seams, np.exp(-0.5 * ((u - at) * (mw / 2) / 0.45) ** 2))
        teeth = self.teeth_colour * ((1.0 - 0.35 * u**2) * (1.0 - 0.12 * seams))[..., None]
        turn = 1.0 - _smoothstep((np.abs(u) - 0.5) / 0.4)  # the arch turns into the cheeks' shadow
        teeth_cover = np.zeros_like(v)  # where teeth are painted: enamel has less grain than tissue
        if self.paint_lower_teeth:  # they peek over the lower lip, in the shade of the upper ones
            lower = np.clip((ys - front) / (1.5 * soft), 0.0, 1.0) * np.clip(lower_span / 0.2, 0.0, 1.0)
            colour += (teeth * 0.88 - colour) * lower[..., None]
            teeth_cover = lower
        if self.paint_upper_teeth:  # they hang from under the upper lip
            upper_h = 0.11 * mw * (1.0 - 0.45 * u**2)
            upper = np.clip((top + upper_h - ys) / (1.2 * soft), 0.0, 1.0) * turn
            colour += (teeth - colour) * upper[..., None]
            teeth_cover = np.maximum(teeth_cover, upper)
        # The upper lip shades the top of the mouth; the grain makes it tissue, not a fill.
        shade = 0.78 + 0.22 * np.clip((ys - top) / max(1.5, 0.05 * mw), 0.0, 1.0)
        grain = cv2.remap(self.mouth_grain, qx - np.float32(x0), qy - np.float32(y0), cv2.INTER_LINEAR)
        colour *= (shade * (1.0 + grain * (1.0 - 0.75 * teeth_cover)))[..., None]
        region = out[window].astype(np.float32)
        blended = region + (colour - region) * alpha[..., None]
        out[window] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)

    def _close_eye(self, out: np.ndarray, warp: "_Warp", eye: _Eye, closed: float) -> None:
        """Bring the upper lid down over the eye, which stays where it is, and the lower lid up to meet it.

        Three layers of the photo, each read through the frame's map once: the upper lid (its lash line
        and the skin just above it slide down unchanged; only the plain skin under the brow stretches to
        follow), the eye itself (unmoved: the lid covers it, it is not squeezed), and the lower lid
        (rising a little). They are laid over each other by how much of each output pixel the lids'
        edges cover, so the edges are sub-pixel and anti-aliased and the lashes are never smeared.
        """

        window, qx, qy = warp.window(eye.box)
        upper, lower = np.interp(qx, eye.cols, eye.upper), np.interp(qx, eye.cols, eye.lower)
        top, bottom = np.interp(qx, eye.cols, eye.top), np.interp(qx, eye.cols, eye.bottom)
        opening = lower - upper
        # The upper lid's edge now; shut, it reaches a little past the lower lid's rim and hides it.
        line = upper + closed * (EYE_MEET * opening + LID_OVERLAP * np.minimum(eye.width, 6.0 * opening))
        drop = line - upper
        rigid = LASH_BAND * (upper - top)  # the lash line and the lid skin just above it: moved, not stretched
        skin = top + (qy - top) * (upper - rigid - top) / np.maximum(line - rigid - top, 1e-3)
        lid_y = np.where(qy <= top, qy, np.where(qy < line - rigid, skin, qy - drop))
        rise = closed * (1.0 - EYE_MEET) * opening
        edge = lower - rise  # the lower lid's edge now
        below = lower + (qy - edge) * (bottom - lower) / np.maximum(bottom - edge, 1e-3)
        lower_y = np.where(qy >= bottom, qy, np.where(qy >= edge, below, qy + rise))
        cover_upper = np.clip(line - qy + 0.5, 0.0, 1.0)[..., None]
        cover_lower = np.clip(qy - edge + 0.5, 0.0, 1.0)[..., None]
        source_x = warp.source_x(window)

        def layer(source_y: np.ndarray) -> np.ndarray:
            shifted = (warp.source_y(window) + (source_y - qy)).astype(np.float32)
            return self.read(source_x, shifted)

        eyeball = out[window].astype(np.float32)
        lids = layer(lower_y) * cover_lower + eyeball * (1.0 - cover_lower)
        lids = layer(lid_y) * cover_upper + lids * (1.0 - cover_upper)
        out[window] = np.clip(lids + 0.5, 0, 255).astype(np.uint8)


class _Warp:
    """One frame's map from output pixels to the photo's, over a rig's ROI.

    The head pose moves every pixel; the local fields (the mouth's) are read where the head puts each
    pixel and added, so resample() reads the photo once per pixel whatever moved.
    """

    def __init__(self, rig: FaceRig, head: dict[str, float] | None):
        import cv2  # heavy: see fit_photo

        self.moves_head = head is not None
        self.head_x, self.head_y = rig.grid_x, rig.grid_y
        if head is not None:
            self.head_x, self.head_y = rig.grid_x.copy(), rig.grid_y.copy()
            roll = np.radians(float(head.get("roll") or 0.0))
            scales = {**head, "roll": np.sin(roll), "roll_cos": np.cos(roll) - 1.0}
            for fields, target in ((rig.head_x, self.head_x), (rig.head_y, self.head_y)):
                for name, field in fields.items():
                    if abs(scales.get(name) or 0.0) > 1e-7:
                        cv2.scaleAdd(field, float(scales[name]), target, target)
        self.grid_x, self.grid_y = rig.grid_x, rig.grid_y
        self.read, self.bands = rig.read, rig.head_bands
        self.local: list[tuple[tuple[slice, slice], np.ndarray]] = []

    def window(self, box: tuple[int, int, int, int]) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
        """The output pixels the head puts inside `box` (x0, y0, x1, y1 of the face's own frame), as a
        window of the ROI, and where it puts each of them (x and y in the face's frame)."""
        x0, y0, x1, y1 = box
        height, width = self.grid_x.shape
        margin = 0
        if self.moves_head:  # the head moves pixels by a few: the window is the box, grown by that much
            for _ in range(2):
                around = (slice(max(0, y0 - margin), y1 + margin), slice(max(0, x0 - margin), x1 + margin))
                shift = max(
                    float(np.abs(self.head_x[around] - self.grid_x[around]).max(initial=0.0)),
                    float(np.abs(self.head_y[around] - self.grid_y[around]).max(initial=0.0)),
                )
                margin = int(np.ceil(shift)) + 2
        window = (
            slice(max(0, y0 - margin), min(height, y1 + margin)),
            slice(max(0, x0 - margin), min(width, x1 + margin)),
        )
        return window, self.head_x[window], self.head_y[window]

    def add(self, box: tuple[int, int, int, int], displacement: np.ndarray) -> None:
        """Add a local backward displacement field ((h, w, 2), over `box` in the face's frame)."""
        import cv2  # heavy: see fit_photo

        window, qx, qy = self.window(box)
        x0, y0 = box[:2]
        if not self.moves_head:
            self.local.append((window, displacement))
            return
        read = cv2.remap(
            displacement, qx - np.float32(x0), qy - np.float32(y0), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        self.local.append((window, read))

    def source_x(self, window: tuple[slice, slice]) -> np.ndarray:
        return self._source(window, 0, self.head_x)

    def source_y(self, window: tuple[slice, slice]) -> np.ndarray:
        return self._source(window, 1, self.head_y)

    def _source(self, window: tuple[slice, slice], axis: int, head: np.ndarray) -> np.ndarray:
        source = head[window].copy()
        for where, displacement in self.local:
            overlap = tuple(
                slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(window, where, strict=True)
            )
            if overlap[0].start < overlap[0].stop and overlap[1].start < overlap[1].stop:
                into = tuple(slice(o.start - w.start, o.stop - w.start) for o, w in zip(overlap, window, strict=True))
                out_of = tuple(slice(o.start - w.start, o.stop - w.start) for o, w in zip(overlap, where, strict=True))
                source[into] += displacement[out_of[0], out_of[1], axis]
        return source

    def resample(self, photo: np.ndarray) -> np.ndarray:
        """The photo read through the map, only where something moves: the head's bands when it moves, else
        the local fields' windows (the rest of the ROI is the photo's own pixels)."""
        out = photo.copy()
        for window in self.bands if self.moves_head else [window for window, _ in self.local]:
            out[window] = self.read(self.source_x(window), self.source_y(window))
        return out


def render_request(
    request: PortraitVideoRequest, *, motion: FaceMotion, audio: Path | None, progress: Progress | None = None
) -> RenderedVideo:
    """An engine request rendered: its photo moved by `motion`, with `audio`, as an MP4 at its out_path."""
    return render_video(
        photo=request.photo,
        face=portrait_face(request),
        motion=motion,
        audio=audio,
        out_path=Path(request.out_path),
        preview=request.preview,
        progress=progress,
        disclosure_label=request.disclosure_label,
        framing=request.framing,
        resolution=request.resolution,
    )


def portrait_face(request: PortraitVideoRequest) -> Face:
    """The face of the request's photo: the one it carries, or analysed here (~0.1 s; FaceNotFound, SeveralFaces)."""
    return request.face if request.face is not None else analyze_face(request.photo, embed=False)


def render_video(
    *,
    photo: np.ndarray,
    face: Face,
    motion: FaceMotion,
    audio: Path | None,
    out_path: Path,
    preview: bool = False,
    progress: Callable[[float], None] | None = None,
    disclosure_label: bool = False,
    framing: str = "photo",
    resolution: int | None = None,
) -> RenderedVideo:
    """Animate the photo's face with `motion` and encode the picture, with `audio` if given.

    One frame per motion frame at motion.fps. The picture is the whole photo or, with
    framing="head_and_shoulders", a square around the face; `resolution` pixels tall (up to
    MAX_RESOLUTION) when given, else at most MAX_SIDE pixels on its longer side (PREVIEW_MAX_SIDE and a
    faster encoder preset for a preview). `face` is the photo's face in the photo's own pixels.
    `disclosure_label` burns a small "AI-generated" label into a corner.
    """
    if motion.frames < 1:
        raise EngineError("Nothing to render: the motion has no frames.")
    frame, landmarks = frame_photo(
        photo, np.asarray(face.landmarks, dtype=np.float32), framing=framing, resolution=resolution, preview=preview
    )
    height, width = frame.shape[:2]
    label = DisclosureLabel(width=width, height=height) if disclosure_label else None
    rig = FaceRig(frame, landmarks)
    with VideoWriter(out_path, width=width, height=height, fps=motion.fps, audio=audio, preview=preview) as writer:
        # Only the face's region changes from frame to frame (the label is drawn the same on every frame): the
        # writer converts the rest once.
        for index, picture in enumerate(_animated(rig, frame, motion)):
            if label is None:
                writer.write(picture, changed=rig.roi)
            else:
                with label.drawn_on(picture):
                    writer.write(picture, changed=rig.roi)
            if progress is not None and (index % PROGRESS_EVERY == 0 or index == motion.frames - 1):
                progress((index + 1) / motion.frames)
    return RenderedVideo(
        path=Path(out_path),
        width=width,
        height=height,
        fps=motion.fps,
        frames=motion.frames,
        duration=motion.frames / motion.fps,
    )


def animate(frame: np.ndarray, landmarks: np.ndarray, motion: FaceMotion) -> Iterator[np.ndarray]:
    """The picture of each motion frame, unencoded: `frame` (already fitted) with its face moved.

    One array is yielded again and again, changed in place: copy a frame to keep it.
    """
    return _animated(FaceRig(frame, landmarks), frame, motion)


def _animated(rig: FaceRig, frame: np.ndarray, motion: FaceMotion) -> Iterator[np.ndarray]:
    """animate() with the photo's rig made already: each frame differs from `frame` inside rig.roi only."""
    x0, y0, x1, y1 = rig.roi
    current = frame[y0:y1, x0:x1]
    tracks = {
        "jaw": motion.jaw_open,
        "width": motion.mouth_width,
        "left": motion.left_eye_closed,
        "right": motion.right_eye_closed,
        "yaw": motion.head_yaw,
        "pitch": motion.head_pitch,
        "roll": motion.head_roll,
        "dx": motion.head_dx,
        "dy": motion.head_dy,
        "relax": np.zeros(motion.frames) if motion.smile_relax is None else motion.smile_relax,
    }
    tracks = {name: np.nan_to_num(np.asarray(values, dtype=np.float64)).tolist() for name, values in tracks.items()}
    frame = frame.copy()
    for index in range(motion.frames):
        roi = rig.render(
            tracks["jaw"][index],
            tracks["width"][index],
            {"left": tracks["left"][index], "right": tracks["right"][index]},
            {name: tracks[name][index] for name in ("yaw", "pitch", "roll", "dx", "dy")},
            tracks["relax"][index],
        )
        if roi is not current:
            frame[y0:y1, x0:x1] = roi
            current = roi
        yield frame
