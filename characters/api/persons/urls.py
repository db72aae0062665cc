from django.urls import path

from characters.api.persons import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)

app_name = "persons"

# twin.actor's paths have no trailing slash; one is tolerated.
urlpatterns = [
    path("persons", views.PersonListView.as_view(), name="person-list"),
    path("persons/", views.PersonListView.as_view()),
    path("persons/<dbid:person_id>", views.PersonDetailView.as_view(), name="person-detail"),
    path("persons/<dbid:person_id>/", views.PersonDetailView.as_view()),
]
