from accounts.api import views
from persona_platform.api.routes import with_slash

app_name = "platform"

urlpatterns = [
    *with_slash("webhook-secret", views.WebhookSecretView, "webhook-secret"),
    *with_slash("webhook-secret/rotate", views.WebhookSecretRotateView, "webhook-secret-rotate"),
]
