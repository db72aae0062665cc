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
bench/pitch_intelligibility.py spoken by the engine (as a speech job calls it, `--pitch` semitones
too) and transcribed by Whisper tiny.en; the word error rate pooled over their 140 words, once per
synthesis of the ten (`--syntheses`, 3 by default: Piper's noise moves a single run by a point or two),
then the mean and the spread over the syntheses. `--wer-only` skips the durations; `--uncapped` applies
the `--pitch` asked even where the engine would cap it (to find where the caps belong).

For comparisons, `--piper-speeds 1,1.4` moves the range where Piper's length scale makes the change
(PIPER_SPEED_RANGE), and `--weights 1,1,1,1` sets how much of a speed-up pauses, vowels, consonants and
word breaks take (RATE_WEIGHTS in media_jobs/engines/speech/tempo.py; all 1 is a uniform stretch; slowing
down has its own SLOWING_WEIGHTS).
Piper's noise moves one synthesis by several points, so settings of the stretch are best compared on the
same Piper audio: `--compare "3,1.2,0.8,1,6 6,1.2,0.8,1,12"` speaks each sentence once per synthesis and
stretches that very audio with each setting (the four weights, then the most a pause is shortened:
MAX_PAUSE_RATE), at the first of `--speeds`.
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from piper import SynthesisConfig  # noqa: E402

from bench import pitch_intelligibility  # noqa: E402
from bench.common import uncapped_pitch  # noqa: E402
from media_jobs.engines.audio import write_wav  # noqa: E402
from media_jobs.engines.base import VoiceProfile  # noqa: E402
from media_jobs.engines.recognition import WhisperRecognizer, normalized_words  # noqa: E402
from media_jobs.engines.speech import piper as piper_engine  # noqa: E402
from media_jobs.engines.speech import tempo  # noqa: E402
from media_jobs.engines.speech.piper import PiperSpeech, applied_pitch, load_voice  # noqa: E402

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
    parser.add_argument("--syntheses", type=int, default=3, help="syntheses of the ten sentences per speed")
    parser.add_argument("--pitch", type=float, default=0.0, help="semitones, as a request asks (the engine caps it)")
    parser.add_argument("--speeds", default=",".join(map(str, (1.0, *SPEEDS))), help="comma-separated speeds")
    parser.add_argument("--piper-speeds", help="lowest,highest speed Piper's length scale makes (PIPER_SPEED_RANGE)")
    parser.add_argument("--uncapped", action="store_true", help="apply --pitch as asked (no intelligibility caps)")
    parser.add_argument("--weights", help="pause,vowel,consonant,word-break rate weights of the stretch (RATE_WEIGHTS)")
    parser.add_argument("--compare", help="settings of the stretch, space-separated, on the same Piper audio")
    args = parser.parse_args()
    with contextlib.ExitStack() as patches:
        if args.piper_speeds:
            low, high = (float(value) for value in args.piper_speeds.split(","))
            patches.enter_context(mock.patch.object(piper_engine, "PIPER_SPEED_RANGE", (low, high)))
        if args.uncapped:
            patches.enter_context(uncapped_pitch())
        if args.weights:
            patches.enter_context(mock.patch.object(tempo, "RATE_WEIGHTS", rate_weights(args.weights.split(","))))
        compare(args) if args.compare else run(args)


def rate_weights(values: list[str]) -> dict[str, float]:
    """RATE_WEIGHTS from the pause, vowel, consonant and word-break weights, in that order."""
    kinds = (tempo.PAUSE, tempo.VOWEL, tempo.CONSONANT, tempo.WORD_BREAK)
    return dict(zip(kinds, (float(value) for value in values), strict=True))


def run(args: argparse.Namespace) -> None:
    engine, out = PiperSpeech(), Path(tempfile.mkdtemp(prefix="speech-speed-"))
    if not args.wer_only:
        durations(engine, out)
    recognizer = WhisperRecognizer()
    words = sum(len(normalized_words(text)) for text in pitch_intelligibility.SENTENCES)
    print(f"pitch {args.pitch:+g} semitones asked; {args.syntheses} syntheses of {words} words per speed")
    print(f"{'speed':>6} {'applied':>8} {'WER mean':>9} {'min':>6} {'max':>6}  per synthesis")
    for speed in (float(value) for value in args.speeds.split(",")):
        voice = VoiceProfile(speed=speed, pitch_semitones=args.pitch)
        rates = [
            sum(pitch_intelligibility.sentence_errors(engine, recognizer, voice, out, show=args.show)) / words
            for _ in range(args.syntheses)
        ]
        each = " ".join(f"{rate:.1%}" for rate in rates)
        applied = f"{applied_pitch(args.pitch, speed=speed):+g}"
        print(f"{speed:>6} {applied:>8} {statistics.mean(rates):>9.1%} {min(rates):>6.1%} {max(rates):>6.1%}  {each}")


def compare(args: argparse.Namespace) -> None:
    """Each setting of the stretch on the same Piper audio: the engine speaks once, its stretch's input is kept."""
    engine, out = PiperSpeech(), Path(tempfile.mkdtemp(prefix="speech-compare-"))
    recognizer, settings = WhisperRecognizer(), args.compare.split()
    voice = VoiceProfile(speed=float(args.speeds.split(",")[0]), pitch_semitones=args.pitch)
    if voice.speed == 1:
        raise SystemExit("--compare needs a speed other than 1: speed 1 is spoken without a stretch")
    words = sum(len(normalized_words(text)) for text in pitch_intelligibility.SENTENCES)
    rates: dict[str, list[float]] = {setting: [] for setting in settings}
    print(f"{voice.speed:g}x, {args.syntheses} syntheses of {words} words, each stretched by every setting")
    for synthesis in range(args.syntheses):
        errors = dict.fromkeys(settings, 0)
        for text in pitch_intelligibility.SENTENCES:
            kept = stretch_input(engine, text, voice, out)
            for setting in settings:
                *weights, most = setting.split(",")
                with (
                    mock.patch.object(tempo, "RATE_WEIGHTS", rate_weights(weights)),
                    mock.patch.object(tempo, "MAX_PAUSE_RATE", float(most)),
                ):
                    points = tempo.time_map(
                        kept["timings"], **{k: kept[k] for k in ("samples", "sample_rate", "tempo")}
                    )
                path = out / "compared.wav"
                write_wav(
                    path, tempo.stretch(kept["audio"], *points, sample_rate=kept["sample_rate"]), kept["sample_rate"]
                )
                heard = recognizer.transcribe(audio=path).text
                errors[setting] += pitch_intelligibility.word_errors(normalized_words(text), normalized_words(heard))
        for setting in settings:
            rates[setting].append(errors[setting] / words)
        print(f"synthesis {synthesis + 1}: " + "  ".join(f"{s} {rates[s][-1]:.1%}" for s in settings), flush=True)
    for setting in settings:
        print(f"{setting:>24}  WER mean {statistics.mean(rates[setting]):.2%}")
    for setting in settings[1:]:
        differences = [b - a for a, b in zip(rates[settings[0]], rates[setting], strict=True)]
        spread = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("nan")
        print(f"{setting:>24}  minus the first: {statistics.mean(differences):+.2%} (standard error {spread:.2%})")


def stretch_input(engine: PiperSpeech, text: str, voice: VoiceProfile, out: Path) -> dict:
    """What the engine's stretch would have been given for `text`: the audio, its phoneme timings, the tempo."""
    kept: dict = {}

    def keep_map(timings: list, **given: object) -> tuple[None, None]:
        kept.update(given, timings=timings)
        return None, None

    def keep_audio(samples: object, *_: object, **__: object) -> object:
        kept["audio"] = samples
        return samples

    with (
        mock.patch.object(piper_engine, "time_map", keep_map),
        mock.patch.object(piper_engine, "stretch", keep_audio),
        mock.patch.object(piper_engine, "moved_timings", lambda timings, *_, **__: timings),
    ):
        engine.synthesize(text=text, voice=voice, out_dir=out).path.unlink()
    return kept


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
