"""influgen Characters: `/api/v1/characters` (alias `/api/v1/influencers`) and `/api/v1/voices`
(seed: influgen-characters). A character is a person, shown as `char_<ulid>`."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from characters.api.influgen.serializers import (
    CharacterCreateSerializer,
    CharacterEnvelopeSerializer,
    CharacterSerializer,
    CharacterUpdateSerializer,
    CharacterVoiceSerializer,
    CharacterVoiceStateSerializer,
    InflugenJobListQuerySerializer,
    LoraEnvelopeSerializer,
    LoraImagesSerializer,
    LoraImagesUploadSerializer,
    LoraSerializer,
    LoraStatusSerializer,
    LoraTrainSerializer,
    MotionTransferRequestSerializer,
    MotionTransferSerializer,
    ReferenceImageEnvelopeSerializer,
    ReferenceImageSerializer,
    ReferenceImageUploadSerializer,
    SpeechGenerationSerializer,
    TalkingHeadGenerationSerializer,
    TalkingHeadPreviewRequestSerializer,
    TalkingHeadRequestSerializer,
    VoiceCloneProgressSerializer,
    VoiceCloneRequestSerializer,
    VoiceCloneUploadSerializer,
    VoiceCloneUrlsSerializer,
    VoiceGenerateRequestSerializer,
    VoiceListSerializer,
    VoicePreviewRequestSerializer,
    VoiceSerializer,
    VoiceSettingsEnvelopeSerializer,
    VoiceSettingsSerializer,
    wrapped,
)
from characters.api.timings import SpeechIncludeQuerySerializer, timings_included
from characters.models import ReferenceImage
from characters.selectors import person_get_by_ulid
from characters.services.characters import (
    PROFILE_OBJECTS,
    character_create,
    character_delete,
    character_duplicate,
    character_get,
    character_list,
    character_set_default,
    character_update,
    face_consistency_tier,
    reference_image_add,
    reference_photos_fetch,
)
from characters.services.lora import (
    TrainingRequest,
    lora_delete,
    lora_images_add,
    lora_state,
    lora_train,
)
from characters.services.media import (
    MOTION_TRANSFER,
    SPEECH,
    TALKING_HEAD,
    motion_transfer_start,
    speech_start,
    talking_head_start,
)
from characters.services.photos import photo_from_bytes
from characters.services.voice_clones import samples_fetch, voice_clone_pending, voice_clone_start
from characters.services.voices import built_in_voice, person_voice_settings_update, voice_catalog, voice_preview
from media_jobs.selectors import job_get, job_list
from persona_platform.api.dialects.base import Location, PagedListMixin, list_schema
from persona_platform.api.dialects.influgen import InflugenView
from persona_platform.api.pagination import paginated_serializer
from persona_platform.api.parsers import BoundedJSONParser
from persona_platform.api.schema import error_responses
from persona_platform.errors import InvalidInput
from persona_platform.media import upload_read

CharacterPage = paginated_serializer("CharacterPage", "characters", CharacterSerializer)
SpeechGenerationEnvelope = wrapped("SpeechGenerationEnvelope", "generation", SpeechGenerationSerializer)
SpeechGenerationPage = paginated_serializer("SpeechGenerationPage", "generations", SpeechGenerationSerializer)
MULTIPART = [BoundedJSONParser, MultiPartParser]
# Where a 201 that answers in the character envelope points: the character itself.
CHARACTER_LOCATION = Location("influgen-characters:character-detail", {"character_id": "character.id"})


def _uploads(request, fields: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """(field, bytes) of every file sent under any of `fields`."""
    return [
        (field, upload_read(upload, field=field, max_bytes=settings.MAX_MEDIA_BYTES))
        for field in fields
        for upload in request.FILES.getlist(field)
    ]


class CharacterView(InflugenView):
    """A route under one character: `char_<ulid>` of the caller's workspace, else 404."""

    def character(self, character_id: str):
        return person_get_by_ulid(workspace=self.request.auth.workspace, ulid=character_id)

    def character_envelope(self, person, *, status_code: int = status.HTTP_200_OK) -> Response:
        person = character_get(workspace=self.request.auth.workspace, ulid=person.ulid)
        return Response({"character": CharacterSerializer(person, context=self.ctx).data}, status=status_code)


@list_schema("List characters", CharacterPage)
class CharacterListView(PagedListMixin, CharacterView):
    created_location = CHARACTER_LOCATION

    def rows(self, query):
        """Your workspace's characters, newest first, with `page` and `limit`."""
        return character_list(workspace=self.request.auth.workspace)

    @extend_schema(
        summary="Create a character",
        request=CharacterCreateSerializer,
        responses={201: CharacterEnvelopeSerializer, **error_responses(403)},
    )
    def post(self, request):
        """A character with its profile. `reference_images` URLs are fetched now (public http(s) only,
        at most 10 MB each); each must be an image showing one face, and the first becomes the photo."""
        data = self.validated(CharacterCreateSerializer, request.data)
        images = reference_photos_fetch(urls=data["reference_images"])
        person = character_create(
            workspace=request.auth.workspace,
            owner=request.user,
            name=data["name"],
            niche=data["niche"],
            profile={name: data[name] for name in PROFILE_OBJECTS},
            talking_head_enabled=data["talking_head_enabled"],
            reference_images=images,
        )
        return self.character_envelope(person, status_code=status.HTTP_201_CREATED)


class CharacterDetailView(CharacterView):
    @extend_schema(summary="Get a character", responses={200: CharacterEnvelopeSerializer})
    def get(self, request, character_id: str):
        """One character."""
        return self.character_envelope(self.character(character_id))

    @extend_schema(
        summary="Update a character",
        request=CharacterUpdateSerializer,
        responses={200: CharacterEnvelopeSerializer, **error_responses(403)},
    )
    def patch(self, request, character_id: str):
        """Change the fields sent. Nested objects (`appearance`, `identity`, `personality`, `style`,
        `settings`) merge key by key: a key sent replaces its value, `null` removes it."""
        person = self.character(character_id)
        data = self.validated(CharacterUpdateSerializer, request.data)
        person = character_update(
            person=person,
            **{key: data[key] for key in ("name", "niche", "talking_head_enabled") if key in data},
            profile={name: data[name] for name in PROFILE_OBJECTS if name in data},
        )
        return self.character_envelope(person)

    @extend_schema(summary="Delete a character", responses={204: None, **error_responses(403, 503)})
    def delete(self, request, character_id: str):
        """Delete the character and its likeness: photo and reference images (the files too), face embedding,
        LoRA (its weights at the provider too; a training in progress is canceled and refunded) and voice
        clones (at the provider too). Its generated videos and audio stay. The demo character cannot be deleted
        (403). A provider that fails to delete is a 503 and nothing is deleted: try again."""
        character_delete(person=self.character(character_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CharacterDefaultView(CharacterView):
    @extend_schema(
        summary="Make a character the default",
        request=None,
        responses={200: CharacterEnvelopeSerializer, **error_responses(403)},
    )
    def post(self, request, character_id: str):
        """The workspace's default character: the one calls that name none act on. One at a time."""
        return self.character_envelope(character_set_default(person=self.character(character_id)))


class CharacterDuplicateView(CharacterView):
    created_location = CHARACTER_LOCATION

    @extend_schema(
        summary="Duplicate a character",
        request=None,
        responses={201: CharacterEnvelopeSerializer, **error_responses(403)},
    )
    def post(self, request, character_id: str):
        """A copy named "<name> (copy)" with the photo, reference images, profile, voice and voice
        settings; not the original's videos, voice clones or LoRA."""
        copy = character_duplicate(person=self.character(character_id), owner=request.user)
        return self.character_envelope(copy, status_code=status.HTTP_201_CREATED)


class ReferenceImageView(CharacterView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    # A reference image has no route of its own: the character lists its reference images.
    created_location = CHARACTER_LOCATION
    parser_classes = [MultiPartParser]
    FIELDS = ("file", "image", "reference_image")

    @extend_schema(
        summary="Upload a reference image",
        request={"multipart/form-data": ReferenceImageUploadSerializer},
        responses={201: ReferenceImageEnvelopeSerializer, **error_responses(403)},
    )
    def post(self, request, character_id: str):
        """The image under `file`, `image` or `reference_image`, with `type` (`primary`, `face`, `profile`,
        `full_body`, `expression`, `other`). It must show the character's one face; it refreshes the stored
        face embedding, and a `primary` image becomes the character's photo."""
        person = self.character(character_id)
        uploads = _uploads(request, self.FIELDS)
        if len(uploads) != 1:
            raise InvalidInput("file: send exactly one image, under file, image or reference_image.")
        image_type = request.data.get("type") or ReferenceImage.Type.OTHER
        if image_type not in ReferenceImage.Type.values:
            raise InvalidInput(f"type: must be one of {', '.join(ReferenceImage.Type.values)}.")
        field, content = uploads[0]
        reference = reference_image_add(
            person=person, photo=photo_from_bytes(content, field=field), image_type=image_type
        )
        person = character_get(workspace=request.auth.workspace, ulid=person.ulid)
        body = {
            "reference_image": ReferenceImageSerializer(reference, context=self.ctx).data,
            "character": CharacterSerializer(person, context=self.ctx).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class LoraView(CharacterView):
    def lora_body(self, person) -> dict:
        return LoraSerializer(lora_state(person=person), context=self.ctx).data

    @extend_schema(summary="Get a character's LoRA", responses={200: LoraEnvelopeSerializer})
    def get(self, request, character_id: str):
        """The LoRA identity model: its status, parameters, and the weights once ready."""
        return Response({"lora": self.lora_body(self.character(character_id))})

    @extend_schema(summary="Delete a character's LoRA", responses={204: None, **error_responses(403)})
    def delete(self, request, character_id: str):
        """Forget the LoRA (a training in progress is canceled and its credits refunded). The training
        images stay, to train again."""
        lora_delete(person=self.character(character_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoraStatusView(CharacterView):
    @extend_schema(summary="Get a LoRA's training status", responses={200: LoraStatusSerializer})
    def get(self, request, character_id: str):
        """A light answer to poll while training: status, progress, the face tier, any error."""
        person = self.character(character_id)
        lora = LoraSerializer(lora_state(person=person), context=self.ctx).data
        return Response(
            {
                "status": lora["status"],
                "progress": lora["progress"],
                "face_consistency_tier": face_consistency_tier(person),
                "error": lora["error"],
            }
        )


class LoraImagesView(CharacterView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    created_location = Location("influgen-characters:lora-images", {"character_id": "path:character_id"})
    parser_classes = [MultiPartParser]
    FIELDS = ("images", "file", "image")

    def images_body(self, person) -> dict:
        images = list(person.lora_training_images.all())
        return LoraImagesSerializer({"images": images, "count": len(images)}, context=self.ctx).data

    @extend_schema(summary="List LoRA training images", responses={200: LoraImagesSerializer})
    def get(self, request, character_id: str):
        """The images a LoRA will train on (10 to 30 are needed)."""
        return Response(self.images_body(self.character(character_id)))

    @extend_schema(
        summary="Upload LoRA training images",
        request={"multipart/form-data": LoraImagesUploadSerializer},
        responses={201: LoraImagesSerializer, **error_responses(403)},
    )
    def post(self, request, character_id: str):
        """One or more images (`images`, `file` or `image`), each showing the character's one face.
        Pro or Agency plan. All are checked before any is kept."""
        person = self.character(character_id)
        uploads = _uploads(request, self.FIELDS)
        if not uploads:
            raise InvalidInput("images: send at least one image, under images, file or image.")
        photos = [
            photo_from_bytes(content, field=f"{field}[{index}]") for index, (field, content) in enumerate(uploads)
        ]
        lora_images_add(person=person, photos=photos)
        return Response(self.images_body(person), status=status.HTTP_201_CREATED)


class LoraTrainView(CharacterView):
    created_location = Location("influgen-characters:lora-status", {"character_id": "path:character_id"})

    @extend_schema(
        summary="Train a LoRA",
        request=LoraTrainSerializer,
        responses={
            202: LoraEnvelopeSerializer,
            **error_responses(402, 403, 409, 503),
        },
    )
    def post(self, request, character_id: str):
        """Train the character's face into a LoRA for `fal-ai/flux-lora` from its 10 to 30 training images:
        Pro or Agency plan, 1000–1500 steps, rank 16–32, 500 credits taken now and refunded if training
        fails. A ready LoRA moves `face_consistency_tier` to `lora`."""
        person = self.character(character_id)
        data = self.validated(LoraTrainSerializer, request.data)
        lora = lora_train(person=person, request=TrainingRequest(**data), user=request.user)
        return Response({"lora": LoraSerializer(lora, context=self.ctx).data}, status=status.HTTP_202_ACCEPTED)


class VoiceListView(InflugenView):
    @extend_schema(summary="List voices", responses={200: VoiceListSerializer})
    def get(self, request):
        """The local voice and the workspace's voice clones, as `{"voices": [...]}`."""
        voices = voice_catalog(workspace=request.auth.workspace)
        return Response({"voices": VoiceSerializer(voices, many=True).data})


class CharacterVoiceView(CharacterView):
    @extend_schema(summary="Get a character's voice", responses={200: CharacterVoiceStateSerializer})
    def get(self, request, character_id: str):
        """The voice the character speaks with (the local voice when it has none) and its settings. While a
        voice clone is in progress, `voice_clone` shows its status and job; once it is ready, `voice` is the
        new voice and `voice_clone` is null."""
        person = self.character(character_id)
        voice = person.voice or built_in_voice()
        job = voice_clone_pending(person=person)
        clone = None
        if job is not None:
            exists = person.voice_clones.filter(pk=job.params.get("voice_id")).exists()
            clone = VoiceCloneProgressSerializer(job, context={"voice_exists": exists}).data
        return Response({"voice": VoiceSerializer(voice).data, "settings": person.voice_settings, "voice_clone": clone})


class VoiceSettingsView(CharacterView):
    @extend_schema(summary="Get voice settings", responses={200: VoiceSettingsEnvelopeSerializer})
    def get(self, request, character_id: str):
        """How the character's voice is used: stability, similarity_boost, style, use_speaker_boost
        (provider voices), speed (0.5–2) and pitch (semitones, -12–12) for every voice."""
        return Response({"settings": self.character(character_id).voice_settings})

    @extend_schema(
        summary="Set voice settings",
        request=VoiceSettingsSerializer,
        responses={200: VoiceSettingsEnvelopeSerializer, **error_responses(403)},
    )
    def put(self, request, character_id: str):
        """Set the settings sent; the others keep their values."""
        person = self.character(character_id)
        data = self.validated(VoiceSettingsSerializer, request.data)
        return Response({"settings": person_voice_settings_update(person=person, changes=data)})


class VoiceCloneView(CharacterView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    # The character's voice shows the clone's status and job until it is ready.
    created_location = Location("influgen-characters:voice", {"character_id": "path:character_id"})
    parser_classes = MULTIPART
    FIELDS = ("sample", "samples")

    @extend_schema(
        summary="Clone a voice for a character",
        request={"application/json": VoiceCloneUrlsSerializer, "multipart/form-data": VoiceCloneUploadSerializer},
        responses={202: CharacterVoiceSerializer, **error_responses(403)},
    )
    def post(self, request, character_id: str):
        """A voice clone from samples: JSON `sample_urls` (public URLs, fetched now) or multipart files under
        `sample` or `samples`. The character speaks with it once it is measured (`status` becomes ready)."""
        person = self.character(character_id)
        data = self.validated(VoiceCloneRequestSerializer, request.data)
        samples = [content for _, content in _uploads(request, self.FIELDS)]
        samples += samples_fetch(urls=data.get("sample_urls", []))
        if not samples:
            raise InvalidInput("sample_urls: send sample_urls, or files under sample or samples.")
        voice, _ = voice_clone_start(
            workspace=request.auth.workspace,
            person=person,
            name=data["name"],
            samples=samples,
            description=data["description"],
            voice_settings={
                key: data[key] for key in ("stability", "similarity_boost", "style", "use_speaker_boost") if key in data
            },
            callback_url=data.get("callback_url", ""),
        )
        return Response(
            {"voice": VoiceSerializer(voice).data, "settings": person.voice_settings},
            status=status.HTTP_202_ACCEPTED,
        )


class VoicePreviewView(CharacterView):
    @extend_schema(
        summary="Preview a character's voice",
        request=VoicePreviewRequestSerializer,
        responses={
            (200, "audio/wav"): OpenApiResponse(description="A few seconds of WAV audio."),
        },
    )
    def post(self, request, character_id: str):
        """A short line (at most 200 characters) spoken now in the character's voice and settings, as WAV."""
        person = self.character(character_id)
        data = self.validated(VoicePreviewRequestSerializer, request.data)
        audio, duration = voice_preview(person=person, text=data.get("text"))
        response = HttpResponse(audio, content_type="audio/wav")
        response["X-Audio-Duration"] = f"{duration:.3f}"
        return response


class VoiceGenerateView(CharacterView):
    created_location = Location(
        "influgen-characters:voice-generation-detail",
        {"character_id": "path:character_id", "generation_id": "generation.id"},
    )

    @extend_schema(
        summary="Generate speech in a character's voice",
        request=VoiceGenerateRequestSerializer,
        responses={
            202: OpenApiResponse(description='`{"generation": {...}}`: a speech job.'),
        },
    )
    def post(self, request, character_id: str):
        """A speech job: poll `GET /api/v1/characters/{id}/voice/generations/{generationId}` or pass `callback_url`."""
        person = self.character(character_id)
        job = speech_start(person=person, **self.validated(VoiceGenerateRequestSerializer, request.data))
        body = {"generation": SpeechGenerationSerializer(job, context=self.ctx).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class CharacterJobListView(PagedListMixin, CharacterView):
    """A character's jobs of one kind (`kind`), newest first, in the page that `list_schema` gives it."""

    kind: str
    list_query = InflugenJobListQuerySerializer

    def rows(self, query, character_id: str):
        statuses = [query["status"]] if "status" in query else None
        jobs = job_list(workspace=self.request.auth.workspace, kind=self.kind, statuses=statuses)
        return jobs.filter(person=self.character(character_id)).select_related("person")


class CharacterJobDetailView(CharacterView):
    """One job of a character, named by the path's `id_kwarg`, in the envelope `job_route_schema` gives it."""

    kind: str
    envelope: type  # a `wrapped(...)` serializer
    id_kwarg: str

    def get(self, request, character_id: str, **path):
        person = self.character(character_id)
        job = job_get(workspace=request.auth.workspace, kind=self.kind, job_id=path[self.id_kwarg], person_id=person.pk)
        return Response({self.envelope.noun: self.envelope.item(job, context=self.ctx).data})


def job_route_schema(summary: str, envelope: type):
    """Makes `envelope` a job detail view's answer and documents its GET with the view's docstring."""

    def document(view: type) -> type:
        view.envelope = envelope
        get = extend_schema(summary=summary, description=view.__doc__, responses={200: envelope})
        return extend_schema_view(get=get)(view)

    return document


@list_schema("List a character's voice generations", SpeechGenerationPage)
class VoiceGenerationListView(CharacterJobListView):
    """Speech generated in the character's voice, newest first."""

    kind = SPEECH


@job_route_schema("Get a voice generation", SpeechGenerationEnvelope)
class VoiceGenerationDetailView(CharacterJobDetailView):
    """One voice generation: its status, and `audio_url` once ready. With `?include=timings`, also
    `timings` (an extension): each phoneme with its start and end in seconds."""

    kind, id_kwarg = SPEECH, "generation_id"

    @extend_schema(parameters=[SpeechIncludeQuerySerializer])
    def get(self, request, character_id: str, **path):
        include = timings_included(self.query(SpeechIncludeQuerySerializer))
        person = self.character(character_id)
        job = job_get(workspace=request.auth.workspace, kind=self.kind, job_id=path[self.id_kwarg], person_id=person.pk)
        return Response({self.envelope.noun: self.envelope.item(job, context={**self.ctx, **include}).data})


GenerationEnvelope = wrapped("TalkingHeadGenerationEnvelope", "generation", TalkingHeadGenerationSerializer)
MotionTransferEnvelope = wrapped("MotionTransferEnvelope", "job", MotionTransferSerializer)
GenerationPage = paginated_serializer("TalkingHeadGenerationPage", "generations", TalkingHeadGenerationSerializer)
MotionTransferPage = paginated_serializer("MotionTransferPage", "motion_transfers", MotionTransferSerializer)


class TalkingHeadStartView(CharacterView):
    preview = False
    created_location = Location("influgen-talking-head-detail", {"generation_id": "generation.id"})
    request_serializer = TalkingHeadRequestSerializer

    def post(self, request, character_id: str):
        person = self.character(character_id)
        job = talking_head_start(
            person=person, preview=self.preview, **self.validated(self.request_serializer, request.data)
        )
        body = {"generation": TalkingHeadGenerationSerializer(job, context=self.ctx).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TalkingHeadPreviewView(TalkingHeadStartView):
    preview = True
    request_serializer = TalkingHeadPreviewRequestSerializer

    @extend_schema(
        summary="Preview a talking head",
        request=TalkingHeadPreviewRequestSerializer,
        responses={202: GenerationEnvelope},
    )
    def post(self, request, character_id: str):
        """A short script (up to 300 characters) spoken by the character's photo, rendered small
        (256 px) and fast, to check a look and a voice before a full render."""
        return super().post(request, character_id)


class TalkingHeadGenerateView(TalkingHeadStartView):
    @extend_schema(
        summary="Generate a talking head",
        request=TalkingHeadRequestSerializer,
        responses={202: GenerationEnvelope},
    )
    def post(self, request, character_id: str):
        """The script spoken in the character's voice by its photo, lip-synced, as an H.264/AAC MP4
        at 25 fps and the photo's full size. Poll `GET /api/v1/talking-head/{id}` or pass `callback_url`."""
        return super().post(request, character_id)


@list_schema("List a character's talking heads", GenerationPage)
class TalkingHeadGenerationListView(CharacterJobListView):
    """The character's talking-head generations (previews and full renders), newest first."""

    kind = TALKING_HEAD


class TalkingHeadGenerationDetailView(InflugenView):
    @extend_schema(summary="Get a talking head", responses={200: GenerationEnvelope})
    def get(self, request, generation_id: int):
        """One generation: its status and progress, and `video_url` once ready."""
        job = job_get(workspace=request.auth.workspace, kind=TALKING_HEAD, job_id=generation_id)
        return Response({"generation": TalkingHeadGenerationSerializer(job, context=self.ctx).data})


class MotionTransferStartView(CharacterView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    created_location = Location(
        "influgen-characters:motion-transfer-detail", {"character_id": "path:character_id", "job_id": "job.id"}
    )
    parser_classes = [BoundedJSONParser, MultiPartParser]

    @extend_schema(
        summary="Start a motion transfer",
        request={
            "application/json": MotionTransferRequestSerializer,
            "multipart/form-data": MotionTransferRequestSerializer,
        },
        responses={202: MotionTransferEnvelope},
    )
    def post(self, request, character_id: str):
        """The character's photo moved by a driving video: its mouth, eyes and head follow the face in
        the video, with the video's sound. Send `video` as a multipart file or as base64 in JSON."""
        person = self.character(character_id)
        job = motion_transfer_start(person=person, **self.validated(MotionTransferRequestSerializer, request.data))
        return Response({"job": MotionTransferSerializer(job, context=self.ctx).data}, status=status.HTTP_202_ACCEPTED)


@list_schema("List a character's motion transfers", MotionTransferPage)
class MotionTransferListView(CharacterJobListView):
    """The character's motion transfers, newest first."""

    kind = MOTION_TRANSFER


@job_route_schema("Get a motion transfer", MotionTransferEnvelope)
class MotionTransferDetailView(CharacterJobDetailView):
    """One motion transfer of the character: status, progress, and `video_url` once ready."""

    kind, id_kwarg = MOTION_TRANSFER, "job_id"
