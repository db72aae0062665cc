"""Speech made faster or slower the way people speak faster or slower: pauses change most, consonants least.

A uniform time stretch shortens a 40 ms plosive as much as a 150 ms vowel or a 300 ms pause, and at 2x the
short consonants are what a listener (and Whisper) loses first. Piper says where every phoneme is, so the
stretch here follows them: each phoneme gets a rate from its kind (`RATE_WEIGHTS`, `SLOWING_WEIGHTS`:
pauses weigh most, vowels more than consonants), one scale is solved so that the whole lasts exactly
`samples / tempo`, and the audio is stretched along that piecewise-linear map by WSOLA (overlap-add of whole
waveform stretches, each placed where it continues the last one best, so no period is resynthesised). At 2x
Whisper tiny.en misheard 3.8% of the words where ffmpeg's uniform atempo misheard 8.1% of the same Piper
audio, and a uniform WSOLA 4.9% (docs/VOICES.md, "Intelligibility at each speed"); shorter pauses took it
half a point lower.
"""

from collections.abc import Sequence

import numpy as np

from media_jobs.engines.base import PhonemeTiming

PAUSE, VOWEL, CONSONANT, WORD_BREAK = "pause", "vowel", "consonant", "word break"
# How much of a tempo change each kind of phoneme takes, relatively. Piper's word breaks (" ") carry the
# transition between two words' sounds, not silence: they take a middle weight. Chosen on Whisper's word
# error rate at 2x, on the same Piper audio: pauses at 6 (down to a twelfth) misheard 0.5 points fewer words
# than at 3 (down to a sixth) over 58 syntheses of ten sentences. Slowing down keeps pauses at 3, the weight
# 0.5x and 0.8x were measured with (docs/VOICES.md).
RATE_WEIGHTS = {PAUSE: 6.0, VOWEL: 1.2, CONSONANT: 0.8, WORD_BREAK: 1.0}
SLOWING_WEIGHTS = {**RATE_WEIGHTS, PAUSE: 3.0}
MAX_PAUSE_RATE = 12.0  # a pause keeps a twelfth of itself at least: a sentence's end stays audible as one
VOWELS = frozenset("aeiouyæɑɐɒɔəɚɛɜɝɪʊʌᵻɨøœɘɵɤ")
PAUSES = frozenset("_,.;:!?—…")
# WSOLA: 23 ms frames at 22.05 kHz, half overlapping, each free to move 7 ms to continue the last one.
FRAME_S = 0.0232
TOLERANCE_S = 0.0073


def phoneme_kind(phoneme: str) -> str:
    """PAUSE, VOWEL, CONSONANT or WORD_BREAK for one of Piper's phonemes (a stress or length mark folded in)."""
    if phoneme == " ":
        return WORD_BREAK
    first = phoneme[0]
    if first in PAUSES:
        return PAUSE
    return VOWEL if first in VOWELS else CONSONANT


def time_map(
    phonemes: Sequence[PhonemeTiming], *, samples: int, sample_rate: int, tempo: float
) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints (input sample, output sample) of the map that plays `samples` `tempo` times as fast.

    Each phoneme's rate is 1 + scale x its weight when speeding up (1 / (1 + scale x weight) when slowing
    down), with the scale that makes the output last exactly samples / tempo. Audio before the first
    phoneme or after the last is a pause.
    """
    target = samples / tempo
    edges, kinds = [0.0], []
    for phoneme in phonemes:
        end = min(float(phoneme.end) * sample_rate, samples)
        if end > edges[-1]:
            edges.append(end)
            kinds.append(phoneme_kind(phoneme.phoneme))
    if edges[-1] < samples:
        edges.append(float(samples))
        kinds.append(PAUSE)
    lengths = np.diff(edges)
    table = RATE_WEIGHTS if tempo >= 1 else SLOWING_WEIGHTS
    weights = np.array([table[kind] for kind in kinds])
    pauses = np.array([kind == PAUSE for kind in kinds])

    def rates(scale: float) -> np.ndarray:
        if tempo >= 1:
            return np.where(pauses, np.minimum(1 + scale * weights, MAX_PAUSE_RATE), 1 + scale * weights)
        return 1 / (1 + scale * weights)

    def too_long(scale: float) -> bool:
        length = float(np.sum(lengths / rates(scale)))
        return length > target if tempo >= 1 else length < target

    low, high = 0.0, 1.0
    while too_long(high) and high < 1e6:
        high *= 2
    for _ in range(50):  # bisection: every rate moves away from 1 as the scale grows
        middle = (low + high) / 2
        low, high = (middle, high) if too_long(middle) else (low, middle)
    output = np.concatenate([[0.0], np.cumsum(lengths / rates(high))])
    return np.asarray(edges), output * (target / output[-1])


def moved_timings(
    phonemes: Sequence[PhonemeTiming], input_points: np.ndarray, output_points: np.ndarray, *, sample_rate: int
) -> list[PhonemeTiming]:
    """The phonemes' timings carried along the map input_points -> output_points (breakpoints in samples)."""

    def moved(seconds: float) -> float:
        return float(np.interp(seconds * sample_rate, input_points, output_points)) / sample_rate

    return [PhonemeTiming(p.phoneme, moved(p.start), moved(p.end)) for p in phonemes]


def stretch(audio: np.ndarray, input_points: np.ndarray, output_points: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """`audio` (float mono) played along the map input_points -> output_points, by WSOLA; as many samples as
    the map's last output point."""
    frame = max(16, int(round(FRAME_S * sample_rate)) // 2 * 2)
    hop, tolerance = frame // 2, int(round(TOLERANCE_S * sample_rate))
    length = int(round(output_points[-1]))
    window = np.hanning(frame + 1)[:frame].astype(np.float32)
    margin = frame + tolerance + hop
    padded = np.concatenate([np.zeros(margin, np.float32), audio.astype(np.float32), np.zeros(2 * margin, np.float32)])
    out = np.zeros(length + frame, np.float32)
    weight = np.zeros(length + frame, np.float32)
    previous = None
    for start in range(0, length, hop):
        centre = margin + int(round(float(np.interp(start, output_points, input_points))))
        if previous is None:
            chosen = centre
        else:  # where the audio best continues the frame placed last
            natural = padded[previous + hop : previous + hop + frame]
            candidates = padded[centre - tolerance : centre + tolerance + frame]
            chosen = centre - tolerance + int(np.argmax(np.correlate(candidates, natural, "valid")))
        out[start : start + frame] += padded[chosen : chosen + frame] * window
        weight[start : start + frame] += window
        previous = chosen
    return out[:length] / np.maximum(weight[:length], 1e-3)
