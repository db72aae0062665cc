from django.urls import path

from characters.api.twintone import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)

app_name = "twintone-personas"

urlpatterns = [
    path("personas", views.PersonaListView.as_view(), name="persona-list"),
    path("personas/", views.PersonaListView.as_view()),
    path("personas/<dbid:persona_id>", views.PersonaDetailView.as_view(), name="persona-detail"),
    path("personas/<dbid:persona_id>/", views.PersonaDetailView.as_view()),
    path("replicas", views.ReplicaListView.as_view(), name="replica-list"),
    path("replicas/", views.ReplicaListView.as_view()),
    path("replicas/<dbid:replica_id>", views.ReplicaDetailView.as_view(), name="replica-detail"),
    path("replicas/<dbid:replica_id>/", views.ReplicaDetailView.as_view()),
]
