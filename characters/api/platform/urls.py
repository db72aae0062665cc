from characters.api.platform import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)
from persona_platform.api.routes import with_slash

app_name = "consents"

urlpatterns = [
    *with_slash("consents", views.ConsentListView, "consent-list"),
    *with_slash("consents/<dbid:consent_id>", views.ConsentDetailView, "consent-detail"),
    *with_slash("consents/<dbid:consent_id>/evidence", views.ConsentEvidenceView, "consent-evidence"),
    *with_slash("persons/<dbid:person_id>/consents", views.PersonConsentListView, "person-consents"),
]
