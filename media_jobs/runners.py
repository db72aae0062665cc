"""What each job kind does: read its parameters, call an engine, hand back a file and a result.

Runners take the job row (read-only) and a private working folder; the job service stores what
they return, so a runner never touches storage or job states.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from media_jobs.engines import get_engine
from media_jobs.engines.base import EngineError
from media_jobs.models import MediaJob


@dataclass(frozen=True)
class JobOutput:
    path: Path | None  # the file to keep, or None for a job without media
    extension: str = ""
    content_type: str = ""
    result: dict = field(default_factory=dict)


Progress = Callable[[int], None]


def run_noop(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    return JobOutput(path=None, result=get_engine("noop").run(seconds=float(job.params.get("seconds", 0))))


def run_speech(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    from characters.services.voices import voice_profile_for_speech

    text = job.params.get("text", "")
    audio_format = job.params.get("format", "wav")
    if job.params.get("person_voice"):  # a character speaking with its own voice and settings
        from characters.services.voices import voice_profile_for_person

        engine_name, voice = voice_profile_for_person(person=_person_for(job))
    else:
        engine_name, voice = voice_profile_for_speech(
            workspace_id=job.workspace_id, profile_id=job.params.get("profile_id")
        )
    progress(10)
    speech = get_engine("speech", engine_name).synthesize(
        text=text, voice=voice, out_dir=work_dir, audio_format=audio_format
    )
    return JobOutput(
        path=speech.path,
        extension=speech.audio_format,
        content_type="audio/mpeg" if speech.audio_format == "mp3" else "audio/wav",
        result={
            "duration": round(speech.duration, 3),
            "sample_rate": speech.sample_rate,
            "engine": engine_name,
            "phonemes": [[timing.phoneme, round(timing.start, 4), round(timing.end, 4)] for timing in speech.phonemes],
        },
    )


def _person_for(job: MediaJob):
    from characters.models import Person

    person = Person.objects.select_related("voice").filter(pk=job.person_id).first()
    if person is None:
        raise EngineError("The persona was deleted before its media was made.")
    return person


def _video_output(video, *, result: dict) -> JobOutput:
    return JobOutput(
        path=video.path,
        extension="mp4",
        content_type="video/mp4",
        result={
            **result,
            "duration": round(video.duration, 3),
            "frames": video.frames,
            "fps": video.fps,
            "width": video.width,
            "height": video.height,
        },
    )


def run_talking_head(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """Script → speech in the persona's voice → the persona's photo speaking it (TwinTone videos and
    influgen talking heads alike)."""
    from characters.services.faces import person_portrait
    from characters.services.voices import voice_profile_for_person

    person = _person_for(job)
    photo, face = person_portrait(person)
    engine_name, voice = voice_profile_for_person(person=person)
    speech = get_engine("speech", engine_name).synthesize(text=job.params["script"], voice=voice, out_dir=work_dir)
    progress(25)
    video = get_engine("talking_head").render_speech(
        photo=photo,
        audio=speech.path,
        phonemes=speech.phonemes,
        out_path=work_dir / "talking-head.mp4",
        face=face,
        preview=bool(job.params.get("preview")),
        seed=job.pk,
        progress=lambda done: progress(25 + int(done * 70)),
    )
    return _video_output(video, result={"speech_engine": engine_name})


def run_motion_transfer(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """The driving video's face motion (mouth, eyes, head) and audio, on the persona's photo."""
    from characters.services.faces import person_portrait

    person = _person_for(job)
    photo, face = person_portrait(person)
    if not job.input_file:
        raise EngineError("The driving video is no longer stored.")
    driving = work_dir / "driving-video"
    with job.input_file.open("rb") as source, driving.open("wb") as target:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            target.write(chunk)
    progress(5)
    video = get_engine("talking_head").transfer_motion(
        photo=photo,
        driving_video=driving,
        out_path=work_dir / "motion-transfer.mp4",
        face=face,
        preview=bool(job.params.get("preview")),
        progress=lambda done: progress(5 + int(done * 90)),
    )
    return _video_output(video, result={})


def run_lora_training(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """The character's training images, trained into a LoRA by the provider (fal.ai)."""
    from characters.models import LoraModel, LoraTrainingImage

    lora = LoraModel.objects.filter(pk=job.params.get("lora_id"), job_id=job.pk).first()
    if lora is None:
        raise EngineError("The LoRA was deleted before it was trained.")
    LoraModel.objects.filter(pk=lora.pk).update(status=LoraModel.Status.TRAINING)
    images = []
    for index, training_image in enumerate(LoraTrainingImage.objects.filter(person_id=lora.person_id)):
        path = work_dir / f"image-{index:02d}.{training_image.image.name.rsplit('.', 1)[-1]}"
        with training_image.image.open("rb") as source:
            path.write_bytes(source.read())
        images.append(path)
    engine = get_engine("lora")
    result = engine.train(
        images=images,
        steps=lora.training_steps,
        rank=lora.lora_rank,
        base_model=lora.base_model,
        trigger_word=lora.trigger_word,
        work_dir=work_dir,
        progress=lambda done: progress(int(done * 99)),
        should_stop=lambda: MediaJob.objects.filter(pk=job.pk, status=MediaJob.Status.CANCELED).exists(),
    )
    return JobOutput(
        path=None,
        result={
            "provider": engine.name,
            "request_id": result.request_id,
            "weights_url": result.weights_url,
            "config_url": result.config_url,
            "base_model": result.base_model,
            "trigger_word": result.trigger_word,
        },
    )


def run_knowledge_index(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """Chunk and embed the job's pages (each at the version it was queued for)."""
    from knowledge.indexing import index_pages

    return JobOutput(path=None, result=index_pages(pages=job.params["pages"], progress=progress))


def run_voice_clone(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    # Imported here: torch and the speaker encoder load only in processes that clone voices.
    from media_jobs.voice_clone_runner import run_voice_clone as run

    return run(job=job, work_dir=work_dir, progress=progress)


RUNNERS: dict[str, Callable[..., JobOutput]] = {
    MediaJob.Kind.NOOP: run_noop,
    MediaJob.Kind.SPEECH: run_speech,
    MediaJob.Kind.VOICE_CLONE: run_voice_clone,
    MediaJob.Kind.VIDEO: run_talking_head,
    MediaJob.Kind.TALKING_HEAD: run_talking_head,
    MediaJob.Kind.MOTION_TRANSFER: run_motion_transfer,
    MediaJob.Kind.LORA_TRAINING: run_lora_training,
    MediaJob.Kind.KNOWLEDGE_INDEX: run_knowledge_index,
}


def abandon_voice_clone(job: MediaJob) -> None:
    from media_jobs.voice_clone_runner import abandon

    abandon(job=job)


def abandon_lora_training(job: MediaJob) -> None:
    from characters.services.lora import lora_training_abandoned

    lora_training_abandoned(job=job)


def complete_motion_transfer(job: MediaJob) -> None:
    """The result is made: the uploaded driving video is not needed any more (a failed job keeps it,
    so that it can be retried)."""
    from persona_platform.media import delete_file_on_commit

    if job.input_file:
        MediaJob.objects.filter(pk=job.pk).update(input_file="")
        delete_file_on_commit(job.input_file.name)


def complete_lora_training(job: MediaJob) -> None:
    from characters.services.lora import lora_training_succeeded

    lora_training_succeeded(job=job)


# What a kind leaves behind when its job ends failed or canceled, however that happened (an engine
# error, retries exhausted, the sweep, a cancel): removed, so nothing half-made stays.
ABANDON: dict[str, Callable[[MediaJob], None]] = {
    MediaJob.Kind.VOICE_CLONE: abandon_voice_clone,
    MediaJob.Kind.LORA_TRAINING: abandon_lora_training,
}

# What a kind completes outside its job row once the job is marked ready.
COMPLETE: dict[str, Callable[[MediaJob], None]] = {
    MediaJob.Kind.LORA_TRAINING: complete_lora_training,
    MediaJob.Kind.MOTION_TRANSFER: complete_motion_transfer,
}


def runner_for(kind: str) -> Callable[..., JobOutput]:
    if kind not in RUNNERS:
        raise EngineError(f"This platform cannot run {kind} jobs yet.")
    return RUNNERS[kind]
