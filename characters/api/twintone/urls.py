from characters.api.twintone import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)
from persona_platform.api.routes import with_slash

app_name = "twintone"

urlpatterns = [
    *with_slash("personas", views.PersonaListView, "persona-list"),
    *with_slash("personas/<dbid:persona_id>", views.PersonaDetailView, "persona-detail"),
    *with_slash("replicas", views.ReplicaListView, "replica-list"),
    *with_slash("replicas/<dbid:replica_id>", views.ReplicaDetailView, "replica-detail"),
    *with_slash("speech", views.SpeechListView, "speech-list"),
    *with_slash("speech/<dbid:speech_id>", views.SpeechDetailView, "speech-detail"),
    *with_slash("videos", views.VideoListView, "video-list"),
    *with_slash("videos/<dbid:video_id>", views.VideoDetailView, "video-detail"),
]
