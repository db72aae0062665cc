"""Jobs that make media of a person: speech in its voice, its photo speaking, its face moved by a video.

The kinds' work is in characters.jobs; these services check the request and queue the job.
"""

from accounts.models import Workspace
from characters.models import Person, SpeakingProfile, Voice
from characters.services.consent_policy import FACE, likeness_require_consent, speech_require_consent
from characters.services.videos import probed_video, video_shows_face
from media_jobs.models import MediaJob
from media_jobs.services import job_create
from persona_platform.errors import InvalidInput

# The job kinds (characters.jobs). TwinTone's videos and influgen's talking heads are made alike but
# listed apart, each under its own kind.
SPEECH = "speech"
VIDEO = "video"
TALKING_HEAD = "talking_head"
MOTION_TRANSFER = "motion_transfer"

PREVIEW_SCRIPT_CHARS = 300


def _require_portrait(person: Person) -> None:
    if not person.photo:
        raise InvalidInput(f"{person.name} has no photo to animate; add a portrait first.")


def _require_face_and_voice(person: Person, *, what: str) -> None:
    likeness_require_consent(workspace=person.workspace, person=person, kinds=(FACE,), what=what)
    speech_require_consent(workspace=person.workspace, voice=person.voice, what=what)


def talking_head_start(
    *,
    person: Person,
    script: str,
    kind: str = TALKING_HEAD,
    name: str = "",
    callback_url: str = "",
    preview: bool = False,
    resolution: int | None = None,
) -> MediaJob:
    """A job that makes the person say the script: speech in its voice, then its photo speaking.
    A preview renders small and fast, for a short script. `resolution`: the video's height where the photo
    has at least that many pixels (no upscaling a small photo), else the photo's own size."""
    script = script.strip()
    if not script:
        raise InvalidInput("script: may not be blank.")
    if preview and len(script) > PREVIEW_SCRIPT_CHARS:
        raise InvalidInput(
            f"script: a preview speaks at most {PREVIEW_SCRIPT_CHARS} characters; this is {len(script)}."
        )
    _require_portrait(person)
    _require_face_and_voice(person, what="A video of this persona")
    return job_create(
        workspace=person.workspace,
        kind=kind,
        person_id=person.pk,
        name=name,
        params={"script": script, "preview": preview, **({"resolution": resolution} if resolution else {})},
        callback_url=callback_url,
    )


def speech_start(
    *, person: Person, text: str, audio_format: str = "wav", name: str = "", callback_url: str = ""
) -> MediaJob:
    """A job that speaks the text in the person's voice, with the person's voice settings."""
    text = text.strip()
    if not text:
        raise InvalidInput("text: may not be blank.")
    params = {"text": text, "format": audio_format, "person_voice": True}
    return _speech_job(person.workspace, person.pk, person.voice, params, name=name, callback_url=callback_url)


def profile_speech_start(
    *, profile: SpeakingProfile, text: str, audio_format: str = "wav", name: str = "", callback_url: str = ""
) -> MediaJob:
    """A job that speaks the text with a speaking profile's voice and settings (TwinTone's personas)."""
    params = {"text": text, "profile_id": profile.pk, "format": audio_format}
    return _speech_job(
        profile.workspace, profile.person_id, profile.voice, params, name=name, callback_url=callback_url
    )


def _speech_job(
    workspace: Workspace, person_id: int | None, voice: Voice | None, params: dict, *, name: str, callback_url: str
) -> MediaJob:
    """Queue speech in `voice`, once its consent allows it (characters.services.consent_policy)."""
    speech_require_consent(workspace=workspace, voice=voice, what="Speech in this persona's voice")
    return job_create(
        workspace=workspace, kind=SPEECH, person_id=person_id, name=name, params=params, callback_url=callback_url
    )


def motion_transfer_start(
    *, person: Person, video: bytes, field: str = "video", name: str = "", callback_url: str = "", preview: bool = False
) -> MediaJob:
    """A job that moves the person's face as the face in the driving video moves, with its sound.
    The video is probed first, so what is queued is a real video within the limits."""
    _require_portrait(person)
    likeness_require_consent(workspace=person.workspace, person=person, kinds=(FACE,), what="Moving this face")
    with probed_video(video, field=field) as (path, info):
        if not video_shows_face(path):
            raise InvalidInput(f"{field}: no face was found in the first seconds of the driving video.")
    return job_create(
        workspace=person.workspace,
        kind=MOTION_TRANSFER,
        person_id=person.pk,
        name=name,
        params={
            "preview": preview,
            "driving_video": {
                "duration": round(info.duration, 3),
                "width": info.width,
                "height": info.height,
                "has_audio": info.audio_codec is not None,
            },
        },
        callback_url=callback_url,
        input_data=video,
        input_extension=info.container,
    )
