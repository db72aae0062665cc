"""The engine registry: one way to get the engine for a capability, typed by the capability's Protocol.

settings.ENGINE_CLASSES maps capability → name → class path and settings.ENGINES picks the name. The table
lives in settings because it is the project's wiring and may name the engines of every app (the responders
among them); this package names no other app. Classes load on first use, one instance per process.
A capability is named by its typed key below, `get_engine(SPEECH_ENGINE)`, which mypy reads as a SpeechEngine.
"""

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from django.conf import settings
from django.utils.module_loading import import_string

from media_jobs.engines.base import (
    EngineUnavailable,
    FaceAnalyzer,
    LoraTrainer,
    NoopRunner,
    Responder,
    SpeechEngine,
    SpeechRecognizer,
    TalkingHeadEngine,
    VoiceActivityDetector,
    VoiceAnalyzer,
    VoiceCloner,
)

EngineT = TypeVar("EngineT")


@dataclass(frozen=True)
class Capability(Generic[EngineT]):
    """What an engine is for, typed by the Protocol its engines speak. `name` is its key in settings.ENGINES and
    settings.ENGINE_CLASSES."""

    name: str


SPEECH_ENGINE: Capability[SpeechEngine] = Capability("speech")
VOICE_ANALYZER: Capability[VoiceAnalyzer] = Capability("voice_analysis")
VOICE_CLONER: Capability[VoiceCloner] = Capability("voice_clone")
FACE_ANALYZER: Capability[FaceAnalyzer] = Capability("face")
TALKING_HEAD_ENGINE: Capability[TalkingHeadEngine] = Capability("talking_head")
LORA_TRAINER: Capability[LoraTrainer] = Capability("lora")
RESPONDER: Capability[Responder] = Capability("responder")
SPEECH_RECOGNIZER: Capability[SpeechRecognizer] = Capability("speech_recognition")
VOICE_ACTIVITY_DETECTOR: Capability[VoiceActivityDetector] = Capability("voice_activity")
NOOP_RUNNER: Capability[NoopRunner] = Capability("noop")


def get_engine(capability: Capability[EngineT], name: str | None = None) -> EngineT:
    """The engine settings chose for this capability (or the one named), one instance per process.

    settings.ENGINES gives a name (a capability with one class and no entry there uses that class; "" means none), or
    a list of names: then the first whose class says it is configured
    (`is_configured()`, where the class has one) is chosen at each call, so settings changed at run time count.
    """
    classes: dict[str, str] = settings.ENGINE_CLASSES.get(capability.name, {})
    sole = next(iter(classes)) if len(classes) == 1 else ""  # one engine class: no choice to make in ENGINES
    choice: str | list[str] | tuple[str, ...] = name or settings.ENGINES.get(capability.name, sole) or ()
    names = [choice] if isinstance(choice, str) else list(choice)
    for candidate in names:
        path = classes.get(candidate)
        if path and (len(names) == 1 or _configured(path)):
            # Settings register each class under the capability whose Protocol it speaks (mypy checks this app's
            # engines below; the registry's tests check every class settings name).
            return cast(EngineT, _instance(path))
    raise EngineUnavailable(f"No engine is configured for {capability.name}.")


def _configured(path: str) -> bool:
    is_configured = getattr(import_string(path), "is_configured", None)
    return bool(is_configured()) if callable(is_configured) else True


@cache
def _instance(path: str) -> object:
    # Heavy local models load in the engine's constructor or on first use: once per worker process.
    return import_string(path)()


if TYPE_CHECKING:
    # mypy holds each engine class of this app to the Protocol of the capability settings register it under.
    from media_jobs.engines.face import DlibFaceAnalyzer
    from media_jobs.engines.lora.fal import FalLoraTrainer
    from media_jobs.engines.noop import NoopEngine
    from media_jobs.engines.speech.elevenlabs import ElevenLabsSpeech
    from media_jobs.engines.speech.piper import PiperSpeech
    from media_jobs.engines.talking_head import LocalTalkingHead
    from media_jobs.engines.voice_clone import LocalVoiceAnalyzer

    _speech: list[type[SpeechEngine]] = [PiperSpeech, ElevenLabsSpeech]
    _voice_analysis: list[type[VoiceAnalyzer]] = [LocalVoiceAnalyzer]
    _voice_clone: list[type[VoiceCloner]] = [ElevenLabsSpeech]
    _face: list[type[FaceAnalyzer]] = [DlibFaceAnalyzer]
    _talking_head: list[type[TalkingHeadEngine]] = [LocalTalkingHead]
    _lora: list[type[LoraTrainer]] = [FalLoraTrainer]
    _noop: list[type[NoopRunner]] = [NoopEngine]
