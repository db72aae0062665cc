"""What every engine speaks: plain values and paths in, frozen dataclasses out, EngineError on failure.

Engines know nothing of models, requests or storage: a service reads the rows, calls the engine,
stores the files it wrote and updates the row. Each capability the registry resolves
(media_jobs.engines.get_engine) has a Protocol here, with the dataclasses it takes and answers; an engine
class satisfies it structurally, without inheriting from it. A method whose input is more than a few values
takes one frozen request dataclass, so the Protocol, the engines and the callers name each field once.

An engine class may also define `is_configured()` as a classmethod: where settings give a list of names
for a capability, the registry takes the first engine that says it is configured (a provider whose key
or URL is set), deciding at each call.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

Box = tuple[int, int, int, int]  # left, top, right, bottom, in image pixels
Progress = Callable[[float], None]  # 0..1, never going back
ShouldStop = Callable[[], bool]  # asked between steps of long work: True cancels it


class EngineError(Exception):
    """An engine could not do its work. retryable=True for timeouts, 409, 429 and 5xx; False for bad input and
    other 4xx. `retry_after`: the seconds a provider asked to wait before trying again, when it said."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class EngineUnavailable(EngineError):
    """No engine is configured (or installed) for a capability."""


# -- speech ---------------------------------------------------------------------------------------------------


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
    pitch_semitones: float = 0.0  # the shift applied, which may be less than the voice asked for


class SpeechEngine(Protocol):
    """Text to speech, with the timing of every phoneme (or character) so a face can be made to say it."""

    name: ClassVar[str]

    def synthesize(self, *, text: str, voice: VoiceProfile, out_dir: Path, audio_format: str = "wav") -> Speech: ...


# -- voice cloning --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceMeasurements:
    """What an analyzer measured from one speaker's samples."""

    embedding: list[float]  # Resemblyzer d-vector, 256 floats, unit norm
    median_pitch_hz: float
    speaking_rate: float  # tempo index in 1/s (inverse spectral change time), comparable between voices
    total_seconds: float  # length of all samples together
    sample_count: int
    speech_seconds: float = 0.0  # the part of total_seconds that is speech rather than pauses

    def summary(self) -> dict[str, Any]:
        """Everything but the embedding, rounded for display."""
        return {
            "median_pitch_hz": round(self.median_pitch_hz, 2),
            "speaking_rate": round(self.speaking_rate, 3),
            "total_seconds": round(self.total_seconds, 2),
            "speech_seconds": round(self.speech_seconds, 2),
            "sample_count": self.sample_count,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class VoiceAnalyzer(Protocol):
    """Measures a speaker from recordings, so a local voice can be fitted to them (a local clone)."""

    name: ClassVar[str]

    def analyze(self, *, samples: Sequence[Path]) -> VoiceMeasurements:
        """EngineError(retryable=False) naming the first sample that is unusable."""
        ...

    def embed(self, decoded: Sequence[np.ndarray]) -> list[float]:
        """The speaker embedding of 16 kHz mono float samples."""
        ...


class VoiceCloner(Protocol):
    """A provider that makes a voice of its own from recordings and speaks with it by the id it answers."""

    name: ClassVar[str]

    def clone_voice(self, *, name: str, samples: Sequence[Path], description: str = "") -> str:
        """The provider's voice id for the new voice."""
        ...

    def delete_voice(self, *, voice_id: str) -> None:
        """A voice that is already gone counts as deleted, so cleanups can repeat."""
        ...


# -- faces ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """One face. Coordinates are image pixels; landmarks follow dlib's 68-point order (jaw 0–16,
    brows 17–26, nose 27–35, eyes 36–47, outer lips 48–59, inner lips 60–67)."""

    box: Box
    landmarks: np.ndarray  # (68, 2) float32
    score: float
    embedding: np.ndarray | None = None  # (128,) float32; faces of one person lie within ~0.6

    def to_json(self) -> dict[str, Any]:
        return {
            "box": list(self.box),
            "landmarks": np.round(self.landmarks, 1).tolist(),
            "score": round(self.score, 3),
            "embedding": None if self.embedding is None else np.round(self.embedding, 5).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Face":
        embedding = data.get("embedding")
        left, top, right, bottom = data["box"]
        return cls(
            box=(left, top, right, bottom),
            landmarks=np.asarray(data["landmarks"], dtype=np.float32),
            score=float(data.get("score", 1.0)),
            embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
        )


class FaceAnalyzer(Protocol):
    """Finds faces, their landmarks and identity embeddings in RGB images (height x width x 3, uint8)."""

    name: ClassVar[str]

    def analyze(self, image: np.ndarray, *, embed: bool = True) -> Face:
        """The one face a portrait shows; FaceNotFound or SeveralFaces (both EngineErrors) otherwise."""
        ...

    def find(self, image: np.ndarray) -> Face | None:
        """The largest confident face without the portrait rules (for frames of a video)."""
        ...

    def detect(self, image: np.ndarray, *, upsample: int = 1) -> list[tuple[Box, float]]:
        """Confident face boxes with their scores, largest first."""
        ...

    def landmarks(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The 68 landmarks of the face in `box`, fast enough to track video frames."""
        ...

    def distance(self, first: np.ndarray, second: np.ndarray) -> float:
        """Of two identity embeddings: below about 0.6 means the same person."""
        ...


# -- talking heads and motion transfer ------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedVideo:
    """An H.264/AAC MP4 the engine wrote to the path it was given."""

    path: Path
    width: int
    height: int
    fps: int
    frames: int
    duration: float  # seconds of video: frames / fps


@dataclass(frozen=True, kw_only=True)
class PortraitVideoRequest:
    """A photo to move and where its MP4 goes: what both ways of moving it share.

    `face`: the photo's face when it is already analysed (saves analysing it again); `preview`: a smaller,
    faster video; `disclosure_label`: a small "AI-generated" label burned into a corner of every frame (the
    visible half of the AI Act's marking; the C2PA manifest is the machine-readable half); `framing`: "photo"
    (all of it) or "head_and_shoulders" (a square around the face); `resolution`: the video's height in
    pixels (up to 1080), or None for the photo's own size (at most 1024 px on its longer side)."""

    photo: np.ndarray  # RGB, height x width x 3, uint8
    out_path: Path
    face: Face | None = None
    preview: bool = False
    disclosure_label: bool = False
    framing: str = "photo"
    resolution: int | None = None


@dataclass(frozen=True, kw_only=True)
class SpeechVideoRequest(PortraitVideoRequest):
    """The photo speaking `audio`, whose phonemes are timed by `phonemes`; `seed` picks blinks and head sway."""

    audio: Path
    phonemes: Sequence[PhonemeTiming]
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class MotionTransferRequest(PortraitVideoRequest):
    """The photo's face doing what the face in `driving_video` does, with that video's sound."""

    driving_video: Path


class TalkingHeadEngine(Protocol):
    """A photo made to move: speaking an audio file (render_speech), or doing what the face in a driving video
    does, with that video's sound (transfer_motion)."""

    name: ClassVar[str]

    def render_speech(self, request: SpeechVideoRequest, *, progress: Progress | None = None) -> RenderedVideo: ...

    def transfer_motion(self, request: MotionTransferRequest, *, progress: Progress | None = None) -> RenderedVideo: ...


# -- LoRA training --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoraTrainingRequest:
    """What to train: the photos, how long and how large, for which base model, called up by which word.
    `work_dir` is a private folder the trainer may write to (the upload's archive)."""

    images: Sequence[Path]
    steps: int
    rank: int
    base_model: str  # the inference app that will use the LoRA
    trigger_word: str
    work_dir: Path


@dataclass(frozen=True)
class LoraTrainingResult:
    """A trained LoRA where the provider stores it: the weights stay at its URLs until the service copies them."""

    request_id: str
    weights_url: str  # the .safetensors to load
    config_url: str
    base_model: str  # the inference app the LoRA is used with, e.g. fal-ai/flux-lora
    trigger_word: str
    steps: int
    rank: int | None  # None: the trainer has no rank setting and chose its own


class LoraTrainer(Protocol):
    """An identity LoRA trained on a character's photos by a provider, watched until it finishes."""

    name: ClassVar[str]

    def require_configured(self) -> None:
        """EngineUnavailable unless the provider can be called: checked before anyone is charged."""
        ...

    def train(
        self, request: LoraTrainingRequest, *, progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> LoraTrainingResult:
        """The LoRA trained on the request's images, where the provider stores it."""
        ...


# -- answers (responders) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonaVoice:
    """Who is speaking: the few profile facts an answer's wording depends on."""

    name: str
    description: str = ""
    tone: str = ""


class SourcePassage(Protocol):
    """A passage of what the persona has been told, which an answer may use (retrieval's Passage is one)."""

    @property
    def chunk_id(self) -> int: ...

    @property
    def page_id(self) -> int: ...

    @property
    def title(self) -> str: ...

    @property
    def text(self) -> str: ...


Passages = Sequence[SourcePassage]  # what retrieval found for a question, best first
History = Sequence[tuple[str, str]]  # a conversation's (role, content) turns, oldest first


class Responder(Protocol):
    """Answers in a persona's voice from the passages retrieval found, and only from them: without passages the
    answer is that the persona doesn't know. History is (role, content) pairs, oldest first."""

    name: ClassVar[str]

    def stream(
        self, *, persona: PersonaVoice, question: str, passages: Passages, history: History, context: str = ""
    ) -> Iterator[str]:
        """Text deltas of the answer; `"".join(...)` is the whole answer."""
        ...

    def complete(
        self, *, persona: PersonaVoice, question: str, passages: Passages, history: History, context: str = ""
    ) -> str:
        """The whole answer at once."""
        ...

    def suggest_questions(
        self, *, persona: PersonaVoice, topics: Sequence[str], context: str, passages: Passages, count: int
    ) -> list[str]:
        """Up to `count` distinct questions a visitor might ask, each answerable from the passages."""
        ...


# -- live conversation: speech recognition and voice activity -------------------------------------------------


@dataclass(frozen=True)
class WordTiming:
    """One recognised word and when it was said, in seconds from the start of the audio."""

    word: str
    start: float
    end: float
    probability: float = 1.0  # the recognizer's confidence in the word, 0..1


@dataclass(frozen=True)
class Transcript:
    """What was said: the text, and its words in order with their times (empty when the engine has none)."""

    text: str
    words: tuple[WordTiming, ...] = ()
    language: str = ""  # the language spoken, as an ISO 639-1 code ("en"), given or detected
    duration: float = 0.0  # seconds of audio transcribed


class SpeechRecognizer(Protocol):
    """Audio in, transcript out. Any format ffmpeg decodes is accepted; silence answers an empty text."""

    name: ClassVar[str]

    def transcribe(self, *, audio: Path, language: str = "") -> Transcript:
        """`language` ("en") skips detection when the caller knows it; empty lets the engine detect it."""
        ...

    def transcribe_samples(self, *, samples: np.ndarray, language: str = "") -> Transcript:
        """16 kHz mono float samples of one utterance (a live turn), transcribed as fast as the engine can."""
        ...


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of audio that is all speech or all non-speech, in seconds from the first frame."""

    start: float
    end: float
    speech: bool


class VoiceActivityDetector(Protocol):
    """Says, frame by frame, whether a stream of PCM audio is speech, so a live conversation knows when a visitor
    starts and stops speaking.

    Frames are 16-bit little-endian mono PCM at `sample_rate`, each `frame_ms` long (engines may accept only some
    rates and lengths, and raise EngineError for others). `listener` answers a detector for one stream, to call
    with each frame in order (a model may carry state from frame to frame). `segments` splits a stream: segments
    follow each other without gaps, alternate between speech and non-speech, and are yielded as soon as each one
    ends, the last one when the frames do. `onset_frames`: how many of three consecutive voiced 20 ms frames make
    speech start (a detector whose single decisions flicker needs more than one).
    """

    name: ClassVar[str]
    onset_frames: ClassVar[int]

    def listener(self, *, sample_rate: int) -> Callable[[bytes], bool]: ...

    def segments(self, frames: Iterable[bytes], *, sample_rate: int, frame_ms: int = 30) -> Iterator[SpeechSegment]: ...


# -- the job machinery's own probe ----------------------------------------------------------------------------


class NoopRunner(Protocol):
    """Does nothing (or sleeps), for measuring the job machinery itself (bench/) and for tests."""

    name: ClassVar[str]

    def run(self, *, seconds: float = 0.0) -> dict[str, Any]: ...
