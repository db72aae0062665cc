"""How exactly `speed` sets the length of Piper speech: the duration at 0.5, 0.8, 1.3 and 2.0 against
the voice's own pace divided by the speed, over ten sentences.

Run from the repository root:

    .venv/bin/python bench/speech_speed.py

The engine is called directly, as a speech job calls it. Two references for each sentence:

- the voice's pace as the engine takes it: Piper without its duration noise (the promise: exact);
- what a listener hears at speed 1: the mean of five syntheses, each moved about 2% by the noise
  (the promise: within 3%).

Each speed is synthesized three times; the error is duration × speed / reference − 1.

Then intelligibility at each speed (and speed 1): the ten name-free sentences of
bench/pitch_intelligibility.py spoken once each and transcribed by Whisper tiny.en; the word error rate
pooled over their 140 words. `--wer-only` skips the durations.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from piper import SynthesisConfig  # noqa: E402

from bench import pitch_intelligibility  # noqa: E402
from media_jobs.engines.base import VoiceProfile  # noqa: E402
from media_jobs.engines.recognition import WhisperRecognizer, normalized_words  # noqa: E402
from media_jobs.engines.speech.piper import PiperSpeech, load_voice  # noqa: E402

SENTENCES = [
    "Hello from my digital twin.",
    "The quick brown fox jumps over the lazy dog.",
    "Our bakery opens at seven every morning, and the bread is baked fresh each day.",
    "Please send the quarterly report to the finance team by Friday afternoon.",
    "Turn left at the second light, then keep going until you see the river.",
    "Thank you for calling; your appointment is confirmed for Tuesday at ten.",
    "Welcome back! Today we will learn three simple ways to save energy at home.",
    "The museum is closed on Mondays, but the garden stays open until sunset.",
    "If the light blinks red, unplug the device, wait ten seconds, and plug it in again.",
    "A good night's sleep, a glass of water and a short walk will do more than you think.",
]
SPEEDS = (0.5, 0.8, 1.3, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wer-only", action="store_true", help="only the word error rate at each speed")
    parser.add_argument("--show", action="store_true", help="print every transcript with errors")
    args = parser.parse_args()
    engine, out = PiperSpeech(), Path(tempfile.mkdtemp(prefix="speech-speed-"))
    if not args.wer_only:
        durations(engine, out)
    recognizer = WhisperRecognizer()
    words = sum(len(normalized_words(text)) for text in pitch_intelligibility.SENTENCES)
    print(f"{'speed':>6} {'WER, pooled':>12}")
    for speed in (1.0, *SPEEDS):
        voice = VoiceProfile(speed=speed)
        errors = pitch_intelligibility.sentence_errors(engine, recognizer, voice, out, show=args.show)
        print(f"{speed:>6} {sum(errors) / words:>12.1%}")


def durations(engine: PiperSpeech, out: Path) -> None:

    def seconds(text: str, speed: float) -> float:
        return engine.synthesize(text=text, voice=VoiceProfile(speed=speed), out_dir=out).duration

    def pace(text: str) -> float:
        chunks = load_voice().synthesize(text, syn_config=SynthesisConfig(noise_w_scale=0.0))
        return sum(len(chunk.audio_int16_array) for chunk in chunks) / load_voice().config.sample_rate

    to_pace: dict[float, list[float]] = {speed: [] for speed in SPEEDS}
    to_heard: dict[float, list[float]] = {speed: [] for speed in SPEEDS}
    for text in SENTENCES:
        own, heard = pace(text), statistics.mean(seconds(text, 1.0) for _ in range(5))
        for speed in SPEEDS:
            for spoken in (seconds(text, speed) for _ in range(3)):
                to_pace[speed].append(spoken * speed / own - 1)
                to_heard[speed].append(spoken * speed / heard - 1)
    print(f"{len(SENTENCES)} sentences x 3 syntheses per speed")
    print(f"{'speed':>6} {'vs pace: worst':>15} {'vs speed 1: mean':>17} {'worst':>7}")
    for speed in SPEEDS:
        worst_pace, worst_heard = max(to_pace[speed], key=abs), max(to_heard[speed], key=abs)
        print(f"{speed:>6} {worst_pace:>+15.2%} {statistics.mean(to_heard[speed]):>+17.1%} {worst_heard:>+7.1%}")


if __name__ == "__main__":
    main()
