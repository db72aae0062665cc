"""Where a pitch shift breaks intelligibility: Whisper's word error rate on Piper speech shifted by
-12 to +12 semitones, over ten sentences.

Run from the repository root:

    .venv/bin/python bench/pitch_intelligibility.py

Each sentence is spoken once per shift by the speech engine as a speech job calls it (speed 1, or
--speed; the shift applied by rubberband with formants preserved; the engine's own caps on the shift,
INTELLIGIBLE_PITCH and PITCH_LIMITS_BY_SPEED, lifted so that every shift is heard as asked) and transcribed by the local
recognizer (Whisper tiny.en). The word error rate is the word-level edit distance (substitutions, deletions,
insertions) between the normalised sentence and the normalised transcript, over the sentence's word
count. Per shift the table gives the pooled rate (all errors over all words), the mean over the
sentences and the worst sentence. The sentences hold no names, which a recognizer may spell any way.

The bounds it prints are the largest shift up and down such that every shift from 0 to it keeps the
pooled rate within the limit (3%): the range the engine caps a shift to (INTELLIGIBLE_PITCH in
media_jobs/engines/speech/piper.py), for explicit pitch and clone fits alike.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_model, uncapped_pitch  # noqa: E402
from media_jobs.engines.base import VoiceProfile  # noqa: E402
from media_jobs.engines.recognition import WhisperRecognizer, normalized_words  # noqa: E402
from media_jobs.engines.speech import piper  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Our bakery opens at seven every morning, and the bread is baked fresh each day.",
    "Please send the quarterly report to the finance team before the end of the week.",
    "Turn left at the second light, then keep going until you see the river.",
    "Thank you for calling; your appointment is confirmed for next week at ten.",
    "Welcome back! Today we will learn three simple ways to save energy at home.",
    "The museum is closed in the morning, but the garden stays open until sunset.",
    "If the light blinks red, unplug the device, wait ten seconds, and plug it in again.",
    "A good night's sleep, a glass of water and a short walk will do more than you think.",
    "The children planted tomatoes in the garden and watered them every evening.",
]
SHIFTS = (-12, -9, -6, -5, -4, -3, -2, 0, 2, 3, 4, 5, 6, 8, 10, 12)
WER_LIMIT = 0.03


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance over words: the fewest substitutions, deletions and insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, want in enumerate(reference, start=1):
        current = [i]
        for j, got in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (want != got)))
        previous = current
    return previous[-1]


def sentence_errors(
    speech: piper.PiperSpeech, recognizer: WhisperRecognizer, voice: VoiceProfile, out_dir: Path, *, show: bool = False
) -> list[int]:
    """Word errors in each of SENTENCES spoken once with `voice` and transcribed."""
    errors = []
    for text in SENTENCES:
        spoken = speech.synthesize(text=text, voice=voice, out_dir=out_dir)
        heard = recognizer.transcribe(audio=spoken.path).text
        spoken.path.unlink()
        errors.append(word_errors(normalized_words(text), normalized_words(heard)))
        if show and errors[-1]:
            print(f"  {voice.speed:g}x {voice.pitch_semitones:+g} st: {heard!r}")
    return errors


def contiguous_bound(pooled: dict[int, float], direction: int, limit: float) -> int:
    """The farthest shift in `direction` (+1 up, -1 down) such that every measured shift from 0 to it
    stays within `limit`; 0 if the first step already breaks it."""
    bound = 0
    for shift in sorted((s for s in pooled if s * direction > 0), key=abs):
        if pooled[shift] > limit:
            break
        bound = shift
    return bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print every transcript with errors")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--shifts", default=",".join(map(str, SHIFTS)), help="comma-separated semitones")
    args = parser.parse_args()

    speech, recognizer = piper.PiperSpeech(), WhisperRecognizer()
    reference_words = [len(normalized_words(text)) for text in SENTENCES]
    pooled: dict[int, float] = {}
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="pitch-wer-") as tmp,
        uncapped_pitch(),
    ):
        for shift in (int(value) for value in args.shifts.split(",")):
            voice = VoiceProfile(speed=args.speed, pitch_semitones=float(shift))
            errors = sentence_errors(speech, recognizer, voice, Path(tmp), show=args.show)
            rates = [wrong / words for wrong, words in zip(errors, reference_words, strict=True)]
            pooled[shift] = sum(errors) / sum(reference_words)
            rows.append((shift, pooled[shift], statistics.mean(rates), max(rates), sum(r > 0 for r in rates)))

    print(
        f"{len(SENTENCES)} sentences ({sum(reference_words)} words), speed {args.speed:g}, one synthesis each per shift"
    )
    print(f"CPU: {cpu_model()}")
    print()
    print("| shift (semitones) | WER, pooled | WER, mean over sentences | worst sentence | sentences with errors |")
    print("|---:|---:|---:|---:|---:|")
    for shift, rate, mean, worst, wrong_sentences in rows:
        print(f"| {shift:+d} | {rate:.1%} | {mean:.1%} | {worst:.1%} | {wrong_sentences}/{len(SENTENCES)} |")
    up, down = contiguous_bound(pooled, +1, WER_LIMIT), contiguous_bound(pooled, -1, WER_LIMIT)
    print()
    print(f"WER at 0: {pooled[0]:.1%}" if 0 in pooled else "")
    print(f"pooled WER <= {WER_LIMIT:.0%} from 0 up to {up:+d} and down to {down:+d} semitones")


if __name__ == "__main__":
    main()
