from media_jobs.api.platform import views
from persona_platform.api import converters  # noqa: F401  (registers <dbid:…>)
from persona_platform.api.routes import with_slash

app_name = "provenance"

urlpatterns = [
    *with_slash("jobs/<dbid:job_id>/provenance", views.JobProvenanceView, "job-provenance"),
    *with_slash("provenance/verify", views.ProvenanceVerifyView, "verify"),
]
