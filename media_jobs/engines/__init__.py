"""The engine registry: capability → name → class path. Settings pick the name; classes load on first use."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from media_jobs.engines.base import EngineUnavailable

ENGINES: dict[str, dict[str, str]] = {
    "speech": {
        "piper": "media_jobs.engines.speech.piper.PiperSpeech",
        "elevenlabs": "media_jobs.engines.speech.elevenlabs.ElevenLabsSpeech",
    },
    "talking_head": {"local": "media_jobs.engines.talking_head.LocalTalkingHead"},
    "lora": {"fal": "media_jobs.engines.lora.fal.FalLoraTrainer"},
    "noop": {"noop": "media_jobs.engines.noop.NoopEngine"},
}


def get_engine(capability: str, name: str | None = None):
    """The engine settings chose for this capability (or the one named), one instance per process."""
    name = name or settings.ENGINES.get(capability)
    if not name or name not in ENGINES.get(capability, {}):
        raise EngineUnavailable(f"No engine is configured for {capability}.")
    return _instance(ENGINES[capability][name])


@cache
def _instance(path: str):
    # Heavy local models load in the engine's constructor or on first use: once per worker process.
    return import_string(path)()
