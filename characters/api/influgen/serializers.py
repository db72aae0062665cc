"""influgen Characters shapes (seed: influgen-characters). Single objects are wrapped in their noun."""

import json

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from characters.api.timings import PhonemeTimingsField, without_timings_unless_included
from characters.models import LoraModel, ReferenceImage
from characters.services.characters import PROFILE_OBJECT_MAX_BYTES, face_consistency_tier
from characters.services.lora import BASE_MODELS, MAX_IMAGES, MIN_IMAGES, RANK_RANGE, STEPS_RANGE
from characters.services.media import PREVIEW_SCRIPT_CHARS
from characters.services.voices import VOICE_SETTING_RANGES, clone_likeness
from persona_platform.api.dialects import VENDOR_JOB_STATUS_WORDS
from persona_platform.api.fields import (
    AbsoluteFileUrlField,
    MediaUploadField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    UtcDateTimeField,
    no_nul_in_json,
)
from persona_platform.api.pagination import PageQuerySerializer

VOICE_STATUSES = ["ready", "processing"]
VOICE_CATEGORIES = ["premade", "cloned"]
LORA_STATUSES = LoraModel.Status.values


class OptionalBooleanField(StrictBooleanField):
    """A boolean a multipart form may leave out: absent stays absent (DRF would read it as false)."""

    default_empty_html = serializers.empty


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "Any JSON object, at most 10 kB, with no NUL in its text.",
    }
)
class ProfileObjectField(serializers.JSONField):
    """A nested profile object (`appearance`, `identity`, ...): any JSON object, at most 10 kB."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if len(json.dumps(data)) > PROFILE_OBJECT_MAX_BYTES:
            raise serializers.ValidationError(f"Must be at most {PROFILE_OBJECT_MAX_BYTES // 1000} kB of JSON.")
        no_nul_in_json(data)
        return super().to_internal_value(data)


class CharacterSerializer(serializers.Serializer):
    id = serializers.CharField(source="character_id", read_only=True)
    name = serializers.CharField(read_only=True)
    niche = serializers.CharField(read_only=True)
    reference_images = serializers.SerializerMethodField(
        help_text="The reference images: the URL each was fetched from, else where it is stored."
    )
    autopilot = serializers.SerializerMethodField()
    face_consistency_tier = serializers.SerializerMethodField(
        help_text="`lora` once a LoRA is ready, `ip_adapter` with reference images or a photo, else `none`."
    )
    lora_training_status = serializers.SerializerMethodField()
    content_count = serializers.IntegerField(read_only=True, default=0, help_text="Ready videos of the character.")
    last_post_date = UtcDateTimeField(default=None, allow_null=True, help_text="When its latest video was ready.")
    follower_count = serializers.IntegerField(read_only=True)
    is_default = serializers.BooleanField(read_only=True)
    appearance = serializers.JSONField(read_only=True)
    identity = serializers.JSONField(read_only=True)
    personality = serializers.JSONField(read_only=True)
    style = serializers.JSONField(read_only=True)
    settings = serializers.JSONField(read_only=True)
    talking_head_enabled = serializers.BooleanField(read_only=True)
    photo_url = AbsoluteFileUrlField(source="photo")
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()

    def get_reference_images(self, person) -> list[str]:
        request = self.context.get("request")
        return [
            reference.source_url or request.build_absolute_uri(reference.image.url)
            for reference in person.reference_images.all()
        ]

    def get_autopilot(self, person) -> bool:
        return bool(person.settings.get("autopilot", False))

    def get_face_consistency_tier(self, person) -> str:
        return face_consistency_tier(person)

    def get_lora_training_status(self, person) -> str:
        lora = getattr(person, "lora", None)
        return lora.status if lora is not None else LoraModel.Status.NONE


class CharacterEnvelopeSerializer(serializers.Serializer):
    character = CharacterSerializer(read_only=True)


class CharacterCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    niche = StrictCharField(required=False, allow_blank=True, max_length=100, default="")
    appearance = ProfileObjectField(required=False, default=dict)
    identity = ProfileObjectField(required=False, default=dict)
    personality = ProfileObjectField(required=False, default=dict)
    style = ProfileObjectField(required=False, default=dict)
    settings = ProfileObjectField(required=False, default=dict)
    reference_images = serializers.ListField(
        child=StrictCharField(max_length=2000),
        required=False,
        default=list,
        max_length=10,
        help_text="Up to 10 public http(s) image URLs, fetched now; each must show the character's one face.",
    )
    talking_head_enabled = StrictBooleanField(required=False, default=False)

    def validate_settings(self, value: dict) -> dict:
        if "autopilot" in value and not isinstance(value["autopilot"], bool):
            raise serializers.ValidationError("autopilot must be true or false.")
        return value


class CharacterUpdateSerializer(serializers.Serializer):
    """PATCH: fields sent change; nested objects merge key by key (a null value removes a key)."""

    name = StrictCharField(required=False, max_length=200)
    niche = StrictCharField(required=False, allow_blank=True, max_length=100)
    appearance = ProfileObjectField(required=False)
    identity = ProfileObjectField(required=False)
    personality = ProfileObjectField(required=False)
    style = ProfileObjectField(required=False)
    settings = ProfileObjectField(required=False)
    talking_head_enabled = StrictBooleanField(required=False)

    validate_settings = CharacterCreateSerializer.validate_settings


class ReferenceImageSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", read_only=True)
    url = AbsoluteFileUrlField(source="image")
    source_url = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)
    created_at = UtcDateTimeField()


class ReferenceImageEnvelopeSerializer(serializers.Serializer):
    reference_image = ReferenceImageSerializer(read_only=True)
    character = CharacterSerializer(read_only=True)


class ReferenceImageUploadSerializer(serializers.Serializer):
    """Schema of the multipart form: exactly one image, under `file` (`image` and `reference_image` are
    accepted as other names for it)."""

    file = serializers.ImageField(help_text="JPEG, PNG or WebP showing the character's one face; at most 10 MB.")
    type = serializers.ChoiceField(choices=ReferenceImage.Type.values, default=ReferenceImage.Type.OTHER)


class LoraSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=LORA_STATUSES, read_only=True)
    base_model = serializers.CharField(read_only=True)
    training_steps = serializers.IntegerField(read_only=True, allow_null=True)
    lora_rank = serializers.IntegerField(read_only=True, allow_null=True)
    trigger_word = serializers.CharField(read_only=True)
    weights_url = serializers.CharField(read_only=True, help_text="The trained LoRA file, once ready.")
    config_url = serializers.CharField(read_only=True)
    credits_charged = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField()
    error = serializers.CharField(read_only=True)
    training_images = serializers.SerializerMethodField()
    started_at = UtcDateTimeField(allow_null=True)
    completed_at = UtcDateTimeField(source="finished_at", allow_null=True)

    def get_progress(self, lora) -> int:
        if lora.status == LoraModel.Status.READY:
            return 100
        return lora.job.progress if lora.job_id and lora.job else 0

    def get_training_images(self, lora) -> int:
        return lora.person.lora_training_images.count()


class LoraEnvelopeSerializer(serializers.Serializer):
    lora = LoraSerializer(read_only=True)


class LoraStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=LORA_STATUSES, read_only=True)
    progress = serializers.IntegerField(read_only=True)
    face_consistency_tier = serializers.CharField(read_only=True)
    error = serializers.CharField(read_only=True)


class LoraTrainingImageSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", read_only=True)
    url = AbsoluteFileUrlField(source="image")
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)
    created_at = UtcDateTimeField()


class LoraImagesSerializer(serializers.Serializer):
    images = LoraTrainingImageSerializer(many=True, read_only=True)
    count = serializers.IntegerField(read_only=True)
    min_images = serializers.IntegerField(read_only=True, default=MIN_IMAGES)
    max_images = serializers.IntegerField(read_only=True, default=MAX_IMAGES)


class LoraImagesUploadSerializer(serializers.Serializer):
    """Schema of the multipart form: one or more images under `images` (`file` and `image` are accepted as
    other names for it)."""

    images = serializers.ListField(
        child=serializers.ImageField(),
        min_length=1,
        max_length=MAX_IMAGES,
        help_text=f"Each showing the character's one face; at most {MAX_IMAGES} in all, counting those kept.",
    )


class LoraTrainSerializer(serializers.Serializer):
    base_model = serializers.ChoiceField(choices=BASE_MODELS, default=BASE_MODELS[0])
    training_steps = serializers.IntegerField(min_value=STEPS_RANGE[0], max_value=STEPS_RANGE[1], default=1200)
    lora_rank = serializers.IntegerField(min_value=RANK_RANGE[0], max_value=RANK_RANGE[1], default=16)
    trigger_word = StrictCharField(
        required=False,
        max_length=64,
        help_text="The word prompts use to call the face; one is made up when absent.",
    )


class VoiceSettingsSerializer(serializers.Serializer):
    stability = StrictFloatField(required=False, min_value=0, max_value=1)
    similarity_boost = StrictFloatField(required=False, min_value=0, max_value=1)
    style = StrictFloatField(required=False, min_value=0, max_value=1)
    use_speaker_boost = StrictBooleanField(required=False)
    speed = StrictFloatField(
        required=False, min_value=VOICE_SETTING_RANGES["speed"][0], max_value=VOICE_SETTING_RANGES["speed"][1]
    )
    pitch = StrictFloatField(
        required=False, min_value=VOICE_SETTING_RANGES["pitch"][0], max_value=VOICE_SETTING_RANGES["pitch"][1]
    )


class VoiceSettingsEnvelopeSerializer(serializers.Serializer):
    settings = VoiceSettingsSerializer(read_only=True)


class VoiceSerializer(serializers.Serializer):
    """A voice a character can speak with: the built-in local voice or one of the workspace's clones."""

    id = serializers.SerializerMethodField()
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    provider = serializers.CharField(read_only=True)
    category = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField(help_text="A clone is `processing` until it is measured.")
    character_id = serializers.SerializerMethodField()
    settings = serializers.JSONField(read_only=True)
    created_at = UtcDateTimeField(allow_null=True)
    similarity = serializers.SerializerMethodField(
        help_text="A local clone's measured speaker similarity to its samples, 0-1 (an extension); null otherwise."
    )
    pitch_shift_semitones = serializers.SerializerMethodField(
        help_text="The pitch shift a local clone applies to the built-in voice (an extension); null otherwise."
    )
    likeness = serializers.SerializerMethodField(
        help_text="Whether a local clone sounds like its speaker (docs/VOICES.md) or only approximates it; null "
        "where nothing was measured (an extension)."
    )
    status_text = serializers.SerializerMethodField(help_text="What the voice is, in words (an extension).")

    def get_id(self, voice) -> str:
        return "local" if voice.is_built_in else str(voice.pk)

    @extend_schema_field(serializers.ChoiceField(choices=VOICE_CATEGORIES))
    def get_category(self, voice) -> str:
        return "premade" if voice.is_built_in else "cloned"

    @extend_schema_field(serializers.ChoiceField(choices=VOICE_STATUSES))
    def get_status(self, voice) -> str:
        return "ready" if voice.is_ready else "processing"

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_similarity(self, voice) -> float | None:
        return clone_likeness(voice).similarity

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_pitch_shift_semitones(self, voice) -> float | None:
        return clone_likeness(voice).pitch_shift_semitones

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_likeness(self, voice) -> bool | None:
        return clone_likeness(voice).is_likeness

    def get_status_text(self, voice) -> str:
        return clone_likeness(voice).status_text

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_character_id(self, voice) -> str | None:
        return voice.person.character_id if voice.person_id else None


class VoiceListSerializer(serializers.Serializer):
    """`GET /api/v1/voices`: the list wrapped in `voices`."""

    voices = VoiceSerializer(many=True, read_only=True)


class CharacterVoiceSerializer(serializers.Serializer):
    voice = VoiceSerializer(read_only=True)
    settings = VoiceSettingsSerializer(read_only=True)


class VoiceCloneProgressSerializer(serializers.Serializer):
    """The character's newest voice clone while it is not ready (an extension of this platform)."""

    job_id = serializers.CharField(source="pk", read_only=True, help_text="The clone job.")
    voice_id = serializers.SerializerMethodField(help_text="The voice being made; null once a failed clone is gone.")
    name = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=["queued", "processing", "failed", "canceled"],
        read_only=True,
        help_text="queued or processing until the voice is ready; failed or canceled if it never will be.",
    )
    progress = serializers.IntegerField(read_only=True, help_text="0 to 100.")
    error = serializers.SerializerMethodField(help_text="Why it failed; null otherwise.")
    created_at = UtcDateTimeField()

    def get_voice_id(self, job) -> str | None:
        voice_id = job.params.get("voice_id")
        return str(voice_id) if voice_id is not None and self.context["voice_exists"] else None

    def get_name(self, job) -> str:
        return job.name.removeprefix("Voice clone: ")

    def get_error(self, job) -> str | None:
        return job.error or None


class CharacterVoiceStateSerializer(CharacterVoiceSerializer):
    """`GET …/voice`: the voice the character speaks with now, and `voice_clone`, a clone in progress."""

    voice_clone = VoiceCloneProgressSerializer(
        read_only=True,
        allow_null=True,
        help_text="Extension: the newest voice clone (its job and status) until it is ready; then null, and "
        "`voice` is the new voice.",
    )


class VoiceCloneRequestSerializer(serializers.Serializer):
    """JSON with `sample_urls`, or multipart with files under `sample` or `samples`."""

    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")
    sample_urls = serializers.ListField(
        child=StrictCharField(max_length=2000), required=False, max_length=10, help_text="Public audio URLs."
    )
    stability = StrictFloatField(required=False, min_value=0, max_value=1)
    similarity_boost = StrictFloatField(required=False, min_value=0, max_value=1)
    style = StrictFloatField(required=False, min_value=0, max_value=1)
    use_speaker_boost = OptionalBooleanField(required=False)
    callback_url = serializers.URLField(required=False, max_length=2000)


class VoiceCloneUrlsSerializer(VoiceCloneRequestSerializer):
    """Schema of the JSON body: the samples as public URLs, fetched now."""

    sample_urls = serializers.ListField(
        child=StrictCharField(max_length=2000), min_length=1, max_length=10, help_text="Public audio URLs."
    )


class VoiceCloneUploadSerializer(VoiceCloneRequestSerializer):
    """Schema of the multipart form: the samples as files under `samples` (`sample` is accepted too)."""

    sample_urls = None
    samples = serializers.ListField(
        child=serializers.FileField(), min_length=1, help_text="Recordings of the voice (WAV, MP3, FLAC or OGG)."
    )


class VoicePreviewRequestSerializer(serializers.Serializer):
    text = StrictCharField(required=False, max_length=200, help_text="At most 200 characters; a greeting when absent.")


class VoiceGenerateRequestSerializer(serializers.Serializer):
    text = StrictCharField(max_length=5000)
    format = serializers.ChoiceField(source="audio_format", choices=["wav", "mp3"], default="wav")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    callback_url = serializers.URLField(required=False, max_length=2000)


class InflugenJobSerializer(serializers.Serializer):
    """What every influgen video job shows; `video_url` is null until the job is ready."""

    id = serializers.CharField(source="pk", read_only=True)
    character_id = serializers.SerializerMethodField()
    name = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=VENDOR_JOB_STATUS_WORDS, read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="0 to 100.")
    video_url = AbsoluteFileUrlField(source="result_file", help_text="The MP4 (H.264/AAC, 25 fps) once ready.")
    duration = serializers.FloatField(source="result.duration", default=None, read_only=True, allow_null=True)
    width = serializers.IntegerField(source="result.width", default=None, read_only=True, allow_null=True)
    height = serializers.IntegerField(source="result.height", default=None, read_only=True, allow_null=True)
    error = serializers.SerializerMethodField()
    created_at = UtcDateTimeField()
    completed_at = UtcDateTimeField(source="finished_at", allow_null=True)

    def get_character_id(self, job) -> str | None:
        return job.person.character_id if job.person_id else None

    def get_error(self, job) -> str | None:
        if job.status == "canceled":
            return job.error or "Canceled."
        return job.error if job.status == "failed" else None


class TalkingHeadGenerationSerializer(InflugenJobSerializer):
    type = serializers.SerializerMethodField(help_text="`preview` (small and fast) or `full`.")
    script = serializers.CharField(source="params.script", read_only=True)

    def get_type(self, job) -> str:
        return "preview" if job.params.get("preview") else "full"


class MotionTransferSerializer(InflugenJobSerializer):
    driving_video = serializers.JSONField(
        source="params.driving_video",
        read_only=True,
        help_text="What probing found: duration, width, height, has_audio.",
    )


class TalkingHeadRequestSerializer(serializers.Serializer):
    script = StrictCharField(max_length=settings.MAX_SCRIPT_CHARS, help_text="What the character says.")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    callback_url = serializers.URLField(
        required=False, max_length=2000, help_text="Receives a signed POST (Standard Webhooks) when the job ends."
    )


class TalkingHeadPreviewRequestSerializer(TalkingHeadRequestSerializer):
    script = StrictCharField(max_length=PREVIEW_SCRIPT_CHARS, help_text="A short line to preview.")


class MotionTransferRequestSerializer(serializers.Serializer):
    video = MediaUploadField(
        help_text="The driving video (MP4, MOV, WebM, MKV or AVI, up to 10 MB): a face whose mouth, eyes and head "
        "motion move the character's photo; its sound becomes the result's sound."
    )
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    preview = StrictBooleanField(default=False, help_text="Render small and fast.")
    callback_url = serializers.URLField(required=False, max_length=2000)


class SpeechGenerationSerializer(InflugenJobSerializer):
    """A voice generation (speech in a character's voice); `audio_url` once ready."""

    video_url = None
    width = None
    height = None
    audio_url = AbsoluteFileUrlField(source="result_file", help_text="The audio once ready.")
    text = serializers.CharField(source="params.text", read_only=True)
    format = serializers.CharField(source="params.format", read_only=True)
    timings = PhonemeTimingsField()

    schema_optional_fields = ("timings",)

    def to_representation(self, job):
        return without_timings_unless_included(super().to_representation(job), self.context)


class InflugenJobListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=VENDOR_JOB_STATUS_WORDS, required=False)


def wrapped(name: str, noun: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """`{"<noun>": {...}}`, as influgen wraps single objects: the schema's shape, and (`noun`, `item`)
    what a view answers, so that the two cannot disagree."""
    fields = {noun: item(read_only=True), "__module__": __name__}
    return type(name, (serializers.Serializer,), {**fields, "noun": noun, "item": item})
