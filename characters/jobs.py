"""The job kinds this app owns: speech, voice clone, video and talking head, motion transfer, LoRA training.

A runner reads its job's parameters and the rows they name, calls an engine in a private working
folder and hands back a file and a result; `media_jobs` stores the file and moves the job's state.
What a job changes in this app's rows it changes through this app's services.
"""

import shutil
from pathlib import Path

from django.core.files.storage import default_storage

from characters.models import Consent, LoraModel, LoraTrainingImage, Person, Voice
from characters.services.consent_checks import clone_require_consenting_speaker, consent_evidence_check
from characters.services.consents import (
    CONSENT_VERIFICATION,
    consent_verification_abandoned,
    consent_verification_finished,
)
from characters.services.faces import person_portrait
from characters.services.lora import LORA_TRAINING, lora_training_abandoned, lora_training_succeeded
from characters.services.media import MOTION_TRANSFER, SPEECH, TALKING_HEAD, VIDEO
from characters.services.provenance import provenance_claim
from characters.services.voice_clones import (
    VOICE_CLONE,
    voice_clone_discard,
    voice_clone_save,
    voice_samples_discard,
)
from characters.services.voices import voice_profile_for_person, voice_profile_for_speech
from media_jobs.engines import LORA_TRAINER, SPEECH_ENGINE, TALKING_HEAD_ENGINE, VOICE_CLONER, get_engine
from media_jobs.engines.base import EngineError, LoraTrainingRequest, MotionTransferRequest, SpeechVideoRequest
from media_jobs.engines.speech.piper import VOICE_ID as PIPER_VOICE_ID
from media_jobs.engines.talking_head import RenderedVideo
from media_jobs.engines.voice_clone import (
    LocalVoiceAnalyzer,
    clone_profile,
    clone_similarity,
    cosine_similarity,
    local_voice_base,
    local_voice_tempo_curve,
)
from media_jobs.kinds import JobKind, JobOutput, Progress
from media_jobs.models import MediaJob
from media_jobs.provenance import ProvenanceClaim
from persona_platform.media import delete_file_on_commit


def _person_for(job: MediaJob) -> Person:
    person = Person.objects.select_related("voice").filter(pk=job.person_id).first() if job.person_id else None
    if person is None:
        raise EngineError("The persona was deleted before its media was made.")
    return person


def _discloses(job: MediaJob, person: Person) -> bool:
    """A video carries the visible "AI-generated" label when its workspace asks for it, and always of a demo person."""
    return person.is_demo or job.workspace.ai_disclosure_overlay


# Speech


def run_speech(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    audio_format = job.params.get("format", "wav")
    if job.params.get("person_voice"):  # a character speaking with its own voice and settings
        engine_name, voice = voice_profile_for_person(person=_person_for(job))
    else:
        engine_name, voice = voice_profile_for_speech(
            workspace_id=job.workspace_id, profile_id=job.params.get("profile_id")
        )
    progress(10)
    speaker = get_engine(SPEECH_ENGINE, engine_name)
    speech = speaker.synthesize(
        text=job.params.get("text", ""), voice=voice, out_dir=work_dir, audio_format=audio_format
    )
    persona = Person.objects.filter(pk=job.person_id).first() if job.person_id else None
    return JobOutput(
        path=speech.path,
        extension=speech.audio_format,
        content_type="audio/mpeg" if speech.audio_format == "mp3" else "audio/wav",
        result={
            "duration": round(speech.duration, 3),
            "sample_rate": speech.sample_rate,
            "engine": engine_name,
            "pitch_semitones": speech.pitch_semitones,
            "phonemes": [[timing.phoneme, round(timing.start, 4), round(timing.end, 4)] for timing in speech.phonemes],
        },
        claim=provenance_claim(person=persona, engine=f"{speaker.name} speech", likeness=("voice",)),
    )


# Videos: the persona's photo speaking a script, or moved by a driving video


def _video_output(video: RenderedVideo, *, result: dict, claim: ProvenanceClaim) -> JobOutput:
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
        claim=claim,
    )


def _resolution(photo, wanted: int | None) -> int | None:
    """The height asked for, where the photo has that many pixels: a small photo keeps its own size."""
    return wanted if wanted and photo.shape[0] >= wanted else None


def run_talking_head(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """Script → speech in the persona's voice → the persona's photo speaking it (TwinTone videos and
    influgen talking heads alike)."""
    person = _person_for(job)
    photo, face = person_portrait(person)
    engine_name, voice = voice_profile_for_person(person=person)
    speaker = get_engine(SPEECH_ENGINE, engine_name)
    speech = speaker.synthesize(text=job.params["script"], voice=voice, out_dir=work_dir)
    progress(25)
    request = SpeechVideoRequest(
        photo=photo,
        face=face,
        audio=speech.path,
        phonemes=speech.phonemes,
        out_path=work_dir / "talking-head.mp4",
        preview=bool(job.params.get("preview")),
        seed=job.pk,
        disclosure_label=_discloses(job, person),
        resolution=_resolution(photo, job.params.get("resolution")),
    )
    renderer = get_engine(TALKING_HEAD_ENGINE)
    video = renderer.render_speech(request, progress=lambda done: progress(25 + int(done * 70)))
    claim = provenance_claim(person=person, engine=f"{renderer.name} talking head", likeness=("voice", "face"),
                             audio_origin=f"{speaker.name} speech")  # fmt: skip
    return _video_output(video, result={"speech_engine": engine_name}, claim=claim)


def run_motion_transfer(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """The driving video's face motion (mouth, eyes, head) and audio, on the persona's photo."""
    person = _person_for(job)
    photo, face = person_portrait(person)
    if not job.input_file:
        raise EngineError("The driving video is no longer stored.")
    driving = work_dir / "driving-video"
    with job.input_file.open("rb") as source, driving.open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    progress(5)
    request = MotionTransferRequest(
        photo=photo,
        face=face,
        driving_video=driving,
        out_path=work_dir / "motion-transfer.mp4",
        preview=bool(job.params.get("preview")),
        disclosure_label=_discloses(job, person),
    )
    renderer = get_engine(TALKING_HEAD_ENGINE)
    video = renderer.transfer_motion(request, progress=lambda done: progress(5 + int(done * 90)))
    # The persona's face only: the voice heard is the driving video's own.
    claim = provenance_claim(person=person, engine=f"{renderer.name} talking head", likeness=("face",),
                             audio_origin="the driving video's sound")  # fmt: skip
    return _video_output(video, result={}, claim=claim)


def complete_motion_transfer(job: MediaJob) -> None:
    """The result is made: the uploaded driving video is not needed any more (a failed job keeps it,
    so that it can be retried)."""
    if job.input_file:
        MediaJob.objects.filter(pk=job.pk).update(input_file="")
        delete_file_on_commit(job.input_file.name)


# LoRA training


def run_lora_training(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """The character's training images, trained into a LoRA by the provider (fal.ai)."""
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
    if lora.training_steps is None or lora.lora_rank is None:
        raise EngineError("The LoRA was never given its training parameters.")
    engine = get_engine(LORA_TRAINER)
    request = LoraTrainingRequest(
        images=images,
        steps=lora.training_steps,
        rank=lora.lora_rank,
        base_model=lora.base_model,
        trigger_word=lora.trigger_word,
        work_dir=work_dir,
    )
    result = engine.train(
        request,
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


def abandon_lora_training(job: MediaJob) -> None:
    lora_training_abandoned(job=job)


def complete_lora_training(job: MediaJob) -> None:
    lora_training_succeeded(job=job)


# Voice clone
#
# params: {"voice_id": <Voice pk>, "sample_files": [storage names], "provider": "local" | "elevenlabs"}.
# On success the voice gets its measurements (local) or the provider's voice id, it becomes its person's
# speaking voice, and the samples are deleted: recordings of someone's voice are not kept longer than the
# clone needs them. A failure a retry cannot fix (bad audio, a missing sample, a cancel) deletes the samples
# and the never-measured voice too; a retryable one (storage unreachable) keeps both for the retry.


def _sample_names(job: MediaJob) -> list[str]:
    return [str(name) for name in job.params.get("sample_files") or []]


def _fetch_samples(names: list[str], work_dir: Path) -> list[Path]:
    """Copy the samples out of storage into the job's folder."""
    if not names:
        raise EngineError("The job has no sample files.", retryable=False)
    paths = []
    for number, name in enumerate(names, start=1):
        path = work_dir / f"sample-{number}{Path(name).suffix}"
        try:
            with default_storage.open(name, "rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        except FileNotFoundError as exc:
            raise EngineError(f"sample {number}: the file is no longer stored.", retryable=False) from exc
        except OSError as exc:  # storage unreachable: worth another try
            raise EngineError(f"sample {number}: could not be read from storage ({exc}).", retryable=True) from exc
        paths.append(path)
    return paths


def _clone_locally(*, job: MediaJob, voice: Voice, samples: list[Path], progress: Progress) -> dict:
    """Measure the samples and fit the local voice to them."""
    measured = LocalVoiceAnalyzer().analyze(samples=samples)
    clone_require_consenting_speaker(person=voice.person, embedding=measured.embedding)
    progress(40)
    base = local_voice_base()
    profile = clone_profile(measured, base, tempo_curve=local_voice_tempo_curve())
    progress(60)
    similarity = clone_similarity(measured, profile)
    progress(90)
    summary = {
        **measured.summary(),
        **profile,
        "engine": "piper",
        "engine_voice": PIPER_VOICE_ID,
        "base_median_pitch_hz": round(base.median_pitch_hz, 2),
        "base_speaking_rate": round(base.speaking_rate, 3),
        # cosine similarity of speaker embeddings: the fitted local voice vs the samples, and the
        # unfitted local voice vs the samples (1.0 = the same speaker)
        "similarity": round(similarity, 3),
        "base_similarity": round(cosine_similarity(measured.embedding, base.embedding), 3),
    }
    provider_voice_id = f"local_{voice.pk}"
    saved = voice_clone_save(
        job=job,
        voice=voice,
        provider=Voice.Provider.LOCAL,
        provider_voice_id=provider_voice_id,
        measurements={**summary, "embedding": measured.embedding},
    )
    if not saved:
        raise EngineError("The clone was canceled or its voice deleted before it finished.", retryable=False)
    return {"voice_id": voice.pk, "provider_voice_id": provider_voice_id, **summary}


def _clone_with_provider(*, job: MediaJob, voice: Voice, samples: list[Path], progress: Progress) -> dict:
    """ElevenLabs instant voice clone: the samples go to the provider, which answers with its voice id."""
    progress(20)
    provider_voice_id = get_engine(VOICE_CLONER, "elevenlabs").clone_voice(name=voice.name, samples=samples)
    saved = voice_clone_save(
        job=job, voice=voice, provider=Voice.Provider.ELEVENLABS, provider_voice_id=provider_voice_id
    )
    if not saved:
        raise EngineError("The clone was canceled or its voice deleted before it finished.")
    return {"voice_id": voice.pk, "provider": "elevenlabs", "provider_voice_id": provider_voice_id}


def run_voice_clone(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    names = _sample_names(job)
    voice = Voice.objects.filter(pk=job.params.get("voice_id"), workspace_id=job.workspace_id).first()
    if voice is None:
        voice_samples_discard(names)
        raise EngineError("The voice this clone was for has been deleted.", retryable=False)
    clone = _clone_with_provider if job.params.get("provider") == Voice.Provider.ELEVENLABS else _clone_locally
    try:
        samples = _fetch_samples(names, work_dir)
        progress(10)
        result = clone(job=job, voice=voice, samples=samples, progress=progress)
    except EngineError as exc:
        if not exc.retryable:
            voice_clone_discard(voice_id=voice.pk, sample_names=names)
        raise
    except Exception:
        voice_clone_discard(voice_id=voice.pk, sample_names=names)  # a crash is not retried either
        raise
    voice_samples_discard(names)
    return JobOutput(path=None, result=result)


def abandon_voice_clone(job: MediaJob) -> None:
    """The job ended failed or canceled: its samples go, and its voice too if it was never measured."""
    voice_clone_discard(voice_id=job.params.get("voice_id"), sample_names=_sample_names(job))


def voice_clone_retry_refusal(job: MediaJob) -> str:
    """A clone runs from its recordings, which a failed or canceled clone deletes (`abandon_voice_clone`),
    and for its voice row: without either, running it again cannot work."""
    names = _sample_names(job)
    if not names or not all(default_storage.exists(name) for name in names):
        return "The recordings this voice clone was made from have been deleted: start a new clone with new samples."
    if not Voice.objects.filter(pk=job.params.get("voice_id"), workspace_id=job.workspace_id).exists():
        return "The voice this clone was for has been deleted: start a new clone."
    return ""


# Consent verification


def run_consent_verification(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """Check the consent's recording: its words, its speaker, its face. What is found is the job's result;
    `consent_verification_finished` marks the consent verified or rejected from it."""
    consent = Consent.objects.select_related("person__voice").filter(pk=job.params.get("consent_id")).first()
    if consent is None or consent.status != Consent.Status.VERIFYING:
        raise EngineError("The consent was revoked or deleted before its recording was checked.", retryable=False)
    evidence = work_dir / Path(consent.evidence.name).name
    with default_storage.open(consent.evidence.name, "rb") as source, evidence.open("wb") as target:
        shutil.copyfileobj(source, target)
    progress(10)
    return JobOutput(path=None, result=consent_evidence_check(consent=consent, evidence=evidence, work_dir=work_dir,
                                                              progress=progress))  # fmt: skip


speech = JobKind(name=SPEECH, label="Speech", run=run_speech)
voice_clone = JobKind(
    name=VOICE_CLONE,
    label="Voice clone",
    run=run_voice_clone,
    abandon=abandon_voice_clone,
    retry_refusal=voice_clone_retry_refusal,
)
video = JobKind(name=VIDEO, label="Video", run=run_talking_head)
talking_head = JobKind(name=TALKING_HEAD, label="Talking head", run=run_talking_head)
motion_transfer = JobKind(
    name=MOTION_TRANSFER, label="Motion transfer", run=run_motion_transfer, complete=complete_motion_transfer
)
lora_training = JobKind(
    name=LORA_TRAINING,
    label="LoRA training",
    run=run_lora_training,
    abandon=abandon_lora_training,
    complete=complete_lora_training,
)
consent_verification = JobKind(
    name=CONSENT_VERIFICATION,
    label="Consent verification",
    run=run_consent_verification,
    abandon=consent_verification_abandoned,
    complete=consent_verification_finished,
)
