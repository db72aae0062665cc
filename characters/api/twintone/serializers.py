"""TwinTone persona shapes (seed: "Personas"). Ids are strings; `voice_settings` is pitch and speed."""

from django.conf import settings
from rest_framework import serializers

from characters.api.timings import PhonemeTimingsField, without_timings_unless_included
from persona_platform.api.fields import (
    AbsoluteFileUrlField,
    MediaUploadField,
    StrictCharField,
    StrictFloatField,
    UtcDateTimeField,
)
from persona_platform.api.pagination import PageQuerySerializer, paginated_serializer


class TwinToneNamedSerializer(serializers.Serializer):
    """What persona and replica answers both begin with: the string id and the name."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)


class TwinToneVoiceSettingsSerializer(serializers.Serializer):
    pitch = StrictFloatField(
        required=False, min_value=-12, max_value=12, help_text="Pitch shift in semitones; 0 keeps the voice's own."
    )
    speed = StrictFloatField(
        required=False, min_value=0.5, max_value=2.0, help_text="Speaking rate; 1.0 keeps the voice's own pace."
    )


class TwinToneVoiceSettingsOutputSerializer(serializers.Serializer):
    pitch = serializers.FloatField(read_only=True)
    speed = serializers.FloatField(read_only=True)


class TwinTonePersonaFieldsSerializer(TwinToneNamedSerializer):
    """The fields every persona answer begins with."""

    description = serializers.CharField(read_only=True)


class TwinTonePersonaSummarySerializer(TwinTonePersonaFieldsSerializer):
    """A list item and the create response."""

    created_at = UtcDateTimeField()


class TwinTonePersonaSerializer(TwinTonePersonaFieldsSerializer):
    """GET /personas/:id."""

    voice_settings = TwinToneVoiceSettingsOutputSerializer(source="*", read_only=True)
    created_at = UtcDateTimeField()


class TwinTonePersonaUpdatedSerializer(TwinTonePersonaSerializer):
    """PATCH /personas/:id answers with updated_at instead of created_at."""

    created_at = None
    updated_at = UtcDateTimeField()


class TwinTonePersonaCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    voice_settings = TwinToneVoiceSettingsSerializer(required=False)
    replica_id = StrictCharField(
        required=False, help_text="Speak with this replica's voice (an extension: not in TwinTone's document)."
    )


class TwinTonePersonaUpdateSerializer(serializers.Serializer):
    name = StrictCharField(required=False, max_length=200)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000)
    voice_settings = TwinToneVoiceSettingsSerializer(required=False)


class TwinToneReplicaSerializer(TwinToneNamedSerializer):
    """A replica (list items, create and GET): the persona whose face videos animate."""

    status = serializers.SerializerMethodField(
        help_text="`ready` when the replica has a portrait videos can animate, `needs_photo` when not."
    )
    photo_url = AbsoluteFileUrlField(source="photo")
    created_at = UtcDateTimeField()

    def get_status(self, person) -> str:
        return "ready" if person.photo else "needs_photo"


class TwinToneReplicaUpdatedSerializer(TwinToneReplicaSerializer):
    """PATCH /replicas/:id answers with updated_at instead of created_at, as PATCH /videos does."""

    created_at = None
    updated_at = UtcDateTimeField()


class TwinToneReplicaCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    photo = MediaUploadField(required=False, help_text="A portrait showing one face: JPEG, PNG or WebP, up to 10 MB.")
    training_video = MediaUploadField(
        required=False,
        help_text="Instead of a photo: a short video of the person facing the camera (up to 2 minutes); "
        "its clearest frame with one face becomes the portrait.",
    )

    schema_one_of = ("photo", "training_video")

    def validate(self, data):
        if ("photo" in data) == ("training_video" in data):
            raise serializers.ValidationError("Send either photo or training_video.")
        return data


class TwinToneReplicaRenameSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)


STATUS_WORDS = ["processing", "ready", "failed"]


class TwinToneJobSerializer(serializers.Serializer):
    """Shared by speech and videos: `url` only when ready, `error` only when failed.

    Subclasses declare `status` (and `error`) as `serializers.SerializerMethodField()` where the seed puts them.
    """

    # The seed: `url` "Present only if status is ready", `error` "Present only if status is failed".
    schema_optional_fields = ("url", "error")

    def get_status(self, job) -> str:
        return self.context["view"].dialect.job_status_word(job.status)

    def get_error(self, job) -> str:
        return job.error or "Canceled."

    def to_representation(self, job):
        data = super().to_representation(job)
        if "url" in data and data["status"] != "ready":
            del data["url"]
        if "error" in data and data["status"] != "failed":
            del data["error"]
        return data


class TwinToneSpeechSerializer(TwinToneJobSerializer):
    """GET /speech/:id and the items of GET /speech."""

    schema_optional_fields = ("url", "error", "timings")

    id = serializers.CharField(source="pk", read_only=True)
    text = serializers.CharField(source="params.text", read_only=True)
    status = serializers.SerializerMethodField()
    url = AbsoluteFileUrlField(source="result_file", required=False, help_text="Present only when status is ready.")
    created_at = UtcDateTimeField()
    error = serializers.SerializerMethodField(help_text="Present only when status is failed.")
    timings = PhonemeTimingsField()

    def to_representation(self, job):
        return without_timings_unless_included(super().to_representation(job), self.context)


class TwinToneJobCreatedSerializer(TwinToneJobSerializer):
    """What POST /speech and POST /videos answer."""

    id = serializers.CharField(source="pk", read_only=True)
    status = serializers.SerializerMethodField()
    created_at = UtcDateTimeField()


class TwinToneJobRenamedSerializer(TwinToneJobSerializer):
    """What PATCH /speech/:id and PATCH /videos/:id answer."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.SerializerMethodField()
    updated_at = UtcDateTimeField()


class TwinToneSpeechCreateSerializer(serializers.Serializer):
    text = StrictCharField(max_length=5000, help_text="What to say, up to 5,000 characters.")
    persona_id = StrictCharField(help_text="The persona whose voice and settings to use.")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    format = serializers.ChoiceField(
        source="audio_format",
        choices=["wav", "mp3"],
        default="wav",
        help_text="Audio format (an extension: TwinTone does not document one).",
    )
    callback_url = serializers.URLField(
        required=False, max_length=2000, help_text="Receives a signed POST (Standard Webhooks) when the job ends."
    )


class TwinToneJobRenameSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)


class TwinToneJobListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=STATUS_WORDS, required=False)


class TwinToneVideoSerializer(TwinToneJobSerializer):
    """GET /videos/:id and the items of GET /videos."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.SerializerMethodField()
    url = AbsoluteFileUrlField(source="result_file", required=False, help_text="Present only when status is ready.")
    created_at = UtcDateTimeField()
    error = serializers.SerializerMethodField(help_text="Present only when status is failed.")


class TwinToneVideoCreateSerializer(serializers.Serializer):
    replica_id = StrictCharField(help_text="The replica whose face speaks, in its voice.")
    script = StrictCharField(max_length=settings.MAX_SCRIPT_CHARS, help_text="What the replica says.")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    callback_url = serializers.URLField(
        required=False, max_length=2000, help_text="Receives a signed POST (Standard Webhooks) when the job ends."
    )


TwinTonePersonaPageSerializer = paginated_serializer(
    "TwinTonePersonaPageSerializer", "personas", TwinTonePersonaSummarySerializer
)
TwinToneReplicaPageSerializer = paginated_serializer(
    "TwinToneReplicaPageSerializer", "replicas", TwinToneReplicaSerializer
)
TwinToneSpeechPageSerializer = paginated_serializer("TwinToneSpeechPageSerializer", "speech", TwinToneSpeechSerializer)
TwinToneVideoPageSerializer = paginated_serializer("TwinToneVideoPageSerializer", "videos", TwinToneVideoSerializer)
