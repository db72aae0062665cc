"""TwinTone persona shapes (seed: "Personas"). Ids are strings; `voice_settings` is pitch and speed."""

from rest_framework import serializers

from persona_platform.api.fields import AbsoluteFileUrlField, MediaUploadField, StrictCharField, UtcDateTimeField


class TwinToneVoiceSettingsSerializer(serializers.Serializer):
    pitch = serializers.FloatField(
        required=False, min_value=-12, max_value=12, help_text="Pitch shift in semitones; 0 keeps the voice's own."
    )
    speed = serializers.FloatField(
        required=False, min_value=0.5, max_value=2.0, help_text="Speaking rate; 1.0 keeps the voice's own pace."
    )


class TwinToneVoiceSettingsOutputSerializer(serializers.Serializer):
    pitch = serializers.FloatField(read_only=True)
    speed = serializers.FloatField(read_only=True)


class TwinTonePersonaSummarySerializer(serializers.Serializer):
    """A list item and the create response."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    created_at = UtcDateTimeField()


class TwinTonePersonaSerializer(serializers.Serializer):
    """GET /personas/:id."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    voice_settings = TwinToneVoiceSettingsOutputSerializer(source="*", read_only=True)
    created_at = UtcDateTimeField()


class TwinTonePersonaUpdatedSerializer(serializers.Serializer):
    """PATCH /personas/:id answers with updated_at instead of created_at."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    voice_settings = TwinToneVoiceSettingsOutputSerializer(source="*", read_only=True)
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


class TwinToneReplicaSerializer(serializers.Serializer):
    """A replica (list items, create and GET): the persona whose face videos animate."""

    id = serializers.CharField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
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

    def validate(self, data):
        if ("photo" in data) == ("training_video" in data):
            raise serializers.ValidationError("Send either photo or training_video.")
        return data


class TwinToneReplicaRenameSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
