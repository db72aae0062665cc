from django.urls import path

from knowledge.api.bhuman import views
from persona_platform.api import converters  # noqa: F401  (registers <chatid:…> and <dbid:…>)
from persona_platform.api.routes import with_slash

urlpatterns = [
    path("kb/auto-generate-prompts", views.AutoPromptsView.as_view(), name="kb-auto-generate-prompts"),
    path("kb/review-data", views.ReviewDataView.as_view(), name="kb-review-data"),
    path("kb/store-pages", views.StorePagesView.as_view(), name="kb-store-pages"),
    path("kb/stream-pages", views.StreamPagesView.as_view(), name="kb-stream-pages"),
    *with_slash("kb/training-data", views.TrainingDataView, "kb-training-data"),
    path("kb/training-data/<dbid:data_id>", views.TrainingDataItemView.as_view(), name="kb-training-data-item"),
    path("kb/v2/chat", views.ChatView.as_view(), name="kb-chat"),
    path("persona/chats", views.ChatsView.as_view(), name="chats"),
    path("persona/messages/<chatid:chat_id>", views.ChatMessagesView.as_view(), name="chat-messages"),
]
