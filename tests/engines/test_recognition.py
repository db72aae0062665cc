"""The local Whisper recognizer on speech Piper makes: the words it hears, their times, and words_matched.

Synthesis and the model are shared through module-scoped fixtures: the module costs a few seconds of CPU.
"""

import threading
import time
import wave

import numpy as np
import pytest

from media_jobs.engines import SPEECH_RECOGNIZER, get_engine, recognition
from media_jobs.engines.base import EngineError, Speech, Transcript, VoiceProfile
from media_jobs.engines.loading import load_once
from media_jobs.engines.recognition import WhisperRecognizer, normalized_words, words_matched
from media_jobs.engines.speech.piper import PiperSpeech

SAID = "The morning train leaves the station at half past nine every day."
OTHER = "Seven green apples fell from the old tree into the river."


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("recognition")


@pytest.fixture(scope="module")
def spoken(out_dir) -> Speech:
    return PiperSpeech().synthesize(text=SAID, voice=VoiceProfile(), out_dir=out_dir)


@pytest.fixture(scope="module")
def spoken_mp3(out_dir) -> Speech:
    return PiperSpeech().synthesize(text=OTHER, voice=VoiceProfile(), out_dir=out_dir, audio_format="mp3")


@pytest.fixture(scope="module")
def heard(spoken) -> Transcript:
    return get_engine(SPEECH_RECOGNIZER).transcribe(audio=spoken.path, language="en")


def test_settings_choose_whisper_for_speech_recognition():
    engine = get_engine(SPEECH_RECOGNIZER)

    assert isinstance(engine, WhisperRecognizer) and engine.name == "whisper"


def test_whisper_hears_what_piper_said(heard, spoken):
    assert words_matched(SAID, heard.text) >= 0.9, heard.text
    assert heard.language == "en"
    assert heard.duration == pytest.approx(spoken.duration, abs=0.05)


def test_a_different_sentence_scores_low(heard):
    assert words_matched(OTHER, heard.text) < 0.3, heard.text


def test_every_word_has_its_time_in_order_within_the_audio(heard):
    words = heard.words

    assert len(words) >= 11
    assert words_matched(SAID, " ".join(w.word for w in words)) >= 0.9
    assert all(0.0 <= w.start <= w.end <= heard.duration + 0.05 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert words[-1].end - words[0].start > 0.6 * heard.duration  # the words span the speech, not a corner of it
    assert np.mean([w.probability for w in words]) > 0.6


def test_mp3_and_a_detected_language_work_too(spoken_mp3):
    transcript = WhisperRecognizer().transcribe(audio=spoken_mp3.path)

    assert words_matched(OTHER, transcript.text) >= 0.9, transcript.text
    assert words_matched(SAID, transcript.text) < 0.3
    assert transcript.language == "en"


def test_silence_answers_an_empty_text(tmp_path):
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16000)
        wav.writeframes(np.zeros(3 * 16000, dtype="<i2").tobytes())

    transcript = WhisperRecognizer().transcribe(audio=path)

    assert (transcript.text, transcript.words, transcript.duration) == ("", (), 3.0)


def test_a_file_that_is_not_audio_is_a_permanent_error(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all")

    with pytest.raises(EngineError, match="cannot be decoded as audio") as caught:
        WhisperRecognizer().transcribe(audio=path)
    assert caught.value.retryable is False


def test_another_language_is_refused(spoken):
    with pytest.raises(EngineError, match="English") as caught:
        WhisperRecognizer().transcribe(audio=spoken.path, language="de")
    assert caught.value.retryable is False


def test_the_model_loads_once_per_process_even_from_two_threads(spoken):
    models = []
    threads = [threading.Thread(target=lambda: models.append(recognition.load_model())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(models) == 2 and models[0] is models[1] is recognition.load_model()


def test_load_once_runs_a_slow_load_once_for_two_threads_and_retries_a_failed_one():
    calls = []

    def slow_load():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first load fails")
        time.sleep(0.2)
        return object()

    shared = load_once(slow_load)
    with pytest.raises(RuntimeError):
        shared()
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(shared())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 2  # the failure, then one load for both threads
    assert loaded[0] is loaded[1] is shared()


# -- words_matched ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "heard", "share"),
    [
        ("The blue car stops at seven.", "the blue car stops at 7", 1.0),
        ("Twenty-one quiet rivers", "21 quiet rivers.", 1.0),
        ("We paid 1,500 dollars", "We paid one thousand five hundred dollars!", 1.0),
        ("Don't open the door", "DON’T open the door", 1.0),
        ("green house window light", "uh green house um window light yes", 1.0),  # extra words cost nothing
        ("green house window light", "green window light", 0.75),  # one word missing
        ("green house window light", "light window house green", 0.25),  # reordered: one in order
        ("green house window light", "", 0.0),
        ("", "anything at all", 0.0),
    ],
)
def test_words_matched_counts_the_expected_words_heard_in_order(expected, heard, share):
    assert words_matched(expected, heard) == pytest.approx(share)


def test_numbers_are_spelled_out_as_whisper_may_write_them_either_way():
    assert normalized_words("Room 101, 3.5 metres, 2,024 items") == [
        "room", "one", "hundred", "one", "three", "point", "five", "metres",
        "two", "thousand", "twenty", "four", "items",
    ]  # fmt: skip
