from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from persona_platform import views

urlpatterns = [
    path("healthz", views.HealthView.as_view(), name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("characters.api.persons.urls", namespace="persons")),
    path("v1/", include("characters.api.twintone.urls", namespace="twintone-personas")),
    path("v1/", include("media_jobs.api.twintone.urls", namespace="twintone-speech")),
    re_path(r"^media/(?P<path>.+)$", views.media_file, name="media"),
]

handler404 = "persona_platform.views.handler404"
handler500 = "persona_platform.views.handler500"
