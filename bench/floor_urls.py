"""Every real route of the platform, plus the floor views the benchmark compares them with."""

from django.urls import include, path

from bench import floor_views
from persona_platform.urls import handler404, handler500  # noqa: F401  (only the root URL conf's handlers count)

urlpatterns = [
    path("bench/floor/workspaces/<int:workspace_id>/persons", floor_views.person_list, name="floor-person-list"),
    path(
        "bench/floor/workspaces/<int:workspace_id>/owners/<int:owner_id>/persons",
        floor_views.person_create,
        name="floor-person-create",
    ),
    path("", include("persona_platform.urls")),
]
