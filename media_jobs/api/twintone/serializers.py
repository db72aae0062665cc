"""TwinTone speech and video shapes (seed: "Speech", "Videos"). Status words come from the dialect's table."""

from django.conf import settings
from rest_framework import serializers

from persona_platform.api.fields import AbsoluteFileUrlField, StrictCharField, UtcDateTimeField
from persona_platform.api.pagination import PageQuerySerializer

STATUS_WORDS = ["processing", "ready", "failed"]


class TwinToneJobSerializer(serializers.Serializer):
    """Shared by speech (and, later, videos): `url` only when ready, `error` only when failed.

    Subclasses declare `status = serializers.SerializerMethodField()` where the seed puts it.
    """

    def get_status(self, job) -> str:
        return self.context["view"].dialect.job_status_word(job.status)

    def to_representation(self, job):
        data = super().to_representation(job)
        if "url" in data and data["status"] != "ready":
            del data["url"]
        if "error" in data and data["status"] != "failed":
            del data["error"]
        return data


class TwinToneSpeechSerializer(TwinToneJobSerializer):
    """GET /speech/:id and the items of GET /speech."""

    id = serializers.CharField(source="pk", read_only=True)
    text = serializers.CharField(source="params.text", read_only=True)
    status = serializers.SerializerMethodField()
    url = AbsoluteFileUrlField(source="result_file", required=False, help_text="Present only when status is ready.")
    created_at = UtcDateTimeField()
    error = serializers.SerializerMethodField(help_text="Present only when status is failed.")

    def get_error(self, job) -> str:
        return job.error or "Canceled."


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
        choices=["wav", "mp3"], default="wav", help_text="Audio format (an extension: TwinTone does not document one)."
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

    def get_error(self, job) -> str:
        return job.error or "Canceled."


class TwinToneVideoCreateSerializer(serializers.Serializer):
    replica_id = StrictCharField(help_text="The replica whose face speaks, in its voice.")
    script = StrictCharField(max_length=settings.MAX_SCRIPT_CHARS, help_text="What the replica says.")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    callback_url = serializers.URLField(
        required=False, max_length=2000, help_text="Receives a signed POST (Standard Webhooks) when the job ends."
    )
