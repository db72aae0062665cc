"""The platform's consent routes (`/api/v1/consents`): request, evidence, status."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from characters.models import Consent
from persona_platform.api.fields import MediaUploadField, StrictCharField, UtcDateTimeField
from persona_platform.api.pagination import PageQuerySerializer, paginated_serializer


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1}],
        "description": "Any dialect's id of the persona: an integer (or its digits) or influgen's `char_…`.",
    }
)
class PersonIdField(serializers.Field):
    """Any dialect's id of a persona: an integer, its digits as a string, or influgen's `char_<ulid>`."""

    default_error_messages = {"invalid": "Must be a persona id: an integer or a `char_…` id."}

    def to_internal_value(self, data) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str) or (isinstance(data, str) and not data.strip()):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class ConsentCreateSerializer(serializers.Serializer):
    person_id = PersonIdField(help_text="The persona whose likeness this is: any dialect's id for it.")
    kind = serializers.ChoiceField(choices=Consent.Kind.values, help_text="`voice`, `face` or `both`.")


class ConsentEvidenceSerializer(serializers.Serializer):
    file = MediaUploadField(
        max_bytes=settings.MAX_CONSENT_EVIDENCE_BYTES,
        help_text="The person reading the phrase aloud: audio for a voice consent, a video showing the face "
        "for a face consent (at most 2 minutes and 50 MB).",
    )


class ConsentMeasurementsSerializer(serializers.Serializer):
    transcript = serializers.CharField(required=False, help_text="What the speech recognizer heard.")
    words_matched = serializers.FloatField(required=False, help_text="Share of the phrase's words heard, 0-1.")
    voice_reference = serializers.CharField(required=False, help_text="What the speaker was compared with.")
    voice_similarity = serializers.FloatField(required=False, help_text="Speaker similarity to it (cosine).")
    face_seen = serializers.FloatField(required=False, help_text="Share of sampled frames showing a face.")
    face_distance = serializers.FloatField(required=False, help_text="Identity distance to the persona's photo.")
    mouth_motion = serializers.FloatField(required=False, help_text="How much the mouth moved.")
    mouth_loudness_correlation = serializers.FloatField(
        required=False, help_text="How closely the mouth followed the voice's loudness."
    )


class ConsentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    person_id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(
        read_only=True, help_text="`awaiting_evidence`, `verifying`, `verified`, `rejected` or `revoked`."
    )
    phrase = StrictCharField(read_only=True, help_text="What the person reads aloud in the recording.")
    phrase_expires_at = UtcDateTimeField(help_text="The recording must be sent before this.")
    has_evidence = serializers.SerializerMethodField()
    reasons = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Why the recording was rejected."
    )
    measurements = ConsentMeasurementsSerializer(read_only=True)
    job_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="The verification job.")
    created_at = UtcDateTimeField()
    verified_at = UtcDateTimeField(allow_null=True)
    revoked_at = UtcDateTimeField(allow_null=True)

    def get_has_evidence(self, consent: Consent) -> bool:
        return bool(consent.evidence)


class ConsentListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=Consent.Status.values, required=False, help_text="Only consents in this state."
    )


ConsentPageSerializer = paginated_serializer("ConsentPage", "consents", ConsentSerializer)
