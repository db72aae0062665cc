from django.urls import path

from media_jobs.api.twintone import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)

app_name = "twintone-speech"

urlpatterns = [
    path("speech", views.SpeechListView.as_view(), name="speech-list"),
    path("speech/", views.SpeechListView.as_view()),
    path("speech/<dbid:speech_id>", views.SpeechDetailView.as_view(), name="speech-detail"),
    path("speech/<dbid:speech_id>/", views.SpeechDetailView.as_view()),
]
