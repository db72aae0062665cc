from django.urls import path

from knowledge.api.twintone import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)
from persona_platform.api.routes import with_slash

app_name = "twintone-conversations"

urlpatterns = [
    *with_slash("conversations", views.ConversationListView, "conversation-list"),
    *with_slash("conversations/<dbid:conversation_id>", views.ConversationDetailView, "conversation-detail"),
    path(
        "conversations/<dbid:conversation_id>/messages",
        views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
]
