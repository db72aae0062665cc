"""influgen character routes (`/api/v1/characters/…`, alias `/api/v1/influencers/…`)."""

from django.urls import path

from characters.api.influgen import views
from media_jobs.api.influgen import views as media_views
from persona_platform.api import converters  # noqa: F401  (registers <charid:…> and <dbid:…>)

app_name = "influgen-characters"

CHARACTER = "<charid:character_id>"

urlpatterns = [
    path("", views.CharacterListView.as_view(), name="character-list"),
    path(CHARACTER, views.CharacterDetailView.as_view(), name="character-detail"),
    path(f"{CHARACTER}/default", views.CharacterDefaultView.as_view(), name="character-default"),
    path(f"{CHARACTER}/duplicate", views.CharacterDuplicateView.as_view(), name="character-duplicate"),
    path(f"{CHARACTER}/reference-images", views.ReferenceImageView.as_view(), name="reference-images"),
    path(f"{CHARACTER}/lora", views.LoraView.as_view(), name="lora"),
    path(f"{CHARACTER}/lora/status", views.LoraStatusView.as_view(), name="lora-status"),
    path(f"{CHARACTER}/lora/images", views.LoraImagesView.as_view(), name="lora-images"),
    path(f"{CHARACTER}/lora/train", views.LoraTrainView.as_view(), name="lora-train"),
    path(f"{CHARACTER}/voice", views.CharacterVoiceView.as_view(), name="voice"),
    path(f"{CHARACTER}/voice/settings", views.VoiceSettingsView.as_view(), name="voice-settings"),
    path(f"{CHARACTER}/voice-clone", views.VoiceCloneView.as_view(), name="voice-clone"),
    path(f"{CHARACTER}/voice/preview", views.VoicePreviewView.as_view(), name="voice-preview"),
    path(f"{CHARACTER}/voice/generate", views.VoiceGenerateView.as_view(), name="voice-generate"),
    path(f"{CHARACTER}/voice/generations", views.VoiceGenerationListView.as_view(), name="voice-generations"),
    path(
        f"{CHARACTER}/voice/generations/<dbid:generation_id>",
        views.VoiceGenerationDetailView.as_view(),
        name="voice-generation-detail",
    ),
    path(
        f"{CHARACTER}/talking-head/preview", media_views.TalkingHeadPreviewView.as_view(), name="talking-head-preview"
    ),
    path(
        f"{CHARACTER}/talking-head/generate",
        media_views.TalkingHeadGenerateView.as_view(),
        name="talking-head-generate",
    ),
    path(
        f"{CHARACTER}/talking-head/generations",
        media_views.TalkingHeadGenerationListView.as_view(),
        name="talking-head-generations",
    ),
    path(f"{CHARACTER}/motion-transfer", media_views.MotionTransferStartView.as_view(), name="motion-transfer-start"),
    path(
        f"{CHARACTER}/motion-transfer/<dbid:job_id>",
        media_views.MotionTransferDetailView.as_view(),
        name="motion-transfer-detail",
    ),
    path(f"{CHARACTER}/motion-transfers", media_views.MotionTransferListView.as_view(), name="motion-transfer-list"),
]
