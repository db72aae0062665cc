"""influgen character routes (`/api/v1/characters/…`, alias `/api/v1/influencers/…`)."""

from django.urls import URLPattern, path

from characters.api.influgen import views
from persona_platform.api import converters  # noqa: F401  (registers <charid:…> and <dbid:…>)

app_name = "influgen-characters"

CHARACTER = "<charid:character_id>"


def character_path(route: str, view: type[views.CharacterView], name: str) -> URLPattern:
    """A route under one character: `<charid:character_id>/<route>`."""
    return path(f"{CHARACTER}/{route}", view.as_view(), name=name)


urlpatterns = [
    path("", views.CharacterListView.as_view(), name="character-list"),
    path(CHARACTER, views.CharacterDetailView.as_view(), name="character-detail"),
    character_path("default", views.CharacterDefaultView, "character-default"),
    character_path("duplicate", views.CharacterDuplicateView, "character-duplicate"),
    character_path("reference-images", views.ReferenceImageView, "reference-images"),
    character_path("lora", views.LoraView, "lora"),
    character_path("lora/status", views.LoraStatusView, "lora-status"),
    character_path("lora/images", views.LoraImagesView, "lora-images"),
    character_path("lora/train", views.LoraTrainView, "lora-train"),
    character_path("voice", views.CharacterVoiceView, "voice"),
    character_path("voice/settings", views.VoiceSettingsView, "voice-settings"),
    character_path("voice-clone", views.VoiceCloneView, "voice-clone"),
    character_path("voice/preview", views.VoicePreviewView, "voice-preview"),
    character_path("voice/generate", views.VoiceGenerateView, "voice-generate"),
    character_path("voice/generations", views.VoiceGenerationListView, "voice-generations"),
    character_path(
        "voice/generations/<dbid:generation_id>", views.VoiceGenerationDetailView, "voice-generation-detail"
    ),
    character_path("talking-head/preview", views.TalkingHeadPreviewView, "talking-head-preview"),
    character_path("talking-head/generate", views.TalkingHeadGenerateView, "talking-head-generate"),
    character_path("talking-head/generations", views.TalkingHeadGenerationListView, "talking-head-generations"),
    character_path("motion-transfer", views.MotionTransferStartView, "motion-transfer-start"),
    character_path("motion-transfer/<dbid:job_id>", views.MotionTransferDetailView, "motion-transfer-detail"),
    character_path("motion-transfers", views.MotionTransferListView, "motion-transfer-list"),
]
