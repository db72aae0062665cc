"""The engine registry: every class settings name exists and speaks its capability's Protocol."""

import inspect
from typing import ClassVar

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from media_jobs import engines
from media_jobs.engines import LORA_TRAINER, NOOP_RUNNER, RESPONDER, SPEECH_ENGINE, SPEECH_RECOGNIZER, base, get_engine
from media_jobs.engines.base import EngineUnavailable

PROTOCOLS = {
    "speech": base.SpeechEngine,
    "voice_analysis": base.VoiceAnalyzer,
    "voice_clone": base.VoiceCloner,
    "face": base.FaceAnalyzer,
    "talking_head": base.TalkingHeadEngine,
    "lora": base.LoraTrainer,
    "responder": base.Responder,
    "speech_recognition": base.SpeechRecognizer,
    "voice_activity": base.VoiceActivityDetector,
    "noop": base.NoopRunner,
}


def test_every_capability_has_a_protocol_a_choice_and_its_typed_key():
    assert set(django_settings.ENGINE_CLASSES) == set(PROTOCOLS) >= set(django_settings.ENGINES)
    for capability, classes in django_settings.ENGINE_CLASSES.items():  # a capability without a choice has one class
        assert capability in django_settings.ENGINES or len(classes) == 1, capability
    keys = {key.name: name for name, key in vars(engines).items() if isinstance(key, engines.Capability)}
    assert set(keys) == set(PROTOCOLS)
    for capability, protocol in PROTOCOLS.items():
        assert engines.__annotations__[keys[capability]] == engines.Capability[protocol]


@pytest.mark.parametrize(
    ("capability", "name", "path"),
    [(c, n, p) for c, classes in django_settings.ENGINE_CLASSES.items() for n, p in classes.items()],
)
def test_every_registered_class_has_its_protocols_methods(capability, name, path):
    cls = import_string(path)
    protocol = PROTOCOLS[capability]
    assert cls.name in (name, "elevenlabs")  # ElevenLabs speaks and clones under one name
    for member, expected in vars(protocol).items():
        if member.startswith("_") or not callable(expected):
            continue
        method = getattr(cls, member, None)
        assert callable(method), f"{path} lacks {member}()"
        wanted = set(inspect.signature(expected).parameters)
        assert wanted <= set(inspect.signature(method).parameters), f"{path}.{member} takes other arguments"


def test_the_live_conversation_protocols_are_documented_dataclasses():
    for protocol in (base.SpeechRecognizer, base.VoiceActivityDetector):
        assert protocol.__doc__ and protocol.__annotations__["name"] == ClassVar[str]
    transcript = base.Transcript(
        text="hi there", words=(base.WordTiming("hi", 0.0, 0.2), base.WordTiming("there", 0.2, 0.5))
    )
    assert [word.word for word in transcript.words] == ["hi", "there"]
    assert base.SpeechSegment(start=0.0, end=0.3, speech=False).speech is False


def test_a_capability_without_an_engine_is_unavailable(settings):
    settings.ENGINES = {**settings.ENGINES, "speech_recognition": ""}
    with pytest.raises(EngineUnavailable, match="speech_recognition"):
        get_engine(SPEECH_RECOGNIZER)
    with pytest.raises(EngineUnavailable):
        get_engine(SPEECH_ENGINE, "no-such-engine")
    settings.ENGINES = {**settings.ENGINES, "lora": ""}
    with pytest.raises(EngineUnavailable):
        get_engine(LORA_TRAINER)


def test_one_instance_per_process(settings):
    assert get_engine(NOOP_RUNNER) is get_engine(NOOP_RUNNER, "noop")


def test_a_list_of_names_takes_the_first_configured_engine_at_each_call(settings):
    settings.ENGINES = {**settings.ENGINES, "responder": ["openai", "local"]}
    settings.LLM_BASE_URL = ""
    assert get_engine(RESPONDER).name == "local"
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    assert get_engine(RESPONDER).name == "openai"
