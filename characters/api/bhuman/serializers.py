"""BHuman Persona shapes (seed: bhuman-persona-a/-b). Answers say `"status": "success"`."""

from rest_framework import serializers

from persona_platform.api.fields import MediaUploadField, StrictCharField, StrictIntegerField


class BHumanSuccessSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    message = serializers.CharField(read_only=True)


class BHumanVideoDataSerializer(serializers.Serializer):
    file = MediaUploadField(help_text="The video, base64 encoded (MP4, MOV, WebM, MKV or AVI, up to 10 MB).")
    title = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    duration = StrictIntegerField(min_value=1, help_text="Seconds; checked against the video (within 1 s or 5%).")
    resolution = StrictCharField(
        max_length=20, help_text='"1080p", "720p", "4k" or "1920x1080"; checked against the video.'
    )


class BHumanVideoAddSerializer(serializers.Serializer):
    video_data = BHumanVideoDataSerializer()
    instance_id = StrictCharField(
        required=False, help_text="The instance (persona) to add it to; the workspace's default persona when absent."
    )


class BHumanVideoAddedSerializer(BHumanSuccessSerializer):
    video_id = serializers.CharField(read_only=True)
