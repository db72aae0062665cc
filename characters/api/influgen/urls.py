"""influgen character routes (`/api/v1/characters/…`, alias `/api/v1/influencers/…`)."""

from django.urls import path

from media_jobs.api.influgen import views as media_views
from persona_platform.api import converters  # noqa: F401  (registers <charid:…> and <dbid:…>)

app_name = "influgen-characters"

urlpatterns = [
    path(
        "<charid:character_id>/talking-head/preview",
        media_views.TalkingHeadPreviewView.as_view(),
        name="talking-head-preview",
    ),
    path(
        "<charid:character_id>/talking-head/generate",
        media_views.TalkingHeadGenerateView.as_view(),
        name="talking-head-generate",
    ),
    path(
        "<charid:character_id>/talking-head/generations",
        media_views.TalkingHeadGenerationListView.as_view(),
        name="talking-head-generations",
    ),
    path(
        "<charid:character_id>/motion-transfer",
        media_views.MotionTransferStartView.as_view(),
        name="motion-transfer-start",
    ),
    path(
        "<charid:character_id>/motion-transfer/<dbid:job_id>",
        media_views.MotionTransferDetailView.as_view(),
        name="motion-transfer-detail",
    ),
    path(
        "<charid:character_id>/motion-transfers",
        media_views.MotionTransferListView.as_view(),
        name="motion-transfer-list",
    ),
]
