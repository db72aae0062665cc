"""Shapes of the provenance routes: what a generated file's C2PA manifest says, and whether it still holds."""

from rest_framework import serializers

CONSENT_STATES = ["verified", "unverified", "revoked"]
SIGNED = "The file carries a C2PA manifest made by this platform."
VALID = "The manifest's signature validates and its certificate chains to this platform's trust anchor."
ALTERED = "The media (or its manifest) changed after it was signed: a hash or the signature no longer matches."
MANIFEST = (
    "The file's active C2PA manifest as the c2pa library reads it: `claim_generator_info` (this platform, its "
    "version, the engine), the `c2pa.actions` assertion (`c2pa.created`, digital source type "
    "`trainedAlgorithmicMedia`) and `org.personaplatform.persona` (the persona's id and name, the consent state of "
    "each likeness when the file was made, a video's audio origin). Null when the file carries no manifest."
)


class ProvenanceSerializer(serializers.Serializer):
    signed = serializers.BooleanField(help_text=SIGNED)
    valid = serializers.BooleanField(help_text=VALID)
    altered = serializers.BooleanField(help_text=ALTERED)
    manifest = serializers.DictField(allow_null=True, help_text=MANIFEST)


class ProvenanceConsentSerializer(serializers.Serializer):
    at_generation = serializers.DictField(
        child=serializers.ChoiceField(choices=CONSENT_STATES),
        help_text="Each likeness the file used (`voice`, `face`) and its consent state when the file was made, "
        "as the manifest records it.",
    )
    now = serializers.DictField(
        child=serializers.ChoiceField(choices=CONSENT_STATES),
        help_text="The same likenesses' consent state now: `revoked` for a consent withdrawn after the file was made.",
    )


class JobProvenanceSerializer(serializers.Serializer):
    job_id = serializers.IntegerField(help_text="The job that made the file.")
    content_type = serializers.CharField(help_text="The file's media type.")
    signed = serializers.BooleanField(help_text=SIGNED)
    valid = serializers.BooleanField(help_text=VALID)
    altered = serializers.BooleanField(help_text=ALTERED)
    manifest = serializers.DictField(allow_null=True, help_text=MANIFEST)
    consent = ProvenanceConsentSerializer()


class ProvenanceVerifyUploadSerializer(serializers.Serializer):
    """Schema of the multipart form: the file to verify, under `file`."""

    file = serializers.FileField(help_text="A WAV, MP3, MP4, JPEG or PNG file; at most 10 MB.")
