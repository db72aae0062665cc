from characters.api.persons import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)
from persona_platform.api.routes import with_slash

app_name = "persons"

# twin.actor's paths have no trailing slash; one is tolerated.
urlpatterns = [
    *with_slash("persons", views.PersonListView, "person-list"),
    *with_slash("persons/<dbid:person_id>", views.PersonDetailView, "person-detail"),
]
