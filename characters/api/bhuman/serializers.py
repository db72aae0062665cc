"""BHuman Persona shapes (seed: bhuman-persona-a/-b). Answers say `"status": "success"`."""

from rest_framework import serializers

from persona_platform.api.fields import (
    MediaUploadField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    no_nul_in_json,
)
from persona_platform.api.schema import BHumanSuccessSerializer


class BHumanInstanceBodySerializer(serializers.Serializer):
    """A body that may name the instance (persona) it is for."""

    instance_id = StrictCharField(
        required=False, help_text="The instance (persona) this is for; the workspace's default persona when absent."
    )


class BHumanVideoDataSerializer(serializers.Serializer):
    file = MediaUploadField(
        source="data", help_text="The video, base64 encoded (MP4, MOV, WebM, MKV or AVI, up to 10 MB)."
    )
    title = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    duration = StrictIntegerField(
        source="declared_duration", min_value=1, help_text="Seconds; checked against the video (within 1 s or 5%)."
    )
    resolution = StrictCharField(
        source="declared_resolution",
        max_length=20,
        help_text='"1080p", "720p", "4k" or "1920x1080"; checked against the video.',
    )


class BHumanVideoAddSerializer(BHumanInstanceBodySerializer):
    video_data = BHumanVideoDataSerializer()


class BHumanVideoAddedSerializer(BHumanSuccessSerializer):
    video_id = serializers.CharField(read_only=True)


class BHumanInstanceDataSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    description = StrictCharField(allow_blank=True, max_length=5000)
    configuration = serializers.DictField(
        validators=[no_nul_in_json], help_text="Configuration settings, kept with the persona."
    )


class BHumanInstanceCreateSerializer(serializers.Serializer):
    instance_data = BHumanInstanceDataSerializer()


class BHumanInstanceCreatedSerializer(BHumanSuccessSerializer):
    instance_id = serializers.CharField(read_only=True)


class BHumanInstanceDeleteSerializer(serializers.Serializer):
    instance_id = StrictCharField()


class BHumanVoiceDataSerializer(serializers.Serializer):
    language = StrictCharField(max_length=20, help_text='A language code, e.g. "en".')
    tone = StrictCharField(max_length=100)
    pitch = StrictCharField(max_length=50, help_text='"low", "medium", "high" or a description.')
    sample_audio = MediaUploadField(help_text="A recording of the voice, base64 encoded (WAV, MP3, FLAC or OGG).")


class BHumanVoiceAddSerializer(BHumanInstanceBodySerializer):
    voice_data = BHumanVoiceDataSerializer()


class BHumanVoiceAddedSerializer(BHumanSuccessSerializer):
    voice_id = serializers.CharField(read_only=True)


class BHumanTrainingUrlSerializer(serializers.Serializer):
    training_url = serializers.CharField(read_only=True)


class BHumanVoiceGenerateSerializer(BHumanInstanceBodySerializer):
    config = serializers.JSONField(required=False, allow_null=True, help_text="Reserved; ignored.")
    names = serializers.ListField(child=StrictCharField(max_length=200), required=False, default=list, max_length=10)
    # Strings, not URLField: the fetch helper checks them, and a host without a dot (this platform
    # behind a container name) is still a URL.
    training_urls = serializers.ListField(child=StrictCharField(max_length=2000), min_length=1, max_length=10)
    use_prosody = StrictBooleanField(required=False, default=False)
