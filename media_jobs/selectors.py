from django.db.models import QuerySet

from accounts.models import Workspace
from media_jobs.models import MediaJob
from persona_platform.errors import NotFound


def job_list(*, workspace: Workspace, kind: str, statuses: list[str] | None = None) -> QuerySet[MediaJob]:
    jobs = MediaJob.objects.filter(workspace=workspace, kind=kind)
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    return jobs


def job_get(*, workspace: Workspace, kind: str, job_id: int) -> MediaJob:
    """Another workspace's job, or a job of another kind, is reported exactly like a missing one."""
    job = MediaJob.objects.filter(workspace=workspace, kind=kind, pk=job_id).first()
    if job is None:
        raise NotFound(f"{MediaJob.Kind(kind).label} {job_id} not found.")
    return job
