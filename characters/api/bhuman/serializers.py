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
        source="declared_duration",
        min_value=1,
        help_text="Seconds, as you know them; kept beside the duration measured from the video.",
    )
    resolution = StrictCharField(
        source="declared_resolution",
        max_length=20,
        help_text='"1080p", "720p", "4k" or "1920x1080"; kept beside the resolution measured from the video.',
    )


class BHumanVideoAddSerializer(BHumanInstanceBodySerializer):
    video_data = BHumanVideoDataSerializer()


class BHumanVideoDeclaredSerializer(serializers.Serializer):
    duration = serializers.IntegerField(read_only=True, allow_null=True, help_text="Seconds, as sent.")
    resolution = serializers.CharField(read_only=True, help_text="As sent.")


class BHumanVideoMeasuredSerializer(serializers.Serializer):
    duration = serializers.FloatField(read_only=True, help_text="Seconds, measured by decoding the video.")
    resolution = serializers.CharField(read_only=True, help_text='The usual name of its size: "240p", "1080p", "4k".')
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)


class BHumanVideoReportSerializer(serializers.Serializer):
    """The seed's `video_id`, with this platform's extension fields: what was declared, what was measured,
    and whether they agree (a video that differs is kept; the measured values are the ones used)."""

    video_id = serializers.CharField(read_only=True)
    declared = BHumanVideoDeclaredSerializer(read_only=True)
    measured = BHumanVideoMeasuredSerializer(read_only=True)
    matches_declared = serializers.BooleanField(read_only=True)


class BHumanVideoAddedSerializer(BHumanSuccessSerializer, BHumanVideoReportSerializer):
    pass


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
