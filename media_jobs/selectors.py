from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from accounts.models import Workspace
from media_jobs import provenance
from media_jobs.kinds import job_kind
from media_jobs.models import MediaJob
from persona_platform.errors import Conflict, NotFound


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


def job_provenance_get(*, workspace: Workspace, job_id: int) -> dict[str, Any]:
    """What a job's output says of its making (provenance.read: signed, valid, altered, manifest) and the consent
    of each likeness it used, as recorded then and as it stands now: an output made before a revocation says
    the consent was later revoked. Another workspace's job is NotFound; one without a file is a Conflict."""
    job = MediaJob.objects.filter(workspace=workspace, pk=job_id).select_related("person").first()
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    if not job.result_file:
        if not job.is_final:
            why = f"is {job.status}: it has no file yet"
        elif job.status == MediaJob.Status.READY:
            why = f"made no file (a {job_kind(job.kind).label.lower()})"
        else:
            why = f"is {job.status} and has no file"
        raise Conflict(f"Job {job_id} {why}; only a generated file has provenance.")
    content_type = provenance.CONTENT_TYPES.get(PurePath(job.result_file.name).suffix.lstrip(".").lower(), "")
    try:
        with job.result_file.open("rb") as handle:
            answer = provenance.read(handle.read(), content_type)
    except FileNotFoundError:
        raise Conflict(f"Job {job_id}'s file is no longer stored.") from None
    at_generation = provenance.persona_assertion(answer["manifest"]).get("consent") or {}
    consent_now = import_string(settings.PROVENANCE_CONSENT_STATE)
    now = {kind: consent_now(person=job.person, kind=kind) for kind in at_generation}
    return {
        "job_id": job.pk,
        "content_type": content_type,
        **answer,
        "consent": {"at_generation": at_generation, "now": now},
    }


def job_oldest_queued() -> MediaJob | None:
    """The job that has waited longest in the queue, in any workspace (health and the operators' dashboard)."""
    return (
        MediaJob.objects.filter(status=MediaJob.Status.QUEUED)
        .select_related("workspace")
        .order_by("created_at")
        .first()
    )
