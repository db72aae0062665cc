"""What every engine speaks: plain values and paths in, frozen dataclasses out, EngineError on failure.

Engines know nothing of models, requests or storage: a service reads the rows, calls the engine,
stores the files it wrote and updates the row.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol


class EngineError(Exception):
    """An engine could not do its work. retryable=True for timeouts, 429 and 5xx; False for bad input and other 4xx."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class EngineUnavailable(EngineError):
    """No engine is configured (or installed) for a capability."""


@dataclass(frozen=True)
class VoiceProfile:
    """How to speak: which voice, and the adjustments a persona or a clone asks for.

    `speed` 1.0 is the voice's own pace (2.0 twice as fast); `pitch_semitones` shifts the pitch
    without changing the tempo. Provider settings are passed through to cloud engines that know them.
    """

    provider: str = "local"
    voice_id: str = ""
    speed: float = 1.0
    pitch_semitones: float = 0.0
    provider_settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PhonemeTiming:
    phoneme: str
    start: float  # seconds from the start of the audio
    end: float


@dataclass(frozen=True)
class Speech:
    """Audio an engine wrote into the out_dir it was given."""

    path: Path
    audio_format: str  # "wav" or "mp3"
    sample_rate: int
    duration: float  # seconds
    phonemes: tuple[PhonemeTiming, ...] = ()


class SpeechEngine(Protocol):
    name: ClassVar[str]

    def synthesize(self, *, text: str, voice: VoiceProfile, out_dir: Path, audio_format: str = "wav") -> Speech: ...
