"""The local voice analyzer with the real models: Piper makes the "speakers", Resemblyzer embeds them.

A sample made by Piper with a known pitch shift or speed is a speaker whose pitch and tempo we know,
so the measurements can be checked against the truth. Piper adds noise to every synthesis, and the
measures vary with the words spoken, hence the tolerances. Clips are shared by module-scoped fixtures.
"""

import wave

import numpy as np
import pytest

from media_jobs.engines.audio import decode_to_mono, median_pitch_hz
from media_jobs.engines.base import EngineError, VoiceProfile
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.engines.voice_clone import (
    EMBEDDING_SIZE,
    LocalVoiceAnalyzer,
    VoiceMeasurements,
    clone_profile,
    cosine_similarity,
    load_encoder,
    load_samples,
    local_voice_base,
    local_voice_tempo_curve,
)

# Not the reference paragraph: a clone is measured from words the local voice was not measured on.
# Piper's intonation on these words sits within about half a semitone of its reference paragraph.
SAMPLE_TEXT = (
    "Good afternoon, and thank you for calling. Our team is available from nine to five on weekdays, "
    "and we will answer your question as soon as we can."
)
TEMPO_TEXTS = (
    "The weather report promised rain, so we packed umbrellas and walked to the station early.",
    "Strong winds knocked down three trees on Maple Street, blocking traffic for most of the night.",
    "My grandfather kept bees behind the old barn, and every summer he gave away jars of honey.",
)
OTHER_TEXT = "Please remember to send the invoice by Friday, and copy the finance team on your reply."
PITCH_RANGE = {"fmin": 40.0, "fmax": 400.0}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("voice_clone")


def speak(out_dir, text: str, **voice):
    return PiperSpeech().synthesize(text=text, voice=VoiceProfile(**voice), out_dir=out_dir).path


def pitch_of(path) -> float:
    samples, rate = decode_to_mono(path)
    return median_pitch_hz(samples, rate, **PITCH_RANGE)


def write_wav(path, samples: np.ndarray, rate: int = 16000):
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def tone(seconds: float, rate: int = 16000, hz: float = 140.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * hz * t) * (1 + 0.3 * np.sin(2 * np.pi * 4 * t))


@pytest.fixture(scope="module")
def base() -> VoiceMeasurements:
    return local_voice_base()


@pytest.fixture(scope="module")
def plain_sample(out_dir):
    return speak(out_dir, SAMPLE_TEXT)


@pytest.fixture(scope="module")
def higher_sample(out_dir):
    return speak(out_dir, SAMPLE_TEXT, pitch_semitones=3)


@pytest.fixture(scope="module")
def higher(higher_sample) -> VoiceMeasurements:
    return LocalVoiceAnalyzer().analyze(samples=[higher_sample])


@pytest.fixture(scope="module")
def plain(plain_sample) -> VoiceMeasurements:
    return LocalVoiceAnalyzer().analyze(samples=[plain_sample])


def test_the_local_voice_is_measured_once_per_process(base):
    assert local_voice_base() is base
    assert base.sample_count == 1
    assert 70 <= base.median_pitch_hz <= 110  # the joe voice sits near 89 Hz
    assert 10 <= base.speaking_rate <= 100
    assert 8 <= base.total_seconds <= 16
    assert 0.6 * base.total_seconds <= base.speech_seconds <= base.total_seconds


def test_the_embedding_is_a_256_d_unit_vector(higher):
    assert len(higher.embedding) == EMBEDDING_SIZE
    assert all(isinstance(value, float) for value in higher.embedding)
    assert np.linalg.norm(higher.embedding) == pytest.approx(1.0, abs=0.01)


def test_a_higher_voice_measures_at_its_own_pitch(higher, higher_sample, plain_sample):
    assert higher.median_pitch_hz == pytest.approx(pitch_of(higher_sample), rel=0.08)
    # and 3 semitones above the same words spoken unshifted
    assert higher.median_pitch_hz == pytest.approx(pitch_of(plain_sample) * 2 ** (3 / 12), rel=0.08)


@pytest.fixture(scope="module")
def tempo_curve(base):
    return local_voice_tempo_curve()


def test_the_local_voice_measures_faster_at_every_higher_speed(base, tempo_curve):
    assert local_voice_tempo_curve() is tempo_curve
    speeds = [speed for speed, _ in tempo_curve]
    rates = [rate for _, rate in tempo_curve]
    assert speeds == sorted(speeds) and 1.0 in speeds
    assert rates == sorted(rates)
    assert rates[speeds.index(1.0)] == base.speaking_rate
    # compressive: twice Piper's speed measures well under twice the rate
    assert 1.15 < rates[-1] / base.speaking_rate < 1.8


def test_the_clone_of_a_higher_voice_shifts_the_local_voice_up_by_that_much(higher, plain, base, tempo_curve):
    profile = clone_profile(higher, base, tempo_curve=tempo_curve)
    assert profile["pitch_semitones"] == pytest.approx(3, abs=1.5)
    # 3 semitones plus where Piper's intonation puts these words relative to the reference; Piper's random
    # noise moves each synthesis's median pitch by up to about half a semitone, `higher` and `plain` apart
    intonation = 12 * np.log2(plain.median_pitch_hz / base.median_pitch_hz)
    assert profile["pitch_semitones"] == pytest.approx(3 + intonation, abs=1.0)
    assert 0.7 <= profile["speed_factor"] <= 1.3  # a pitch shift keeps the tempo (+-12% from the words)


def test_a_faster_speaker_gets_a_higher_speed_factor(out_dir, base, tempo_curve):
    # Three sentences per speaker: on one sentence the words alone move the measured tempo by ~12%.
    def speaker(speed):
        return LocalVoiceAnalyzer().analyze(samples=[speak(out_dir, text, speed=speed) for text in TEMPO_TEXTS])

    fast, normal, slow = speaker(1.4), speaker(1.0), speaker(0.75)
    assert slow.speaking_rate < normal.speaking_rate < fast.speaking_rate
    fast_factor = clone_profile(fast, base, tempo_curve=tempo_curve)["speed_factor"]
    assert fast_factor > 1.15
    assert fast_factor == pytest.approx(1.4, rel=0.15)
    assert clone_profile(normal, base, tempo_curve=tempo_curve)["speed_factor"] == pytest.approx(1.0, rel=0.15)
    assert clone_profile(slow, base, tempo_curve=tempo_curve)["speed_factor"] == pytest.approx(0.75, rel=0.15)
    assert clone_profile(fast, base)["speed_factor"] > 1.05  # the plain rate ratio, without the curve
    assert fast.median_pitch_hz == pytest.approx(normal.median_pitch_hz, rel=0.08)


def test_the_same_voice_is_more_alike_than_a_shifted_one(out_dir, plain, higher):
    other_words = LocalVoiceAnalyzer().analyze(samples=[speak(out_dir, OTHER_TEXT)])
    shifted = LocalVoiceAnalyzer().analyze(samples=[speak(out_dir, OTHER_TEXT, pitch_semitones=8)])
    same = cosine_similarity(plain.embedding, other_words.embedding)
    assert same > 0.8
    assert same > cosine_similarity(plain.embedding, shifted.embedding) + 0.1
    assert cosine_similarity(plain.embedding, plain.embedding) == pytest.approx(1.0)


def test_several_samples_are_measured_together(plain_sample, higher_sample, plain, higher):
    both = LocalVoiceAnalyzer().analyze(samples=[plain_sample, higher_sample])
    assert both.sample_count == 2
    assert both.total_seconds == pytest.approx(plain.total_seconds + higher.total_seconds, abs=0.05)
    assert min(plain.median_pitch_hz, higher.median_pitch_hz) <= both.median_pitch_hz
    assert both.median_pitch_hz <= max(plain.median_pitch_hz, higher.median_pitch_hz)
    assert np.linalg.norm(both.embedding) == pytest.approx(1.0, abs=0.01)


def test_the_encoder_loads_once(plain):
    assert load_encoder() is load_encoder()


def test_clone_profile_clamps_to_what_the_local_voice_can_do(base):
    def measured(pitch, rate):
        return VoiceMeasurements(
            embedding=[0.0] * EMBEDDING_SIZE, median_pitch_hz=pitch, speaking_rate=rate, total_seconds=5, sample_count=1
        )

    # The pitch bounds are the engine's: beyond them Whisper's word error rate on the shifted voice passes 3%
    # (bench/pitch_intelligibility.py): a speaker an octave up, as a female voice is, gets +4, not +12.
    assert clone_profile(measured(base.median_pitch_hz * 2, base.speaking_rate * 3), base) == {
        "pitch_semitones": 4.0,
        "speed_factor": 2.0,
    }
    assert clone_profile(measured(base.median_pitch_hz / 2, base.speaking_rate / 3), base) == {
        "pitch_semitones": -3.0,
        "speed_factor": 0.5,
    }
    within = [
        clone_profile(measured(base.median_pitch_hz * 2 ** (st / 12), base.speaking_rate), base) for st in (-3, 3)
    ]
    assert [profile["pitch_semitones"] for profile in within] == [-3.0, 3.0]
    same = clone_profile(measured(base.median_pitch_hz, base.speaking_rate), base)
    assert same == {"pitch_semitones": 0.0, "speed_factor": 1.0}
    curve = ((0.7, 30.0), (1.0, 40.0), (1.4, 48.0), (2.0, 54.0))
    assert clone_profile(measured(base.median_pitch_hz, 40.0), base, tempo_curve=curve)["speed_factor"] == 1.0
    assert clone_profile(measured(base.median_pitch_hz, 48.0), base, tempo_curve=curve)["speed_factor"] == 1.4
    between = clone_profile(measured(base.median_pitch_hz, 44.0), base, tempo_curve=curve)["speed_factor"]
    assert 1.0 < between < 1.4
    assert clone_profile(measured(base.median_pitch_hz, 90.0), base, tempo_curve=curve)["speed_factor"] == 2.0
    assert clone_profile(measured(base.median_pitch_hz, 10.0), base, tempo_curve=curve)["speed_factor"] == 0.5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"this is not audio at all " * 40), "sample 1: cannot be decoded as audio"),
        (lambda p: p.write_bytes(b""), "sample 1: cannot be decoded as audio"),
        (lambda p: write_wav(p, tone(0.5)), "sample 1: is 0.5 s long"),
        (lambda p: write_wav(p, np.zeros(32000)), "sample 1: is silent"),
        (lambda p: write_wav(p, 1e-4 * np.random.default_rng(1).standard_normal(32000)), "sample 1: is silent"),
        (lambda p: write_wav(p, tone(301, rate=8000), rate=8000), "sample 1: is longer than 5 minutes"),
    ],
    ids=["text", "empty", "half-a-second", "digital-silence", "hiss", "over-5-minutes"],
)
def test_unusable_samples_are_refused_and_not_retried(tmp_path, make, message):
    path = tmp_path / "sample.wav"
    make(path)
    with pytest.raises(EngineError, match=message) as caught:
        LocalVoiceAnalyzer().analyze(samples=[path])
    assert caught.value.retryable is False


def test_noise_without_a_voice_is_refused(tmp_path):
    noise = write_wav(tmp_path / "noise.wav", 0.2 * np.random.default_rng(2).standard_normal(3 * 16000))
    with pytest.raises(EngineError, match="sample 1: holds no voiced speech") as caught:
        LocalVoiceAnalyzer().analyze(samples=[noise])
    assert caught.value.retryable is False


def test_the_sample_count_and_total_length_are_limited(tmp_path, higher_sample):
    with pytest.raises(EngineError, match="Give 1 to 10 samples"):
        load_samples([])
    with pytest.raises(EngineError, match="Give 1 to 10 samples"):
        load_samples([higher_sample] * 11)
    long = write_wav(tmp_path / "long.wav", tone(240, rate=8000), rate=8000)
    assert len(load_samples([long, long])) == 2  # 8 minutes
    with pytest.raises(EngineError, match="more than 10 minutes together"):
        load_samples([long, long, long])


def test_the_bad_sample_is_named(tmp_path, higher_sample):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3 but nothing else")
    with pytest.raises(EngineError, match="sample 2: cannot be decoded as audio"):
        LocalVoiceAnalyzer().analyze(samples=[higher_sample, bad])
