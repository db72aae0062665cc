"""influgen talking-head and motion-transfer shapes. The seed names the routes only; these shapes
are ours, documented in the schema: one object wrapped in its noun, lists in the pagination envelope."""

from django.conf import settings
from rest_framework import serializers

from media_jobs.services import PREVIEW_SCRIPT_CHARS
from persona_platform.api.dialects import VENDOR_JOB_STATUS_WORDS
from persona_platform.api.fields import AbsoluteFileUrlField, MediaUploadField, StrictCharField, UtcDateTimeField
from persona_platform.api.pagination import PageQuerySerializer


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
        return f"char_{job.person.ulid}" if job.person_id else None

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
    preview = serializers.BooleanField(default=False, help_text="Render small and fast.")
    callback_url = serializers.URLField(required=False, max_length=2000)


class SpeechGenerationSerializer(InflugenJobSerializer):
    """A voice generation (speech in a character's voice); `audio_url` once ready."""

    video_url = None
    width = None
    height = None
    audio_url = AbsoluteFileUrlField(source="result_file", help_text="The audio once ready.")
    text = serializers.CharField(source="params.text", read_only=True)
    format = serializers.CharField(source="params.format", read_only=True)


class InflugenJobListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=VENDOR_JOB_STATUS_WORDS, required=False)


def wrapped(name: str, noun: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """`{"<noun>": {...}}`, as influgen wraps single objects (for the schema)."""
    return type(name, (serializers.Serializer,), {noun: item(read_only=True), "__module__": __name__})
