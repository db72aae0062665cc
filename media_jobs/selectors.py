from django.db.models import QuerySet

from accounts.models import Workspace
from media_jobs.kinds import job_kind
from media_jobs.models import MediaJob
from persona_platform.errors import NotFound


def job_list(*, workspace: Workspace, kind: str, statuses: list[str] | None = None) -> QuerySet[MediaJob]:
    jobs = MediaJob.objects.filter(workspace=workspace, kind=kind)
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    return jobs


def job_get(*, workspace: Workspace, kind: str, job_id: int, person_id: int | None = None) -> MediaJob:
    """Another workspace's job, a job of another kind (or of another person, when one is named) is
    reported exactly like a missing one."""
    jobs = MediaJob.objects.filter(workspace=workspace, kind=kind, pk=job_id)
    if person_id is not None:
        jobs = jobs.filter(person_id=person_id)
    job = jobs.select_related("person").first()
    if job is None:
        raise NotFound(f"{job_kind(kind).label} {job_id} not found.")
    return job


def job_oldest_queued() -> MediaJob | None:
    """The job that has waited longest in the queue, in any workspace (health and the operators' dashboard)."""
    return (
        MediaJob.objects.filter(status=MediaJob.Status.QUEUED)
        .select_related("workspace")
        .order_by("created_at")
        .first()
    )
