from django.urls import path

from characters.api.bhuman import views

app_name = "bhuman-persona"

urlpatterns = [
    path("admin/video", views.AdminVideoView.as_view(), name="admin-video"),
]
