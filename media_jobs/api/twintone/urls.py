from django.urls import path

from media_jobs.api.twintone import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)

app_name = "twintone-speech"

urlpatterns = [
    path("speech", views.SpeechListView.as_view(), name="speech-list"),
    path("speech/", views.SpeechListView.as_view()),
    path("speech/<dbid:speech_id>", views.SpeechDetailView.as_view(), name="speech-detail"),
    path("speech/<dbid:speech_id>/", views.SpeechDetailView.as_view()),
    path("videos", views.VideoListView.as_view(), name="video-list"),
    path("videos/", views.VideoListView.as_view()),
    path("videos/<dbid:video_id>", views.VideoDetailView.as_view(), name="video-detail"),
    path("videos/<dbid:video_id>/", views.VideoDetailView.as_view()),
]
