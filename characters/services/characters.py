"""influgen characters: the person row with its profile, reference images, default flag and copies.

A character is a person (see persons.py for capacity, the demo rule and the photo); these are
the rules influgen adds on top.
"""

from collections.abc import Sequence

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet

from accounts.models import User, Workspace
from characters.models import LoraModel, Person, ReferenceImage
from characters.selectors import person_get_by_ulid
from characters.services.consent_policy import FACE, likeness_require_consent, new_likeness_require_policy
from characters.services.faces import portrait_face
from characters.services.lora import lora_delete
from characters.services.media import MOTION_TRANSFER, TALKING_HEAD, VIDEO
from characters.services.persons import (
    PHOTO_DIRECTORY,
    _full_clean_and_save,
    person_create,
    person_delete,
    person_require_capacity,
    person_require_editable,
)
from characters.services.photos import Photo, photo_from_bytes
from characters.services.voice_clones import voice_clones_delete_at_provider
from media_jobs.models import MediaJob
from persona_platform import fetch
from persona_platform.media import delete_file_on_commit, guarded_files, random_name
from persona_platform.patch import UNSET, apply_sent

REFERENCE_DIRECTORY = "persons/references"
PROFILE_OBJECTS = ("appearance", "identity", "personality", "style", "settings")
PROFILE_OBJECT_MAX_BYTES = 10_000  # each profile object, as JSON: the API and the admin alike
# Generated media that counts as a character's content.
CONTENT_KINDS = (VIDEO, TALKING_HEAD, MOTION_TRANSFER)


def character_list(*, workspace: Workspace) -> QuerySet[Person]:
    """Characters with what their answers count, in one query."""
    content = Q(media_jobs__kind__in=CONTENT_KINDS, media_jobs__status=MediaJob.Status.READY)
    return (
        Person.objects.filter(workspace=workspace)
        .select_related("lora", "voice")
        .prefetch_related("reference_images")
        .annotate(
            content_count=Count("media_jobs", filter=content, distinct=True),
            last_post_date=Max("media_jobs__finished_at", filter=content),
        )
        .order_by("-created_at", "-id")  # an aggregate drops Meta.ordering
    )


def character_get(*, workspace: Workspace, ulid: str) -> Person:
    person_get_by_ulid(workspace=workspace, ulid=ulid)  # the 404 for a missing or foreign id
    return character_list(workspace=workspace).get(ulid=ulid)


def face_consistency_tier(person: Person) -> str:
    """How generated images keep the face: a trained LoRA, else reference images (IP-Adapter), else nothing."""
    lora = getattr(person, "lora", None)
    if lora is not None and lora.status == LoraModel.Status.READY:
        return "lora"
    return "ip_adapter" if person.photo or person.reference_images.all() else "none"


def _merge(current: dict, changes: dict) -> dict:
    """PATCH of a nested profile object: keys sent replace theirs, a null removes one, the rest stay."""
    merged = {**current, **changes}
    return {key: value for key, value in merged.items() if value is not None}


@transaction.atomic
def character_create(
    *,
    workspace: Workspace,
    owner: User,
    name: str,
    niche: str = "",
    profile: dict | None = None,
    talking_head_enabled: bool = False,
    reference_images: Sequence[tuple[Photo, str]] = (),
) -> Person:
    """A character and its reference images (photo, source URL). The first image becomes the primary
    one and the character's photo. Every face is checked before anything is written."""
    photos = list(reference_images)
    if photos:
        new_likeness_require_policy(workspace=workspace, what="A character with reference images")
    faces = [portrait_face(photo) for photo, _ in photos]
    person = person_create(
        workspace=workspace,
        owner=owner,
        name=name,
        photo=photos[0][0] if photos else None,
        face=faces[0] if faces else None,
    )
    for attribute, value in (profile or {}).items():
        setattr(person, attribute, value)
    person.niche, person.talking_head_enabled = niche, talking_head_enabled
    person.save()
    for index, ((photo, source_url), face) in enumerate(zip(photos, faces, strict=True)):
        reference_image_add(
            person=person,
            photo=photo,
            face=face,
            image_type=ReferenceImage.Type.PRIMARY if index == 0 else ReferenceImage.Type.OTHER,
            source_url=source_url,
            becomes_photo=False,
        )
    return person


@transaction.atomic
def character_update(
    *,
    person: Person,
    name: str = UNSET,
    niche: str = UNSET,
    profile: dict | None = None,
    talking_head_enabled: bool = UNSET,
) -> Person:
    person_require_editable(person=person)
    apply_sent(person, name=name, niche=niche, talking_head_enabled=talking_head_enabled)
    for attribute, changes in (profile or {}).items():
        setattr(person, attribute, _merge(getattr(person, attribute), changes))
    _full_clean_and_save(person)
    return person


@transaction.atomic
def character_set_default(*, person: Person) -> Person:
    """One default per workspace: marking one unmarks the other (the demo person cannot be it)."""
    person_require_editable(person=person)
    Workspace.objects.select_for_update().filter(pk=person.workspace_id).first()
    Person.objects.filter(workspace_id=person.workspace_id, is_default=True).exclude(pk=person.pk).update(
        is_default=False
    )
    Person.objects.filter(pk=person.pk).update(is_default=True)
    person.is_default = True
    return person


def character_delete(*, person: Person) -> None:
    """Remove a character and its likeness: what providers keep first (its LoRA's weights at fal, its voice
    clones at ElevenLabs; a failure there deletes nothing, so the call can be repeated), then a LoRA training
    in progress (canceled and refunded), then the row with its photo, reference and training images (files
    too), face analysis and identity embedding, and voice clones. Generated media stays: it is the
    workspace's, and outlives its person."""
    person_require_editable(person=person)
    voice_clones_delete_at_provider(person=person)
    lora_delete(person=person)
    person_delete(person=person)


def character_duplicate(*, person: Person, owner: User) -> Person:
    """A copy with its photo, reference images, profile and voice settings; not its jobs, voice
    clones or LoRA (those belong to the original). Files are copied, so either can be deleted."""
    references = list(person.reference_images.all())
    with guarded_files() as files, transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=person.workspace_id).first()
        person_require_capacity(workspace=person.workspace)
        copy = Person(
            workspace_id=person.workspace_id,
            owner=owner,
            name=f"{person.name} (copy)"[:200],
            description=person.description,
            company_id=person.company_id,
            voice_id=person.voice_id,
            face=person.face,
            niche=person.niche,
            talking_head_enabled=person.talking_head_enabled,
            voice_settings=dict(person.voice_settings),
            identity_embedding=list(person.identity_embedding),
            **{attribute: dict(getattr(person, attribute)) for attribute in PROFILE_OBJECTS},
        )
        if person.photo:
            copy.photo.name = files.save(_copy_name(person.photo.name, PHOTO_DIRECTORY), _read(person.photo))
        copy.save()
        for reference in references:
            ReferenceImage.objects.create(
                workspace_id=copy.workspace_id,
                person=copy,
                image=files.save(_copy_name(reference.image.name, REFERENCE_DIRECTORY), _read(reference.image)),
                type=reference.type,
                source_url=reference.source_url,
                face=reference.face,
                width=reference.width,
                height=reference.height,
            )
    return copy


def _copy_name(name: str, directory: str) -> str:
    return random_name(directory, name.rsplit(".", 1)[-1])


def _read(field_file) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def reference_photos_fetch(*, urls: list[str]) -> list[tuple[Photo, str]]:
    """The images at `reference_images` URLs, fetched safely and checked as images (not yet for faces)."""
    photos = []
    for index, url in enumerate(urls):
        field = f"reference_images[{index}]"
        fetched = fetch.fetch_url(url, field=field, max_bytes=settings.MAX_MEDIA_BYTES, accept="image/*")
        photos.append((photo_from_bytes(fetched.content, field=f"{field} ({url})"), url))
    return photos


def reference_image_add(
    *,
    person: Person,
    photo: Photo,
    image_type: str = ReferenceImage.Type.OTHER,
    source_url: str = "",
    becomes_photo: bool | None = None,
    face: dict | None = None,
) -> ReferenceImage:
    """Store a reference image (one face) and refresh the character's identity. A primary image, or
    the first image of a character without a photo, becomes its photo: what videos animate."""
    person_require_editable(person=person)
    likeness_require_consent(workspace=person.workspace, person=person, kinds=(FACE,), what="A reference image")
    face = face or portrait_face(photo)
    if becomes_photo is None:
        becomes_photo = image_type == ReferenceImage.Type.PRIMARY or not person.photo
    with guarded_files() as files, transaction.atomic():
        if image_type == ReferenceImage.Type.PRIMARY:
            person.reference_images.filter(type=ReferenceImage.Type.PRIMARY).update(type=ReferenceImage.Type.OTHER)
        reference = ReferenceImage.objects.create(
            workspace_id=person.workspace_id,
            person=person,
            image=files.save(random_name(REFERENCE_DIRECTORY, photo.extension), photo.content),
            type=image_type,
            source_url=source_url,
            face=face,
            width=photo.width,
            height=photo.height,
        )
        if becomes_photo:
            delete_file_on_commit(person.photo.name)
            # The name already holds the directory: FieldFile.save would prefix upload_to a second time.
            person.photo.name = files.save(random_name(PHOTO_DIRECTORY, photo.extension), photo.content)
            person.face = face
        person.identity_embedding = identity_embedding(person)
        person.save()
    return reference


def identity_embedding(person: Person) -> list[float]:
    """The mean identity embedding of the photo and every reference image. Not rescaled: dlib's
    "same person within 0.6" holds for its embeddings as they are."""
    faces = [person.face, *(reference.face for reference in person.reference_images.all())]
    vectors = [np.asarray(face["embedding"], dtype=np.float32) for face in faces if face and face.get("embedding")]
    if not vectors:
        return []
    return [round(float(value), 5) for value in np.mean(vectors, axis=0)]
