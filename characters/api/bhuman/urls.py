"""BHuman Persona routes under `/persona/api/` (seed: bhuman-persona-a/-b)."""

from django.urls import include, path

from characters.api.bhuman import views

app_name = "bhuman-persona"

urlpatterns = [
    path("admin/add_voice", views.AdminVoiceView.as_view(), name="admin-add-voice"),
    path("admin/instance", views.AdminInstanceView.as_view(), name="admin-instance"),
    path("admin/video", views.AdminVideoView.as_view(), name="admin-video"),
    path("instance", views.InstanceView.as_view(), name="instance"),
    path("", include("knowledge.api.bhuman.urls")),
]
