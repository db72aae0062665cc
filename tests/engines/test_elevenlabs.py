"""The ElevenLabs speech engine against a local server that speaks the provider's REST endpoints."""

import socket
import wave

import numpy as np
import pytest

from media_jobs.engines import SPEECH_ENGINE, audio, get_engine
from media_jobs.engines.base import EngineError, EngineUnavailable, VoiceProfile
from media_jobs.engines.speech import elevenlabs
from media_jobs.engines.speech.elevenlabs import ElevenLabsSpeech
from tests.engines.elevenlabs_server import SECONDS_PER_CHARACTER, TAIL_SECONDS, ElevenLabsServer, speak

API_KEY = "sk-test-0123456789abcdef"
TEXT = "Hello there, friend."


@pytest.fixture
def server(settings):
    with ElevenLabsServer(api_key=API_KEY) as server:
        settings.ELEVENLABS_BASE_URL = server.url
        settings.ELEVENLABS_API_KEY = API_KEY
        settings.ELEVENLABS_MODEL_ID = "eleven_test_model"
        settings.ENGINE_TIMEOUT_SECONDS = 5
        yield server


@pytest.fixture
def engine():
    return ElevenLabsSpeech()


def voice(**overrides) -> VoiceProfile:
    values = {"provider": "elevenlabs", "voice_id": "voice-abc"} | overrides
    return VoiceProfile(**values)


def read_wav(path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as audio:
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        return audio.getframerate(), np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")


def expected_duration(text: str) -> float:
    return SECONDS_PER_CHARACTER * len(text) + TAIL_SECONDS


def assert_no_key(error: EngineError) -> None:
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error.args)


# -- text to speech -----------------------------------------------------------------------------------------


def test_synthesize_sends_the_documented_request(server, engine, tmp_path):
    settings_in = {"stability": 0.4, "similarity_boost": 0.8, "style": 0.1, "use_speaker_boost": True}
    profile = voice(speed=1.1, provider_settings=settings_in | {"sample_rate": 22050})

    engine.synthesize(text=TEXT, voice=profile, out_dir=tmp_path)

    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/text-to-speech/voice-abc/with-timestamps"
    assert request.query == {"output_format": "pcm_22050"}
    assert request.headers["xi-api-key"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "text": TEXT,
        "model_id": "eleven_test_model",
        "voice_settings": {
            "stability": 0.4,
            "similarity_boost": 0.8,
            "style": 0.1,
            "use_speaker_boost": True,
            "speed": 1.1,
        },
    }


def test_defaults_leave_voice_settings_to_the_provider(server, engine, tmp_path):
    speech = engine.synthesize(text="Hi", voice=voice(), out_dir=tmp_path)

    (request,) = server.requests
    assert request.query == {"output_format": "pcm_24000"}
    assert request.json["voice_settings"] == {"speed": 1.0}
    assert speech.sample_rate == 24000


def test_model_id_can_be_chosen_per_voice(server, engine, tmp_path):
    engine.synthesize(text="Hi", voice=voice(provider_settings={"model_id": "eleven_flash_v2_5"}), out_dir=tmp_path)

    assert server.requests[0].json["model_id"] == "eleven_flash_v2_5"


def test_the_voice_id_is_quoted_into_the_path(server, engine, tmp_path):
    engine.synthesize(text="Hi", voice=voice(voice_id="a/b c"), out_dir=tmp_path)

    assert server.requests[0].path == "/v1/text-to-speech/a%2Fb%20c/with-timestamps"


def test_wav_has_the_rate_asked_for_the_duration_and_sound(server, engine, tmp_path):
    out_dir = tmp_path / "out"
    speech = engine.synthesize(text=TEXT, voice=voice(provider_settings={"sample_rate": 22050}), out_dir=out_dir)

    assert speech.audio_format == "wav"
    assert speech.path.parent == out_dir and speech.path.suffix == ".wav"
    rate, samples = read_wav(speech.path)
    assert rate == speech.sample_rate == 22050
    assert speech.duration == pytest.approx(len(samples) / rate)
    assert speech.duration == pytest.approx(expected_duration(TEXT), abs=1e-3)
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    assert rms > 1000  # clearly not silence (full scale is 32767)
    assert np.abs(samples).max() > 10000


def test_timings_are_one_per_spoken_character_monotonic_and_inside_the_audio(server, engine, tmp_path):
    speech = engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert "".join(timing.phoneme for timing in speech.phonemes) == TEXT.replace(" ", "")
    starts = [timing.start for timing in speech.phonemes]
    assert starts == sorted(starts)
    for timing in speech.phonemes:
        assert 0.0 <= timing.start <= timing.end <= speech.duration
    assert speech.phonemes[0].start == pytest.approx(0.0)
    assert speech.phonemes[-1].end == pytest.approx(SECONDS_PER_CHARACTER * len(TEXT), abs=1e-3)


def test_timings_are_clamped_and_made_monotonic():
    alignment = {
        "characters": ["a", " ", "b", "c"],
        "character_start_times_seconds": [0.0, 0.1, 0.3, 0.25],
        "character_end_times_seconds": [0.1, 0.2, 0.5, 9.0],
    }

    timings = elevenlabs._timings(alignment, duration=1.0)

    assert [(t.phoneme, t.start, t.end) for t in timings] == [("a", 0.0, 0.1), ("b", 0.3, 0.5), ("c", 0.3, 1.0)]
    assert elevenlabs._timings(None, duration=1.0) == ()


def test_mp3_is_stored_as_sent_and_its_duration_read_from_the_frames(server, engine, tmp_path):
    speech = engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path, audio_format="mp3")

    assert server.requests[0].query == {"output_format": "mp3_44100_128"}
    assert speech.audio_format == "mp3" and speech.path.suffix == ".mp3"
    data = speech.path.read_bytes()
    assert data[:2] == b"\xff\xfb"
    assert speech.sample_rate == 44100
    frames = len(data) // 417
    assert speech.duration == pytest.approx(frames * 1152 / 44100)
    assert expected_duration(TEXT) <= speech.duration < expected_duration(TEXT) + 1152 / 44100
    assert speech.phonemes and speech.phonemes[-1].end <= speech.duration


def test_mp3_at_22050(server, engine, tmp_path):
    profile = voice(provider_settings={"sample_rate": 22050})
    speech = engine.synthesize(text="Hi", voice=profile, out_dir=tmp_path, audio_format="mp3")

    assert server.requests[0].query == {"output_format": "mp3_22050_32"}
    assert speech.sample_rate == 22050
    assert speech.duration >= expected_duration("Hi")


def test_mp3_frames_after_an_id3_tag():
    frame = b"\xff\xfb\x90\xc0" + bytes(413)
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\xff" * 10  # 10 bytes of tag body that look like a sync word

    assert elevenlabs.mp3_samples(tag + frame * 3) == (44100, 3 * 1152)
    with pytest.raises(EngineError):
        elevenlabs.mp3_samples(b"not audio at all")


# -- what the engine refuses before asking ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"speed": 1.5}, "0.7× to 1.2×"),
        ({"speed": 0.5}, "0.7× to 1.2×"),
        ({"provider_settings": {"stability": 1.5}}, "stability"),
        ({"provider_settings": {"similarity_boost": -0.1}}, "similarity_boost"),
        ({"provider_settings": {"style": "high"}}, "style"),
        ({"provider_settings": {"use_speaker_boost": "yes"}}, "use_speaker_boost"),
        ({"provider_settings": {"sample_rate": 12345}}, "12345"),
        ({"voice_id": ""}, "voice_id"),
    ],
)
def test_bad_voice_settings_are_refused_without_a_request(server, engine, tmp_path, overrides, words):
    with pytest.raises(EngineError) as caught:
        engine.synthesize(text=TEXT, voice=voice(**overrides), out_dir=tmp_path)

    assert caught.value.retryable is False
    assert words in str(caught.value)
    assert server.requests == []


def test_speed_at_the_edges_is_accepted(server, engine, tmp_path):
    engine.synthesize(text="Hi", voice=voice(speed=0.7), out_dir=tmp_path)
    engine.synthesize(text="Hi", voice=voice(speed=1.2), out_dir=tmp_path)

    assert [r.json["voice_settings"]["speed"] for r in server.requests] == [0.7, 1.2]


def test_empty_text_and_unknown_formats_are_refused(server, engine, tmp_path):
    with pytest.raises(EngineError):
        engine.synthesize(text="  ", voice=voice(), out_dir=tmp_path)
    with pytest.raises(EngineError, match="wav or mp3"):
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path, audio_format="ogg")
    assert server.requests == []


def test_pitch_is_refused_without_ffmpeg(server, engine, tmp_path, monkeypatch):
    monkeypatch.setattr(elevenlabs, "_ffmpeg", lambda: None)

    with pytest.raises(EngineError, match="pitch") as caught:
        engine.synthesize(text=TEXT, voice=voice(pitch_semitones=2.0), out_dir=tmp_path)

    assert caught.value.retryable is False
    assert server.requests == []


def test_pitch_beyond_an_octave_is_refused(server, engine, tmp_path, monkeypatch):
    monkeypatch.setattr(elevenlabs, "_ffmpeg", lambda: "ffmpeg")

    with pytest.raises(EngineError, match="12 semitones"):
        engine.synthesize(text=TEXT, voice=voice(pitch_semitones=13.0), out_dir=tmp_path)
    assert server.requests == []


@pytest.mark.parametrize("audio_format", ["wav", "mp3"])
def test_pitch_is_shifted_locally_keeping_the_tempo(server, engine, tmp_path, audio_format):
    pytest.importorskip("imageio_ffmpeg")
    plain = engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path, audio_format=audio_format)
    shifted = engine.synthesize(
        text=TEXT, voice=voice(pitch_semitones=3.0), out_dir=tmp_path, audio_format=audio_format
    )

    assert shifted.sample_rate == plain.sample_rate
    assert [t.phoneme for t in shifted.phonemes] == [t.phoneme for t in plain.phonemes]
    if audio_format == "wav":
        assert shifted.duration == plain.duration  # trimmed back to the exact length: timings stay valid
        before, rate = audio.decode_to_mono(plain.path)
        after, _ = audio.decode_to_mono(shifted.path)
        assert not audio.is_silent(after)
        ratio = audio.median_pitch_hz(after, rate) / audio.median_pitch_hz(before, rate)
        assert ratio == pytest.approx(2 ** (3 / 12), rel=0.05)
    else:
        assert shifted.duration == pytest.approx(plain.duration, abs=0.1)  # the MP3 encoder adds a frame or two
        assert elevenlabs.mp3_samples(shifted.path.read_bytes())[0] == plain.sample_rate


# -- provider errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retryable(server, engine, tmp_path, status):
    server.fail_next(status)

    with pytest.raises(EngineError) as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is True
    assert str(status) in str(caught.value)
    assert_no_key(caught.value)


@pytest.mark.parametrize("status", [408, 409, 502])
def test_conflicts_and_timeouts_are_retryable_as_at_every_provider(server, engine, tmp_path, status):
    server.fail_next(status, {"detail": {"status": "busy", "message": "Another request is using this voice."}})

    with pytest.raises(EngineError, match="Another request is using this voice") as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is True
    assert f"ElevenLabs answered {status}" in str(caught.value)


def test_429_carries_the_provider_message(server, engine, tmp_path):
    server.fail_next(429)

    with pytest.raises(EngineError, match="too_many_concurrent_requests") as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)
    assert caught.value.retryable is True


def test_a_wrong_key_is_not_retryable_and_never_shown(server, engine, tmp_path, settings):
    settings.ELEVENLABS_API_KEY = "sk-wrong-key-987654321"

    with pytest.raises(EngineError) as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is False
    assert "401" in str(caught.value) and "Invalid API key" in str(caught.value)
    assert "sk-wrong-key-987654321" not in str(caught.value)
    assert server.requests[0].headers["xi-api-key"] == "sk-wrong-key-987654321"


def test_a_provider_message_that_echoes_the_key_is_scrubbed(server, engine, tmp_path):
    server.fail_next(401, {"detail": {"status": "invalid_api_key", "message": f"Invalid API key {API_KEY}"}})

    with pytest.raises(EngineError) as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is False
    assert "invalid_api_key" in str(caught.value)
    assert_no_key(caught.value)


def test_validation_errors_carry_the_provider_detail(server, engine, tmp_path):
    detail = {"status": "voice_settings_invalid", "message": "stability must be between 0 and 1"}
    server.fail_next(422, {"detail": detail})

    with pytest.raises(EngineError) as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is False
    assert "422" in str(caught.value)
    assert "voice_settings_invalid" in str(caught.value)
    assert "stability must be between 0 and 1" in str(caught.value)
    assert_no_key(caught.value)


def test_fastapi_style_validation_lists_are_readable(server, engine, tmp_path):
    server.fail_next(422)  # {"detail": [{"loc": ["body", "text"], "msg": "field required", ...}]}

    with pytest.raises(EngineError, match="text: field required") as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)
    assert caught.value.retryable is False


def test_a_slow_provider_times_out_as_retryable(server, engine, tmp_path, settings):
    settings.ENGINE_TIMEOUT_SECONDS = 0.2
    server.delay_next(5)

    with pytest.raises(EngineError, match="timed out") as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is True
    assert_no_key(caught.value)


def test_an_unreachable_provider_is_retryable(engine, tmp_path, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.ELEVENLABS_BASE_URL = f"http://127.0.0.1:{port}"
    settings.ELEVENLABS_API_KEY = API_KEY

    with pytest.raises(EngineError) as caught:
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)

    assert caught.value.retryable is True
    assert_no_key(caught.value)


def test_a_missing_key_makes_the_engine_unavailable(server, engine, tmp_path, settings):
    settings.ELEVENLABS_API_KEY = ""

    with pytest.raises(EngineUnavailable):
        engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)
    with pytest.raises(EngineUnavailable):
        engine.clone_voice(name="Alice", samples=[tmp_path / "a.wav"])
    with pytest.raises(EngineUnavailable):
        engine.delete_voice(voice_id="voice-abc")
    assert server.requests == []


# -- voices -------------------------------------------------------------------------------------------------


def write_sample(path, text: str = "sample") -> bytes:
    samples, _ = speak(text, 16000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return path.read_bytes()


def test_clone_voice_sends_every_sample_and_answers_the_voice_id(server, engine, tmp_path):
    first = write_sample(tmp_path / "first.wav", "one")
    second = write_sample(tmp_path / "second.wav", "two two")

    voice_id = engine.clone_voice(
        name="Alice", samples=[tmp_path / "first.wav", tmp_path / "second.wav"], description="Warm and calm"
    )

    assert voice_id in server.voices
    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/voices/add"
    assert request.headers["xi-api-key"] == API_KEY
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert request.fields == {"name": "Alice", "description": "Warm and calm", "remove_background_noise": "false"}
    assert request.files == [("files", "first.wav", first), ("files", "second.wav", second)]
    assert server.voices[voice_id] == {"name": "Alice", "files": ["first.wav", "second.wav"]}


def test_clone_voice_without_a_description_leaves_it_out(server, engine, tmp_path):
    write_sample(tmp_path / "only.wav")

    engine.clone_voice(name="Bob", samples=[tmp_path / "only.wav"])

    assert "description" not in server.requests[0].fields


def test_clone_voice_refuses_missing_samples_without_a_request(server, engine, tmp_path):
    with pytest.raises(EngineError, match="at least one"):
        engine.clone_voice(name="Alice", samples=[])
    with pytest.raises(EngineError, match="missing.wav"):
        engine.clone_voice(name="Alice", samples=[tmp_path / "missing.wav"])
    with pytest.raises(EngineError, match="name"):
        engine.clone_voice(name=" ", samples=[tmp_path / "missing.wav"])
    assert server.requests == []


def test_clone_voice_errors_map_like_speech(server, engine, tmp_path):
    write_sample(tmp_path / "only.wav")
    detail = {"status": "voice_limit_reached", "message": "You have reached your maximum amount of custom voices"}
    server.fail_next(400, {"detail": detail})
    server.fail_next(429)

    with pytest.raises(EngineError, match="maximum amount of custom voices") as refused:
        engine.clone_voice(name="Alice", samples=[tmp_path / "only.wav"])
    with pytest.raises(EngineError) as limited:
        engine.clone_voice(name="Alice", samples=[tmp_path / "only.wav"])

    assert refused.value.retryable is False
    assert limited.value.retryable is True


def test_delete_voice(server, engine, tmp_path):
    write_sample(tmp_path / "only.wav")
    voice_id = engine.clone_voice(name="Alice", samples=[tmp_path / "only.wav"])

    engine.delete_voice(voice_id=voice_id)

    request = server.requests[-1]
    assert (request.method, request.path) == ("DELETE", f"/v1/voices/{voice_id}")
    assert request.headers["xi-api-key"] == API_KEY
    assert voice_id not in server.voices

    engine.delete_voice(voice_id=voice_id)  # already gone: nothing to do
    server.fail_next(500)
    with pytest.raises(EngineError) as caught:
        engine.delete_voice(voice_id=voice_id)
    assert caught.value.retryable is True


def test_the_registry_names_this_engine(settings):
    assert isinstance(get_engine(SPEECH_ENGINE, "elevenlabs"), ElevenLabsSpeech)
    assert ElevenLabsSpeech.name == "elevenlabs"


def test_pitch_shift_without_rubberband_resamples(server, engine, tmp_path, monkeypatch):
    pytest.importorskip("imageio_ffmpeg")
    monkeypatch.setattr(audio, "has_rubberband", lambda: False)
    plain = engine.synthesize(text=TEXT, voice=voice(), out_dir=tmp_path)
    shifted = engine.synthesize(text=TEXT, voice=voice(pitch_semitones=-3.0), out_dir=tmp_path)

    assert shifted.duration == plain.duration
    before, rate = audio.decode_to_mono(plain.path)
    after, _ = audio.decode_to_mono(shifted.path)
    ratio = audio.median_pitch_hz(after, rate) / audio.median_pitch_hz(before, rate)
    assert ratio == pytest.approx(2 ** (-3 / 12), rel=0.05)
