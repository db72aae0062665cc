"""The platform's own routes under `/api/v1`: the workspace's webhook secret."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.api.serializers import WebhookSecretSerializer
from accounts.webhook_secrets import webhook_secret_rotate, workspace_webhook_secret
from persona_platform.api.dialects.platform import PlatformView


class WebhookSecretView(PlatformView):
    @extend_schema(summary="Get the webhook signing secret", responses={200: WebhookSecretSerializer})
    def get(self, request):
        """The secret that signs your workspace's webhooks (Standard Webhooks: `webhook-id`,
        `webhook-timestamp`, `webhook-signature`). Pass it to the `standardwebhooks` library to verify a
        delivery; docs/JOBS.md shows how."""
        secret = workspace_webhook_secret(workspace=request.auth.workspace)
        return Response(WebhookSecretSerializer(secret, context=self.ctx).data)


class WebhookSecretRotateView(PlatformView):
    @extend_schema(summary="Rotate the webhook signing secret", request=None, responses={200: WebhookSecretSerializer})
    def post(self, request):
        """Replace the secret with a new one and answer it. Every delivery sent from now on, retries of
        earlier events included, is signed with the new secret only: the old one stops verifying at once."""
        secret = webhook_secret_rotate(workspace=request.auth.workspace)
        return Response(WebhookSecretSerializer(secret, context=self.ctx).data)
