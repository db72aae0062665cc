"""LoRA identity training: the plan, image and parameter rules, and the credits it costs.

Credits are debited in the same transaction that queues the training, under a lock on the
character, so two concurrent requests cannot both start (or both pay for) one training; a
training that fails or is canceled gives them back, once.
"""

import logging
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import Plan, User
from accounts.services import credits_debit, credits_grant
from characters.models import LoraModel, LoraTrainingImage, Person
from characters.services.consent_policy import FACE, likeness_require_consent
from characters.services.faces import portrait_face
from characters.services.persons import person_require_editable
from characters.services.photos import Photo
from media_jobs.engines import LORA_TRAINER, get_engine
from media_jobs.engines.base import EngineError, EngineUnavailable
from media_jobs.engines.face import face_distance
from media_jobs.models import MediaJob
from media_jobs.services import JobNotCancelable, job_cancel, job_create
from persona_platform.errors import Conflict, InvalidInput, PlanLimitReached, ProviderNotConfigured, ProviderUnavailable
from persona_platform.ids import character_trigger_word
from persona_platform.media import guarded_files, random_name

LORA_TRAINING = "lora_training"  # the job kind (characters.jobs)
TRAINING_DIRECTORY = "persons/lora"
MIN_IMAGES, MAX_IMAGES = 10, 30
STEPS_RANGE, RANK_RANGE = (1000, 1500), (16, 32)
BASE_MODELS = ("fal-ai/flux-lora",)
TRAINING_CREDITS = 500
LORA_PLANS = (Plan.PRO, Plan.AGENCY)
# Beyond this identity distance a training image shows someone other than the character.
SAME_PERSON_DISTANCE = 0.6
ACTIVE = (LoraModel.Status.PENDING, LoraModel.Status.TRAINING)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRequest:
    base_model: str = BASE_MODELS[0]
    training_steps: int = 1200
    lora_rank: int = 16
    trigger_word: str = ""


def lora_state(*, person: Person) -> LoraModel:
    """The character's LoRA row, or an unsaved one in state `none`."""
    return LoraModel.objects.filter(person=person).first() or LoraModel(person=person)


def lora_require_plan(*, person: Person) -> None:
    plan = person.workspace.plan
    if plan not in LORA_PLANS:
        raise PlanLimitReached(
            f"LoRA training needs the Pro or Agency plan; this workspace is on the {plan} plan. Upgrade to train."
        )


def lora_images_add(*, person: Person, photos: list[Photo]) -> list[LoraTrainingImage]:
    """Training images, all or none: each shows one face, the character's own when the character
    has one already, and together they stay within the limit."""
    person_require_editable(person=person)
    lora_require_plan(person=person)
    faces = [portrait_face(photo) for photo in photos]
    identity = person.identity_embedding or person.face.get("embedding")
    for photo, face in zip(photos, faces, strict=True):
        if identity:
            distance = face_distance(np.asarray(identity), np.asarray(face["embedding"]))
            if distance > SAME_PERSON_DISTANCE:
                raise InvalidInput(
                    f"{photo.field}: the face in this image is not {person.name}'s (identity distance {distance:.2f})."
                )
    with guarded_files() as files, transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        count = LoraTrainingImage.objects.filter(person=person).count()
        if count + len(photos) > MAX_IMAGES:
            raise InvalidInput(
                f"images: a LoRA trains on at most {MAX_IMAGES} images; this character has {count} and "
                f"{len(photos)} more would make {count + len(photos)}."
            )
        return LoraTrainingImage.objects.bulk_create(
            [
                LoraTrainingImage(
                    workspace_id=person.workspace_id,
                    person=person,
                    image=files.save(random_name(TRAINING_DIRECTORY, photo.extension), photo.content),
                    face=face,
                    width=photo.width,
                    height=photo.height,
                )
                for photo, face in zip(photos, faces, strict=True)
            ]
        )


def _check_request(request: TrainingRequest) -> None:
    errors = {}
    if request.base_model not in BASE_MODELS:
        errors["base_model"] = f"must be {' or '.join(BASE_MODELS)}."
    if not STEPS_RANGE[0] <= request.training_steps <= STEPS_RANGE[1]:
        errors["training_steps"] = f"must be between {STEPS_RANGE[0]} and {STEPS_RANGE[1]}."
    if not RANK_RANGE[0] <= request.lora_rank <= RANK_RANGE[1]:
        errors["lora_rank"] = f"must be between {RANK_RANGE[0]} and {RANK_RANGE[1]}."
    if errors:
        raise InvalidInput(
            " ".join(f"{field}: {message}" for field, message in errors.items()),
            details={field: [message] for field, message in errors.items()},
        )


def _require_trainer() -> None:
    try:
        engine = get_engine(LORA_TRAINER)
        if hasattr(engine, "require_configured"):
            engine.require_configured()
    except EngineUnavailable:
        raise ProviderNotConfigured(
            "LoRA training needs a GPU provider and none is configured: set FAL_KEY (fal.ai) on the server. "
            "Nothing was charged."
        ) from None


def lora_train(*, person: Person, request: TrainingRequest, user: User | None = None) -> LoraModel:
    """Check every rule, then debit the credits and queue the training, atomically. The request is judged
    (plan, parameters, images, credits) before the provider: a bad request is the client's to fix, whether
    or not this installation can train; only a good one hears that no GPU provider is configured, and the
    debit is rolled back with it."""
    person_require_editable(person=person)
    likeness_require_consent(workspace=person.workspace, person=person, kinds=(FACE,), what="A LoRA training")
    lora_require_plan(person=person)
    _check_request(request)
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        lora, _ = LoraModel.objects.get_or_create(person=person)
        if lora.status in ACTIVE:
            raise Conflict("A LoRA for this character is already training; wait for it to finish or delete it.")
        count = LoraTrainingImage.objects.filter(person=person).count()
        if not MIN_IMAGES <= count <= MAX_IMAGES:
            raise InvalidInput(
                f"A LoRA trains on {MIN_IMAGES} to {MAX_IMAGES} images of the character; it has {count}. "
                "Upload them with POST …/lora/images."
            )
        credits_debit(
            workspace=person.workspace,
            amount=TRAINING_CREDITS,
            reason=f"LoRA training of {person.name}"[:200],
            reference=f"lora:{lora.pk}",
            created_by=user,
        )
        _require_trainer()
        job = job_create(
            workspace=person.workspace,
            kind=LORA_TRAINING,
            person_id=person.pk,
            name=f"LoRA: {person.name}"[:200],
            params={"lora_id": lora.pk},
        )
        LoraModel.objects.filter(pk=lora.pk).update(
            status=LoraModel.Status.PENDING,
            base_model=request.base_model,
            training_steps=request.training_steps,
            lora_rank=request.lora_rank,
            trigger_word=request.trigger_word or character_trigger_word(person.ulid),
            job=job,
            provider="",
            provider_request_id="",
            weights_url="",
            config_url="",
            credits_charged=TRAINING_CREDITS,
            error="",
            started_at=timezone.now(),
            finished_at=None,
        )
    lora.refresh_from_db()
    return lora


def lora_training_succeeded(*, job: MediaJob) -> None:
    """The job is ready: the LoRA is, with the weights the provider made."""
    LoraModel.objects.filter(pk=job.params.get("lora_id"), job=job).update(
        status=LoraModel.Status.READY,
        provider=job.result.get("provider", ""),
        provider_request_id=job.result.get("request_id", ""),
        weights_url=job.result.get("weights_url", ""),
        config_url=job.result.get("config_url", ""),
        error="",
        finished_at=timezone.now(),
    )


@transaction.atomic
def lora_training_abandoned(*, job: MediaJob) -> None:
    """The job failed or was canceled: the LoRA is `failed` and the credits come back, once."""
    lora = LoraModel.objects.select_for_update().filter(pk=job.params.get("lora_id"), job=job).first()
    if lora is None:
        return
    refund = lora.credits_charged
    LoraModel.objects.filter(pk=lora.pk).update(
        status=LoraModel.Status.FAILED,
        credits_charged=0,
        error=job.error or "Canceled.",
        finished_at=timezone.now(),
    )
    if refund:
        credits_grant(
            workspace=job.workspace,
            amount=refund,
            reason=f"Refund: LoRA training {job.status}"[:200],
            reference=f"lora:{lora.pk}",
        )


def lora_delete_at_provider(*, lora: LoraModel) -> None:
    """Delete a trained LoRA's weights where they were made (fal keeps a finished request's output files until
    told). A provider that fails for now (a timeout, 429, 5xx) is a 503 and nothing is deleted here either, so
    the client can try again and no weights are left behind unknown. One that cannot do it at all (no key, or
    a key the provider refuses, e.g. one without fal's admin scope) is logged for the operator, and the
    deletion here goes on, because a user must always be able to remove a likeness."""
    if lora.status != LoraModel.Status.READY or not lora.provider or not lora.provider_request_id:
        return
    try:
        engine = get_engine(LORA_TRAINER, lora.provider)
    except EngineUnavailable:
        logger.warning("LoRA %s: no %s engine to delete request %s", lora.pk, lora.provider, lora.provider_request_id)
        return
    delete = getattr(engine, "delete_outputs", None)
    if delete is None:  # an engine that keeps nothing at a provider
        return
    try:
        delete(request_id=lora.provider_request_id)
    except EngineUnavailable as exc:
        logger.warning("LoRA %s: request %s left at %s: %s", lora.pk, lora.provider_request_id, lora.provider, exc)
    except EngineError as exc:
        if not exc.retryable:
            logger.error(
                "LoRA %s: request %s left at %s, which refused to delete it: %s",
                lora.pk, lora.provider_request_id, lora.provider, exc,
            )  # fmt: skip
            return
        raise ProviderUnavailable(
            f"The LoRA's weights could not be deleted at {lora.provider} ({exc}). Nothing was deleted; try again."
        ) from None


def lora_delete(*, person: Person) -> None:
    """Forget the LoRA: its weights at the provider, and here (a training in progress is canceled, and
    refunded); training images stay."""
    person_require_editable(person=person)
    lora = LoraModel.objects.filter(person=person).select_related("job").first()
    if lora is None:
        return
    lora_delete_at_provider(lora=lora)
    if lora.status in ACTIVE and lora.job is not None:
        try:
            job_cancel(job=lora.job)
        except JobNotCancelable:
            pass
        lora_training_abandoned(job=lora.job)
    lora.delete()
