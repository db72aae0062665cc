"""The stages of a live turn, as plain blocking calls: hear an utterance, answer it, say each sentence, draw the face.

A live session (knowledge.live.session) runs them in worker threads (knowledge.live.threads), and the
benchmark calls the same functions directly for its floor (bench/live_latency.py). Every engine comes from
the registry: the recognizer, the voice-activity detector, the speech engine and the responder are whatever
settings name, local by default.
"""

import re
import tempfile
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

from characters.services.consent_policy import FACE, likeness_require_consent, speech_require_consent
from characters.services.faces import person_portrait
from characters.services.voices import voice_profile_for_person
from knowledge.models import Conversation
from knowledge.services.conversations import Turn, reply_finish, reply_start
from media_jobs.engines import SPEECH_ENGINE, SPEECH_RECOGNIZER, get_engine
from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import EngineError, PhonemeTiming, VoiceProfile
from media_jobs.engines.recognition import SAMPLE_RATE as RECOGNITION_RATE
from media_jobs.engines.talking_head.disclosure import DisclosureLabel
from media_jobs.engines.talking_head.motion import FaceMotion
from media_jobs.engines.talking_head.render import FaceRig, fit_photo
from media_jobs.engines.talking_head.speech_driver import FPS, speech_motion

SAMPLE_RATE = 48000  # what WebRTC's Opus carries
VIDEO_MAX_SIDE = 512  # live frames: small enough to render and encode 25 a second on one core
LEADING_SILENCE_LEVEL = 0.01  # -40 dBFS
IDLE_SECONDS = 30  # the listening face's motion plays forwards, then backwards, so the loop has no jump
_SOURCES = re.compile(r"\n\s*Sources:.*\Z", re.DOTALL)
_SENTENCE = re.compile(r"(.+?[.!?…])(?:\s+|$)", re.DOTALL)
_OPENING_CLAUSE = re.compile(r"((?:\S+\s+){2,7}?\S+[,;:—])\s+")  # 3 to 8 words up to a comma, semicolon, colon or dash


@dataclass
class Replica:
    """What a session needs of its persona, loaded once when the session starts."""

    conversation_id: int
    person_id: int
    name: str
    frame: np.ndarray  # the photo, fitted for live video (RGB, even sides)
    rig: FaceRig
    voice_engine: str | None
    voice: VoiceProfile
    idle: FaceMotion  # blinks and a slow head sway while nobody speaks
    label: DisclosureLabel | None = None

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.frame.shape[:2]
        return width, height


@dataclass
class Utterance:
    """One sentence of the reply, ready to play: 48 kHz mono PCM and the mouth's motion at 25 fps."""

    text: str
    pcm: np.ndarray  # int16
    motion: FaceMotion
    duration: float = field(init=False)

    def __post_init__(self) -> None:
        self.duration = len(self.pcm) / SAMPLE_RATE


def replica_load(*, conversation_id: int) -> Replica:
    """The conversation's persona, ready to speak and be drawn. EngineError when it has no usable photo; the
    consent rules of talking heads apply (LikenessWithoutConsent, a 403)."""
    conversation = Conversation.objects.select_related("person__voice", "person__workspace").get(pk=conversation_id)
    person = conversation.person
    if person is None:
        raise EngineError("The persona of this conversation was deleted.")
    likeness_require_consent(workspace=person.workspace, person=person, kinds=(FACE,), what="A live conversation")
    speech_require_consent(workspace=person.workspace, voice=person.voice, what="A live conversation")
    photo, face = person_portrait(person)
    voice_engine, voice = voice_profile_for_person(person=person)
    discloses = person.is_demo or person.workspace.ai_disclosure_overlay
    frame, landmarks = fit_photo(photo, np.asarray(face.landmarks, dtype=np.float32), VIDEO_MAX_SIDE)
    height, width = frame.shape[:2]
    silence = np.zeros(IDLE_SECONDS * SAMPLE_RATE // 100, dtype=np.float32)  # 100 Hz is plenty for no sound
    idle = speech_motion(phonemes=(), samples=silence, sample_rate=SAMPLE_RATE // 100, seed=conversation_id)
    return Replica(
        conversation_id=conversation_id,
        person_id=person.pk,
        name=person.name,
        frame=frame,
        rig=FaceRig(frame, landmarks),
        voice_engine=voice_engine,
        voice=voice,
        idle=idle,
        label=DisclosureLabel(width=width, height=height) if discloses else None,
    )


def transcribe(samples: np.ndarray) -> str:
    """16 kHz mono float samples of one utterance → its text."""
    return get_engine(SPEECH_RECOGNIZER).transcribe_samples(samples=samples, language="en").text.strip()


def reply_begin(*, conversation_id: int, text: str) -> Turn:
    """Start the answer (retrieval runs here; the responder when pieces are read). Nothing is stored yet: the
    question is stored with the answer (`reply_store`), so an answer drafted during a pause that turns out not to
    end the visitor's turn leaves no row behind."""
    conversation = Conversation.objects.select_related("person").get(pk=conversation_id)
    return reply_start(conversation=conversation, text=text, record=False)


def reply_piece(turn: Turn) -> str | None:
    """The next piece of the answer's text, None when it is complete."""
    return next(turn.pieces, None)


def reply_store(*, turn: Turn, text: str) -> None:
    """The question and the answer as far as it was said."""
    reply_finish(turn=turn, text=text)


def spoken_part(text: str) -> str:
    """What of an answer is said aloud: not its trailing "Sources: …" line, which the captions show."""
    return _SOURCES.sub("", text)


def sentences(buffer: str, *, final: bool, opening: bool = False) -> tuple[list[str], str]:
    """Complete sentences at the start of `buffer` and what is left; with `final`, the rest is a sentence too.

    `opening`: nothing of the reply has been said yet, so a first clause of a few words ("From what I know,")
    goes out alone: the visitor hears the replica start while the rest of the sentence is synthesised.
    """
    if opening and (clause := _OPENING_CLAUSE.match(buffer)) and not _SENTENCE.match(clause.group(1)):
        rest = buffer[clause.end() :]
        more, rest = sentences(rest, final=final)
        return [clause.group(1).strip(), *more], rest
    found, position = [], 0
    for match in _SENTENCE.finditer(buffer):
        if match.end() == len(buffer) and not final and not buffer[-1].isspace():
            break  # "3." may be "3.5": wait for what follows
        found.append(match.group(1).strip())
        position = match.end()
    rest = buffer[position:]
    if final and rest.strip():
        found.append(rest.strip())
        rest = ""
    return [sentence for sentence in found if re.search(r"\w", sentence)], rest


def speak(replica: Replica, text: str) -> Utterance:
    """A sentence in the replica's voice, at 48 kHz, with the mouth motion that says it."""
    engine = get_engine(SPEECH_ENGINE, replica.voice_engine)
    with tempfile.TemporaryDirectory(prefix="live-") as folder:
        speech = engine.synthesize(text=text, voice=replica.voice, out_dir=Path(folder))
        samples, rate = decode_to_mono(speech.path)
    pcm = _resample(samples, rate, SAMPLE_RATE)
    # Piper starts with a breath of silence: cut it (less 20 ms), so the visitor hears the replica that much sooner.
    sound = np.flatnonzero(np.abs(pcm) > LEADING_SILENCE_LEVEL)
    cut = max(0, int(sound[0]) - SAMPLE_RATE // 50) if len(sound) else 0
    pcm, shift = pcm[cut:], cut / SAMPLE_RATE
    phonemes = [
        PhonemeTiming(timing.phoneme, max(0.0, timing.start - shift), max(0.0, timing.end - shift))
        for timing in speech.phonemes
    ]
    motion = speech_motion(phonemes=phonemes, samples=pcm, sample_rate=SAMPLE_RATE, seed=replica.person_id)
    return Utterance(text=text, pcm=(np.clip(pcm, -1.0, 1.0) * 32767).astype(np.int16), motion=motion)


def draw(replica: Replica, *, frame_index: int, mouth: tuple[float, float], smile_relax: float = 0.0) -> np.ndarray:
    """One video frame: the idle face's eyes and head at `frame_index`, the mouth as the speech asks (a held smile
    let go by `smile_relax`, 0-1)."""
    idle = replica.idle
    at = frame_index % (2 * idle.frames - 2)
    at = at if at < idle.frames else 2 * idle.frames - 2 - at
    roi = replica.rig.render(
        mouth[0],
        mouth[1],
        {"left": float(idle.left_eye_closed[at]), "right": float(idle.right_eye_closed[at])},
        {
            "yaw": float(idle.head_yaw[at]),
            "pitch": float(idle.head_pitch[at]),
            "roll": float(idle.head_roll[at]),
            "dx": float(idle.head_dx[at]),
            "dy": float(idle.head_dy[at]),
        },
        smile_relax,
    )
    frame = replica.frame.copy()
    x0, y0, x1, y1 = replica.rig.roi
    frame[y0:y1, x0:x1] = roi
    if replica.label is not None:
        with replica.label.drawn_on(frame):
            return frame.copy()
    return frame


def to_recognizer(pcm48k: np.ndarray) -> np.ndarray:
    """int16 48 kHz → float 16 kHz, what the recognizer takes."""
    return _resample(pcm48k.astype(np.float32) / 32768.0, SAMPLE_RATE, RECOGNITION_RATE)


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly  # heavy: SciPy's signal module loads only in listening processes

    if rate == target:
        return samples.astype(np.float32)
    common = gcd(rate, target)
    return resample_poly(samples, target // common, rate // common).astype(np.float32)


FRAME_SECONDS = 1 / FPS
