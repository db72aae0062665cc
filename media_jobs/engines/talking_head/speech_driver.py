"""Speech → FaceMotion: visemes from the phoneme timings, their size from the audio's loudness.

Each phoneme asks for a mouth shape (a viseme: how far the jaw drops, how wide the lips are). The
targets are laid out on a fine time grid, led a little ahead of the sound (lips move before we hear
them), blended between neighbours (coarticulation: a Gaussian over ~50 ms) and followed by an
attack/release envelope, so the mouth glides instead of snapping from frame to frame. The loudness
of each video frame (RMS over its 40 ms) scales the opening: silence keeps the mouth closed whatever
the timings say, and stressed syllables open wider. Blinks and a slight head sway come from a seeded
generator, so the same inputs and seed give the same motion.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import PhonemeTiming
from media_jobs.engines.talking_head.motion import FaceMotion

FPS = 25
STEP_S = 0.005  # the fine grid the visemes are blended on
LEAD_S = 0.04  # the mouth shapes a sound slightly before it is heard
COARTICULATION_S = 0.025  # Gaussian sigma: each shape bleeds into its neighbours
ATTACK_S = 0.03  # opening follows fast ...
RELEASE_S = 0.06  # ... closing a little slower
CLOSURE_S = 0.085  # the shortest time lips stay shut for m, b, p
BILABIALS = ("m", "b", "p")
WORD_GAP_S = 0.12  # a space between words up to this long is bridged, not a pause
# The lips' width track: at most this far from neutral (FaceMotion's ±1), reached through a soft knee,
# so that a held "ee" or "oo" sits at its ceiling: about 19% wider or narrower on a closed-mouth photo.
# Each tenth further costs about 0.03 of dlib's identity distance to the photo, whose worst frame must
# stay under 0.35 (spreading costs more than rounding; see docs/VIDEO.md).
WIDTH_CEILING_SPREAD = 0.7
WIDTH_CEILING_ROUND = 0.8
WIDTH_EASE = 2.5
# A held smile is let go while speaking and comes back in pauses: it follows the frames with sound,
# letting go over about a quarter of a second and coming back over half a second once a pause lasts.
RELAX_ATTACK_S = 0.25
RELAX_RELEASE_S = 0.5
RELAX_HOLD_S = 0.3  # gaps shorter than this (between words, a breath) do not bring the smile back
BLINK_SHIFT_S = 0.4  # a blink moves at most this far towards a moment the mouth is at rest
# Loudness: frames this far below the loud end of the clip (its 95th percentile) count as silence.
DYNAMIC_RANGE_DB = 32.0
SILENCE_DBFS = -55.0

# (jaw_open, mouth_width) per phoneme; see FaceMotion for the scales. Length marks are stripped first.
# A width of None leaves the lips' shape to the neighbours: the tongue and throat make these sounds, so
# the lips keep the rounding or spreading of the vowels around them (coarticulation: "two" is rounded
# from its t on, "see" spread from its s).
PAUSE: tuple[float, float | None] = (0.0, 0.0)
CONSONANT: tuple[float, float | None] = (0.18, None)
# Phonemes that share a mouth shape stand together (space-separated; "tʃ" is one phoneme).
VISEME_GROUPS: tuple[tuple[str, tuple[float, float | None]], ...] = (
    # lips pressed together (their width is the neighbours': "moon" rounds the m too)
    ("m b p", (0.0, None)),
    # lower lip tucked under the upper teeth
    ("f v", (0.06, None)),
    # open vowels
    ("ɑ", (0.95, 0.0)), ("a", (1.0, 0.15)), ("æ", (0.85, 0.5)), ("ʌ", (0.7, 0.05)), ("ɔ", (0.8, -0.9)),
    ("ɒ", (0.85, -0.6)),
    # mid and close vowels, spread
    ("ɛ", (0.55, 0.5)), ("e", (0.45, 0.7)), ("ə", (0.4, None)), ("ɚ", (0.35, -0.7)), ("ɜ", (0.45, -0.3)),
    ("ɐ", (0.55, 0.1)), ("ɪ", (0.32, 0.6)), ("i", (0.25, 1.0)), ("ᵻ", (0.3, 0.4)),
    # rounded
    ("o", (0.55, -1.0)), ("ʊ", (0.3, -1.0)), ("u", (0.28, -1.0)), ("w", (0.12, -1.0)), ("ɹ r", (0.22, -0.8)),
    ("ʃ ʒ", (0.2, -0.9)), ("tʃ dʒ", (0.18, -0.8)),
    # tongue and throat consonants: the jaw half-open, the lips as the neighbours have them
    ("t", (0.15, None)), ("d", (0.17, None)), ("n", (0.15, None)), ("l", (0.25, None)), ("s z", (0.12, 0.3)),
    ("θ ð", (0.2, None)), ("k g ɡ", (0.25, None)), ("ŋ", (0.22, None)), ("h", (0.35, None)), ("j", (0.2, 0.7)),
    ("ɾ", (0.18, None)), ("ʔ", (0.1, None)),
)  # fmt: skip
VISEMES: dict[str, tuple[float, float | None]] = {
    phoneme: shape for phonemes, shape in VISEME_GROUPS for phoneme in phonemes.split()
}


def viseme(phoneme: str) -> tuple[float, float | None]:
    """The mouth shape for one espeak phoneme (a width of None: the neighbours'); pauses (space,
    punctuation, '_') close the mouth and relax the lips."""
    symbol = phoneme.replace("ː", "").replace("ˈ", "").replace("ˌ", "").strip()
    if not symbol or not any(ch.isalpha() for ch in symbol):
        return PAUSE
    if symbol in VISEMES:
        return VISEMES[symbol]
    for ch in symbol:  # diphthongs and affricates: the first sound sets the shape
        if ch in VISEMES:
            return VISEMES[ch]
    return CONSONANT


def frame_count(duration: float, fps: int = FPS) -> int:
    return max(1, round(duration * fps))


def loudness(samples: np.ndarray, sample_rate: int, *, frames: int, fps: int = FPS) -> np.ndarray:
    """0..1 per video frame: the RMS of the frame's own samples, in dB over the clip's dynamic range.

    0 for silence (below SILENCE_DBFS, or more than DYNAMIC_RANGE_DB under the loud end of the clip),
    1 for the loudest stretches; normalised per clip, so a quiet recording still moves the mouth.
    """
    samples = np.asarray(samples, dtype=np.float32)
    edges = np.round(np.arange(frames + 1) * sample_rate / fps).astype(np.int64)
    edges = np.clip(edges, 0, len(samples))
    squares = np.concatenate([[0.0], np.cumsum(np.square(samples, dtype=np.float64))])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt(np.maximum(squares[edges[1:]] - squares[edges[:-1]], 0.0) / counts)
    db = 20.0 * np.log10(np.maximum(rms, 1e-7))
    if not np.any(db > SILENCE_DBFS):
        return np.zeros(frames, dtype=np.float32)
    top = float(np.percentile(db[db > SILENCE_DBFS], 95))
    floor = max(SILENCE_DBFS, top - DYNAMIC_RANGE_DB)
    return np.clip((db - floor) / (top - floor), 0.0, 1.0).astype(np.float32)


def _one_pole(signal: np.ndarray, step: float) -> np.ndarray:
    """Attack/release follower: rises with ATTACK_S, falls with RELEASE_S (time constants)."""
    up, down = 1.0 - np.exp(-step / ATTACK_S), 1.0 - np.exp(-step / RELEASE_S)
    out = np.empty_like(signal)
    value = 0.0
    for i, target in enumerate(signal.tolist()):
        value += (target - value) * (up if target > value else down)
        out[i] = value
    return out


def _gaussian(signal: np.ndarray, sigma_steps: float) -> np.ndarray:
    radius = int(3 * sigma_steps) + 1
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_steps) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(signal, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _fill_between(track: np.ndarray) -> np.ndarray:
    """NaN stretches (sounds that leave the lips free) take a straight line between their neighbours."""
    known = np.flatnonzero(~np.isnan(track))
    if not len(known):
        return np.zeros_like(track)
    return np.interp(np.arange(len(track)), known, track[known])


def _per_frame(fine: np.ndarray, frames: int, fps: int) -> np.ndarray:
    """Average of the fine grid over each video frame's interval (what a 40 ms exposure would see)."""
    per = round(1.0 / (fps * STEP_S))
    fine = np.pad(fine, (0, max(0, frames * per - len(fine))), mode="edge")[: frames * per]
    return fine.reshape(frames, per).mean(axis=1)


def _bridge_word_gaps(phonemes: Sequence[PhonemeTiming]) -> list[PhonemeTiming]:
    """A short space between two words is no pause in connected speech: its neighbours share it.

    Spaces up to WORD_GAP_S are split between the phonemes on either side; longer ones, punctuation
    and silence ('_') stay pauses (and the audio's loudness closes the mouth there anyway).
    """
    timings = list(phonemes)
    out: list[PhonemeTiming] = []
    for i, timing in enumerate(timings):
        short_space = timing.phoneme == " " and timing.end - timing.start <= WORD_GAP_S
        if short_space and 0 < i < len(timings) - 1 and viseme(timings[i - 1].phoneme) != PAUSE:
            half = (timing.start + timing.end) / 2
            out.append(PhonemeTiming(timings[i - 1].phoneme, timing.start, half))
            out.append(PhonemeTiming(timings[i + 1].phoneme, half, timing.end))
        else:
            out.append(timing)
    return out


# An opening this small moves no pixel: frames the smoothing only grazes stay exactly shut.
UNSEEN_OPENING = 1e-3


def mouth_tracks(
    phonemes: Sequence[PhonemeTiming], level: np.ndarray, *, fps: int = FPS
) -> tuple[np.ndarray, np.ndarray]:
    """(jaw_open, mouth_width) per frame from the timings, scaled by the loudness per frame `level`."""
    frames = len(level)
    steps = frames * round(1.0 / (fps * STEP_S))
    times = (np.arange(steps) + 0.5) * STEP_S + LEAD_S
    jaw, width = np.zeros(steps), np.zeros(steps)
    for timing in _bridge_word_gaps(phonemes):
        lo, hi = np.searchsorted(times, [timing.start, timing.end])
        jaw[lo:hi], shape = viseme(timing.phoneme)
        width[lo:hi] = np.nan if shape is None else shape
    width = _fill_between(width)
    # Lips that close (m, b, p) must be seen closed even when the sound is short (Piper gives them
    # 20–40 ms; real closures last 60–100 ms): each holds the lips shut for at least CLOSURE_S, long
    # enough to cover one whole video frame, whatever the neighbouring vowels ask for.
    closed = np.zeros(steps, dtype=bool)
    for timing in phonemes:
        if timing.phoneme in BILABIALS:
            centre, half = (timing.start + timing.end) / 2, max(CLOSURE_S, timing.end - timing.start) / 2
            lo, hi = np.searchsorted(times, [centre - half, centre + half])
            closed[lo:hi] = True
    sigma = COARTICULATION_S / STEP_S
    jaw = _one_pole(_gaussian(jaw, sigma), STEP_S)
    width = _one_pole(_gaussian(width, sigma), STEP_S)
    # Lips snap shut for a plosive (about 10 ms to close) and stay shut through it.
    jaw *= 1.0 - np.maximum(_gaussian(closed.astype(np.float64), 0.01 / STEP_S), closed)
    jaw_frames = _per_frame(jaw, frames, fps)
    width_frames = _per_frame(width, frames, fps)
    # Loudness sets how far a shape is reached: quiet sounds barely move, silence stays closed. The
    # next frame's loudness counts too, so the lips may part just before a sound after a pause.
    gain = np.clip(np.maximum(level, np.append(level[1:], 0.0)), 0.0, 1.0) ** 0.8
    jaw_open = np.clip(jaw_frames * (0.2 + 0.65 * gain) * (gain > 0), 0.0, 1.0)
    jaw_open[jaw_open < UNSEEN_OPENING] = 0.0  # the smoothing's far tail: shut, not a hair open
    # The lips reach most of their shape even in quieter syllables; the extremes are eased into a
    # ceiling, so a rounded "oo" holds its shape and never overshoots into a grimace.
    shaped = width_frames * np.minimum(1.0, 3.0 * gain)
    ceiling = np.where(shaped > 0, WIDTH_CEILING_SPREAD, WIDTH_CEILING_ROUND)
    mouth_width = ceiling * np.tanh(WIDTH_EASE * shaped) / np.tanh(WIDTH_EASE)
    return jaw_open.astype(np.float32), mouth_width.astype(np.float32)


def _blink(times: np.ndarray, start: float, length: float, fps: int) -> np.ndarray:
    """One blink's closure per frame: the lid falls in 30% of it, stays shut a frame or more, rises slower."""
    close_s = 0.3 * length
    hold_s = max(1.1 / fps, 0.2 * length)  # long enough to contain one frame's midpoint
    open_s = max(0.05, length - close_s - hold_s)
    t = times - start
    closing = np.clip(t / close_s, 0.0, 1.0)
    opening = np.clip(1.0 - (t - close_s - hold_s) / open_s, 0.0, 1.0)
    shape = np.where(t < close_s, np.sin(0.5 * np.pi * closing), opening**1.5)
    shape[(t < 0) | (t > close_s + hold_s + open_s)] = 0.0
    return shape


def blinks(frames: int, *, fps: int = FPS, rng: np.random.Generator, busy: np.ndarray | None = None) -> np.ndarray:
    """0..1 eye closure per frame: a blink every 2–6 s, 150–250 ms long, shut for at least one frame.

    With `busy` (per frame: how much the mouth is doing), each blink moves by up to BLINK_SHIFT_S to
    where the mouth does least: people blink at pauses and phrase ends rather than mid-vowel, and a
    blink over a strongly rounded or spread mouth changes the face more than either alone.
    """
    closed = np.zeros(frames, dtype=np.float32)
    times = (np.arange(frames) + 0.5) / fps
    start = rng.uniform(0.6, 2.5)
    while start < frames / fps:
        length = rng.uniform(0.15, 0.25)
        at = start
        if busy is not None:
            candidates = start + np.arange(-BLINK_SHIFT_S, BLINK_SHIFT_S + 1e-9, 1.0 / fps)
            candidates = candidates[(candidates >= 0.0) & (candidates < frames / fps)]
            if len(candidates):
                cost = [float(np.dot(_blink(times, c, length, fps), busy)) + 0.01 * abs(c - start) for c in candidates]
                at = float(candidates[int(np.argmin(cost))])
        closed = np.maximum(closed, _blink(times, at, length, fps).astype(np.float32))
        start += length + rng.uniform(2.0, 6.0)
    return closed


def _sway(frames: int, fps: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Smooth wandering: a few slow sines (0.08–0.45 Hz) with random phases, peak near `amplitude`."""
    t = np.arange(frames) / fps
    wave = np.zeros(frames)
    for _ in range(3):
        wave += np.sin(2 * np.pi * rng.uniform(0.08, 0.45) * t + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.5, 1.0)
    return amplitude * wave / 2.0


def relax_step(value: float, *, speaking: bool, fps: int = FPS) -> float:
    """One frame of a held smile's let-go: toward 1 while speaking (RELAX_ATTACK_S), back to 0 in a pause
    (RELAX_RELEASE_S). A live face, which cannot see the next sentence coming, steps it frame by frame."""
    rise = 1.0 - float(np.exp(-1.0 / (fps * (RELAX_ATTACK_S if speaking else RELAX_RELEASE_S))))
    return value + (float(speaking) - value) * rise


def smile_relax(level: np.ndarray, *, fps: int = FPS) -> np.ndarray:
    """0..1 per frame: how far a held smile is let go, from the frames with sound (`level` > 0)."""
    speaking = np.asarray(level) > 0
    hold = max(1, round(RELAX_HOLD_S * fps))
    # Bridge short gaps: a frame counts as speaking when sound is on both sides within `hold` frames.
    before = np.maximum.accumulate(np.where(speaking, np.arange(len(speaking)), -hold - 1))
    after = np.minimum.accumulate(np.where(speaking, np.arange(len(speaking)), len(speaking) + hold)[::-1])[::-1]
    frames = np.arange(len(speaking))
    active = speaking | ((frames - before <= hold) & (after - frames <= hold))
    out = np.empty(len(active), dtype=np.float32)
    value = 0.0
    for i, speaking_now in enumerate(active.tolist()):
        value = relax_step(value, speaking=speaking_now, fps=fps)
        out[i] = value
    return out


def speech_motion(
    *,
    phonemes: Sequence[PhonemeTiming],
    samples: np.ndarray,
    sample_rate: int,
    fps: int = FPS,
    seed: int = 0,
) -> FaceMotion:
    """The FaceMotion for speaking this audio: one frame per 1/fps s of audio."""
    frames = frame_count(len(samples) / sample_rate, fps)
    level = loudness(samples, sample_rate, frames=frames, fps=fps)
    jaw_open, mouth_width = mouth_tracks(phonemes, level, fps=fps)
    rng = np.random.default_rng(seed)
    eyes = blinks(frames, fps=fps, rng=rng, busy=np.abs(mouth_width) + jaw_open)
    # Head: a slow sway of a degree or two, plus a small nod that follows the speech's emphasis.
    emphasis = _gaussian(level.astype(np.float64), 0.25 * fps)
    emphasis -= emphasis.mean()
    ease = np.clip(np.arange(frames) / (0.6 * fps), 0.0, 1.0) ** 2  # start from the photo's own pose
    head = {
        "head_yaw": _sway(frames, fps, rng, 1.8),
        "head_pitch": _sway(frames, fps, rng, 1.0) + 1.5 * emphasis,
        "head_roll": _sway(frames, fps, rng, 1.0),
        "head_dx": _sway(frames, fps, rng, 0.006),
        "head_dy": _sway(frames, fps, rng, 0.004) + 0.006 * emphasis,
    }
    return FaceMotion(
        fps=fps,
        jaw_open=jaw_open,
        mouth_width=mouth_width,
        left_eye_closed=eyes,
        right_eye_closed=eyes.copy(),
        **{name: (track * ease).astype(np.float32) for name, track in head.items()},
        smile_relax=smile_relax(level, fps=fps),
    )


def speech_motion_from_file(
    *, audio: Path, phonemes: Sequence[PhonemeTiming], fps: int = FPS, seed: int = 0
) -> FaceMotion:
    samples, rate = decode_to_mono(audio)
    return speech_motion(phonemes=phonemes, samples=samples, sample_rate=rate, fps=fps, seed=seed)
