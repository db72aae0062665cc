from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import views as accounts_views
from characters.api.bhuman import views as bhuman_views
from characters.api.influgen.views import CharacterListView, TalkingHeadGenerationDetailView, VoiceListView
from media_jobs import health
from persona_platform import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", health.HealthView.as_view(), name="healthz"),
    path("playground/", views.playground, name="playground"),
    path("playground/key", accounts_views.playground_key, name="playground-key"),
    re_path(r"^docs/(?P<name>[A-Z][A-Z_]*)\.md$", views.project_doc, name="project-doc"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include("characters.api.persons.urls", namespace="persons")),
    path("api/v1/", include("accounts.api.urls", namespace="platform")),
    path("api/v1/", include("media_jobs.api.platform.urls", namespace="provenance")),
    path("api/v1/", include("characters.api.platform.urls", namespace="consents")),
    path("api/v1/characters", CharacterListView.as_view(), name="influgen-character-list"),
    path("api/v1/influencers", CharacterListView.as_view(), name="influgen-influencer-list"),
    path("api/v1/characters/", include("characters.api.influgen.urls", namespace="influgen-characters")),
    path("api/v1/influencers/", include("characters.api.influgen.urls", namespace="influgen-influencers")),
    path("api/v1/voices", VoiceListView.as_view(), name="influgen-voices"),
    path(
        "api/v1/talking-head/<dbid:generation_id>",
        TalkingHeadGenerationDetailView.as_view(),
        name="influgen-talking-head-detail",
    ),
    path("v1/", include("characters.api.twintone.urls", namespace="twintone")),
    path("v1/", include("knowledge.api.twintone.urls", namespace="twintone-conversations")),
    path("live/", include("knowledge.live.urls", namespace="live")),
    path("persona/api/", include("characters.api.bhuman.urls", namespace="bhuman-persona")),
    path("persona/voice/<dbid:embed_name>", bhuman_views.VoiceTrainingUrlView.as_view(), name="bhuman-voice-training"),
    path("voice/api/v2/voice/generate", bhuman_views.VoiceGenerateView.as_view(), name="bhuman-voice-generate"),
    re_path(r"^media/(?P<path>.+)$", views.media_file, name="media"),
]

handler404 = "persona_platform.views.handler404"
handler500 = "persona_platform.views.handler500"
