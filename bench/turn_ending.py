"""Which voice-activity detector ends a live turn better: WebRTC's VAD or Silero (the ONNX model faster-whisper
ships), each as the live session runs it (media_jobs.engines.vad, frame by frame).

Questions are spoken by Piper with the pauses of natural speech inside them (commas, a second clause), mixed
with room noise at 20 and 10 dB SNR, and followed by 1.5 s of that noise alone. Each detector's frame-by-frame
decisions go through the same end-of-turn rule the live session uses (a pause of END_MS after speech), and
the bench reports, per detector and noise level:

- false starts: "speaking" heard in the second of noise alone before the question (a replica that talks would
  be cut off for nothing); such a question counts nowhere else;
- onset: from the first phoneme to "speaking" (what stops the replica on barge-in), p95;
- early ends: turns ended inside the question (at one of its pauses) — the person is cut off;
- missed ends: no end within the 1.5 s after the question — the replica never answers;
- delay: from the last phoneme's end to the end of turn (p50, p95) — what the person waits before the
  recognizer starts; the hangover (END_MS) is part of it;
- cost: CPU time per second of audio.

    .venv/bin/python bench/turn_ending.py
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")

import django  # noqa: E402

django.setup()

from knowledge.live.session import END_MS, FRAME_MS, START_WINDOW  # noqa: E402
from media_jobs.engines import SPEECH_ENGINE, VOICE_ACTIVITY_DETECTOR, get_engine  # noqa: E402
from media_jobs.engines.audio import decode_to_mono  # noqa: E402
from media_jobs.engines.base import VoiceProfile  # noqa: E402

RATE = 16000
LEAD_S = 1.0  # noise alone before each question: a detector that starts a turn here would cut the replica off
TAIL_S = 1.5
QUESTIONS = [
    "How much is delivery to Canada, and how long does it take?",
    "Tell me about your starter. How often do you feed it?",
    "Where did you grow up, and when did you move to Manchester?",
    "If I order before one, is it baked the same day?",
    "What flour do you use, and why that one?",
    "Hmm, let me think. What does hooch mean?",
    "Do you ship overnight? I need it by Friday.",
    "When did you open the bakery, and who with?",
    "Is standard delivery free, or only over forty pounds?",
    "What did you study at university? Was it chemistry?",
]


def questions() -> list[tuple[np.ndarray, float, float]]:
    """(16 kHz speech, second its speech starts, second it ends) for each question: where 10 ms frames are within
    40 dB of the loudest, the same edges a listener hears."""
    engine = get_engine(SPEECH_ENGINE, "piper")
    spoken = []
    with tempfile.TemporaryDirectory() as folder:
        for text in QUESTIONS:
            speech = engine.synthesize(text=text, voice=VoiceProfile(), out_dir=Path(folder))
            samples, _ = decode_to_mono(speech.path, sample_rate=RATE)
            frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
            level = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-9
            loud = np.flatnonzero(20 * np.log10(level / level.max()) > -40)
            spoken.append((samples, loud[0] * 0.01, (loud[-1] + 1) * 0.01))
    return spoken


def room_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish noise: white noise through a gentle low-pass, like a room with a fan."""
    white = rng.standard_normal(length + 64)
    kernel = np.exp(-np.arange(64) / 12.0)
    return np.convolve(white, kernel / kernel.sum(), mode="valid")[:length].astype(np.float32)


def mixed(speech: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    audio = np.concatenate([np.zeros(int(LEAD_S * RATE), np.float32), speech, np.zeros(int(TAIL_S * RATE), np.float32)])
    if snr_db is None:
        return audio
    noise = room_noise(len(audio), rng)
    speech_power = np.mean(speech[np.abs(speech) > 0.01] ** 2)
    noise *= np.sqrt(speech_power / (10 ** (snr_db / 10)) / np.mean(noise**2))
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def decisions(name: str, audio: np.ndarray) -> tuple[list[bool], float]:
    """One decision per FRAME_MS from the engine's streaming listener, as the live session makes them; the CPU
    seconds they took."""
    listen = get_engine(VOICE_ACTIVITY_DETECTOR, name).listener(sample_rate=RATE)
    pcm = (audio * 32767).astype(np.int16)
    step = RATE * FRAME_MS // 1000
    started = time.process_time()
    heard = [listen(pcm[i : i + step].tobytes()) for i in range(0, len(pcm) - step + 1, step)]
    return heard, time.process_time() - started


def turn_times(decisions: list[bool], onset_frames: int) -> tuple[float | None, float | None]:
    """(start, end): the seconds the live session's rule hears speech start (the detector's `onset_frames` of
    START_WINDOW voiced frames: what stops the replica on barge-in) and ends the turn (END_MS without a voiced
    frame)."""
    recent: list[bool] = []
    start, silent = None, 0
    for index, voiced in enumerate(decisions):
        recent = (recent + [voiced])[-START_WINDOW:]
        if start is None:
            if sum(recent) >= onset_frames:
                start = (index + 1) * FRAME_MS / 1000
            continue
        silent = 0 if voiced else silent + FRAME_MS
        if silent >= END_MS:
            return start, (index + 1) * FRAME_MS / 1000
    return start, None


def main() -> None:
    rng = np.random.default_rng(7)
    spoken = questions()
    detectors = ("webrtc", "silero")
    print(
        f"{len(spoken)} questions, END_MS={END_MS}, frames of {FRAME_MS} ms, {LEAD_S} s of noise before each and "
        f"{TAIL_S} s after\n"
    )
    print(
        f"{'detector':8} {'noise':>9} {'false':>6} {'onset p95':>10} {'early':>6} {'missed':>7} {'delay p50':>10} "
        f"{'delay p95':>10} "
        f"{'CPU/s audio':>12}"
    )
    for snr in (None, 20.0, 10.0):
        clips = [(mixed(speech, snr, rng), LEAD_S + first, LEAD_S + last) for speech, first, last in spoken]
        for name in detectors:
            early = missed = false = 0
            delays, onsets, cost, audio_s = [], [], 0.0, 0.0
            for audio, first, last in clips:
                heard, spent = decisions(name, audio)
                cost += spent
                audio_s += len(audio) / RATE
                start, end = turn_times(heard, get_engine(VOICE_ACTIVITY_DETECTOR, name).onset_frames)
                if start is not None and start < first:
                    false += 1
                    continue
                if start is not None:
                    onsets.append(start - first)
                if end is None:
                    missed += 1
                elif end < last:
                    early += 1
                else:
                    delays.append(end - last)
            noise = "none" if snr is None else f"{snr:g} dB SNR"
            p50 = f"{np.percentile(delays, 50) * 1000:.0f} ms" if delays else "-"
            p95 = f"{np.percentile(delays, 95) * 1000:.0f} ms" if delays else "-"
            onset = f"{np.percentile(onsets, 95) * 1000:.0f} ms" if onsets else "-"
            print(
                f"{name:8} {noise:>9} {false:>6} {onset:>10} {early:>6} {missed:>7} {p50:>10} {p95:>10} "
                f"{cost / audio_s * 1000:>9.2f} ms"
            )


if __name__ == "__main__":
    main()
