from django.urls import path

from knowledge.api.twintone import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)

app_name = "twintone-conversations"

urlpatterns = [
    path("conversations", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/", views.ConversationListView.as_view()),
    path("conversations/<dbid:conversation_id>", views.ConversationDetailView.as_view(), name="conversation-detail"),
    path("conversations/<dbid:conversation_id>/", views.ConversationDetailView.as_view()),
    path(
        "conversations/<dbid:conversation_id>/messages",
        views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
]
