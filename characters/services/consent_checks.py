"""What a consent recording shows: the phrase's words, the speaker, the face, and that the face is alive.

Each check adds a reason a person can act on when it fails; what it measured is kept with the consent.
The thresholds are measured, not guessed (docs/CONSENT.md).
"""

import tempfile
from pathlib import Path

import numpy as np

from characters.models import Consent, Person, Voice
from characters.services.faces import image_rgb, person_portrait
from characters.services.voices import voice_profile_for_person
from media_jobs.engines import FACE_ANALYZER, SPEECH_ENGINE, SPEECH_RECOGNIZER, VOICE_ANALYZER, get_engine
from media_jobs.engines.audio import decode_to_mono
from media_jobs.engines.base import EngineError, FaceAnalyzer
from media_jobs.engines.recognition import words_matched
from media_jobs.engines.video import extract_audio, read_frames
from media_jobs.engines.voice_clone import SAME_SPEAKER_SIMILARITY, cosine_similarity
from media_jobs.kinds import Progress

WORDS_MATCHED_MIN = 0.9
# Resemblyzer cosine at the equal-error point of same- and different-speaker pairs recorded on different
# devices (docs/CONSENT_VOICE_THRESHOLD.md: EER 5-7%).
VOICE_SIMILARITY_MIN = SAME_SPEAKER_SIMILARITY
FACE_DISTANCE_MAX = 0.5
# Liveness: the inner lips' gap (over the face's height) must move, and move with the voice's loudness.
MOUTH_MOTION_MIN = 0.012
MOUTH_LOUDNESS_CORRELATION_MIN = 0.2
FACE_SEEN_MIN = 0.5  # share of sampled frames that must show a face
FRAME_RATE = 10  # frames sampled per second for the face checks
RECOGNITION_RATE = 16000
REFERENCE_TEXT = "This is how I sound when I read a few sentences aloud, slowly and clearly."


def consent_evidence_check(*, consent: Consent, evidence: Path, work_dir: Path, progress: Progress) -> dict:
    """{"reasons": [...], "measurements": {...}}: no reasons means the recording proves the consent."""
    is_video = consent.evidence_content_type.startswith("video/")
    audio = extract_audio(evidence, work_dir / "audio.wav") if is_video else evidence
    if audio is None:
        return {"reasons": ["The video has no sound; the phrase must be read aloud."], "measurements": {}}
    samples, _ = decode_to_mono(audio, sample_rate=RECOGNITION_RATE)
    reasons: list[str] = []
    measurements: dict = {}
    heard = get_engine(SPEECH_RECOGNIZER).transcribe(audio=Path(audio)).text
    matched = words_matched(consent.phrase, heard)
    measurements.update(transcript=heard, words_matched=round(matched, 3))
    if matched < WORDS_MATCHED_MIN:
        reasons.append(
            f"The recording does not say the phrase: {matched:.0%} of its words were heard "
            f"(at least {WORDS_MATCHED_MIN:.0%} are needed). Heard: {heard!r}."
        )
    progress(40)
    if consent.covers(Consent.Kind.VOICE):
        reasons += _voice_check(consent.person, samples, measurements)
    progress(60)
    if consent.covers(Consent.Kind.FACE):
        reasons += _face_check(consent.person, evidence, samples, measurements)
    return {"reasons": reasons, "measurements": measurements}


# -- the speaker ---------------------------------------------------------------------------------------


def voice_reference(person: Person) -> tuple[list[float] | None, str]:
    """The speaker embedding the recording is compared with, and where it comes from: the samples of the
    person's newest local clone; else speech in the person's own (provider-cloned) voice; else none yet,
    when the consent's recording becomes the reference later clones are held to."""
    for voice in Voice.objects.filter(person=person).order_by("-created_at", "-id"):
        if voice.measurements.get("embedding"):
            return voice.measurements["embedding"], f"the samples of voice {voice.pk}"
    if person.voice is not None and person.voice.person_id == person.pk:
        profile = voice_profile_for_person(person=person)[1]
        with tempfile.TemporaryDirectory(prefix="consent-voice-") as tmp:
            spoken = get_engine(SPEECH_ENGINE).synthesize(text=REFERENCE_TEXT, voice=profile, out_dir=Path(tmp))
            return speaker_embedding(spoken.path), f"speech in voice {person.voice.pk}"
    return None, "none yet: the person has no voice clone; later clones must match this recording"


def speaker_embedding(audio: Path | np.ndarray) -> list[float]:
    samples = audio if isinstance(audio, np.ndarray) else decode_to_mono(audio, sample_rate=RECOGNITION_RATE)[0]
    return get_engine(VOICE_ANALYZER).embed([samples])


def _voice_check(person: Person, samples: np.ndarray, measurements: dict) -> list[str]:
    embedding = speaker_embedding(samples)
    measurements["speaker_embedding"] = [round(v, 5) for v in embedding]
    reference, source = voice_reference(person)
    measurements["voice_reference"] = source
    if reference is None:
        return []
    similarity = cosine_similarity(embedding, reference)
    measurements["voice_similarity"] = round(similarity, 3)
    if similarity >= VOICE_SIMILARITY_MIN:
        return []
    return [
        f"The voice in the recording is not {person.name}'s: similarity {similarity:.2f}, "
        f"at least {VOICE_SIMILARITY_MIN:.2f} is needed."
    ]


def clone_require_consenting_speaker(*, person: Person | None, embedding: list[float]) -> None:
    """A clone's samples must be the voice that read the person's verified consent phrase, when that
    recording was kept as the reference (the person had no clone to compare it with then)."""
    if person is None:
        return
    consents = person.consents.filter(status=Consent.Status.VERIFIED, measurements__has_key="speaker_embedding")
    for consent in consents:
        similarity = cosine_similarity(embedding, consent.measurements["speaker_embedding"])
        if similarity < VOICE_SIMILARITY_MIN:
            raise EngineError(
                f"The samples are not the voice of the person who consented (consent {consent.pk}): similarity "
                f"{similarity:.2f}, at least {VOICE_SIMILARITY_MIN:.2f} is needed.",
                retryable=False,
            )


# -- the face --------------------------------------------------------------------------------------------


def mouth_opening(landmarks: np.ndarray) -> float:
    """The inner lips' gap (landmarks 62 and 66) over the face's height (nose bridge 27 to chin 8)."""
    gap = float(np.linalg.norm(landmarks[66] - landmarks[62]))
    height = float(np.linalg.norm(landmarks[8] - landmarks[27]))
    return gap / height if height else 0.0


def _face_check(person: Person, video: Path, samples: np.ndarray, measurements: dict) -> list[str]:
    analyzer = get_engine(FACE_ANALYZER)
    try:
        _, portrait = person_portrait(person)
    except EngineError:
        return [f"{person.name} has no photo to compare the face in the recording with: add a portrait first."]
    reference = portrait.embedding
    if reference is None:  # the embedding was removed when an earlier consent was revoked
        with person.photo.open("rb") as handle:
            reference = analyzer.analyze(image_rgb(handle.read())).embedding
    if reference is None:
        return [f"The face in {person.name}'s photo cannot be recognised: replace the portrait."]
    openings, loudness, distances, frames = _track_face(analyzer, video, samples, reference)
    seen = sum(1 for value in openings if value is not None) / max(frames, 1)
    measurements["face_seen"] = round(seen, 3)
    if seen < FACE_SEEN_MIN or not distances:
        return [f"A face is visible in only {seen:.0%} of the video; keep your face in the frame while reading."]
    distance = float(np.median(distances))
    measurements["face_distance"] = round(distance, 3)
    reasons = []
    if distance > FACE_DISTANCE_MAX:
        reasons.append(
            f"The face in the video is not {person.name}'s: distance {distance:.2f} to the persona's photo, "
            f"at most {FACE_DISTANCE_MAX} is allowed."
        )
    shown = np.array([value for value in openings if value is not None])
    heard = np.array([level for value, level in zip(openings, loudness, strict=True) if value is not None])
    motion = float(np.std(shown))
    correlation = float(np.corrcoef(shown, heard)[0, 1]) if motion > 0 and np.std(heard) > 0 else 0.0
    measurements.update(mouth_motion=round(motion, 4), mouth_loudness_correlation=round(correlation, 3))
    if motion < MOUTH_MOTION_MIN or correlation < MOUTH_LOUDNESS_CORRELATION_MIN:
        reasons.append(
            "The face in the video does not speak the phrase: the mouth must move with the words "
            f"(motion {motion:.3f}, needs {MOUTH_MOTION_MIN}; follows the voice {correlation:.2f}, needs "
            f"{MOUTH_LOUDNESS_CORRELATION_MIN}). A still photo is not accepted."
        )
    return reasons


def _track_face(
    analyzer: FaceAnalyzer, video: Path, samples: np.ndarray, reference: np.ndarray
) -> tuple[list[float | None], list[float], list[float], int]:
    """Per sampled frame: the mouth's opening (None without a face) and the voice's loudness around it;
    and the identity distance of one frame a second."""
    window = RECOGNITION_RATE // FRAME_RATE
    openings: list[float | None] = []
    loudness: list[float] = []
    distances: list[float] = []
    frames = 0
    for index, (seconds, frame) in enumerate(read_frames(video, fps=FRAME_RATE, max_side=480)):
        frames += 1
        start = int(seconds * RECOGNITION_RATE)
        chunk = samples[start : start + window]
        loudness.append(float(np.sqrt(np.mean(chunk**2))) if len(chunk) else 0.0)
        face = analyzer.find(frame)
        openings.append(None if face is None else mouth_opening(face.landmarks))
        if face is not None and index % FRAME_RATE == 0:
            try:
                embedded = analyzer.analyze(frame)
            except EngineError:
                continue
            if embedded.embedding is not None:
                distances.append(analyzer.distance(embedded.embedding, reference))
    return openings, loudness, distances, frames
