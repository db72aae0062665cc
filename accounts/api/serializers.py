"""The platform's own routes (`/api/v1`), beside the vendor dialects."""

from rest_framework import serializers

from persona_platform.api.fields import UtcDateTimeField


class WebhookSecretSerializer(serializers.Serializer):
    """The workspace's webhook signing secret, as receivers pass it to a Standard Webhooks library."""

    secret = serializers.CharField(
        read_only=True,
        help_text="`whsec_` and base64: verifies the `webhook-signature` header of every delivery sent now.",
    )
    rotated_at = UtcDateTimeField(allow_null=True, help_text="When the secret was last rotated; null if never.")
