"""What the admin's front page shows operators: how the jobs and webhooks of the last day went.

A fixed handful of queries, each bounded (counts grouped by status, and at most `LIST_LIMIT` rows per list),
so the page stays fast however many jobs the installation has run.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from media_jobs.selectors import job_oldest_queued

WINDOW = timedelta(hours=24)
LIST_LIMIT = 10


@dataclass(frozen=True)
class JobsDashboard:
    since: datetime
    jobs_by_status: list[tuple[str, str, int]]  # (status, label, count), every status, in lifecycle order
    recent_failures: list[MediaJob]
    oldest_queued: MediaJob | None
    failing_deliveries: Sequence[WebhookDelivery]  # annotated with last_status_code and last_error
    failing_delivery_count: int


def jobs_dashboard(*, now: datetime | None = None) -> JobsDashboard:
    """Jobs created in the last 24 h by status, the latest failures with their errors, the job that has waited
    longest in the queue, and webhook deliveries that are failing (given up, or retrying after a failed try)."""
    since = (now or timezone.now()) - WINDOW
    counts = dict(
        MediaJob.objects.filter(created_at__gte=since)
        .order_by()
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    by_status = [(status.value, status.label, counts.get(status.value, 0)) for status in MediaJob.Status]
    failures = list(
        MediaJob.objects.filter(status=MediaJob.Status.FAILED, finished_at__gte=since)
        .select_related("workspace")
        .order_by("-finished_at", "-id")[:LIST_LIMIT]
    )
    last_attempts = WebhookAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-attempted_at", "-id")
    failing = WebhookDelivery.objects.filter(created_at__gte=since).exclude(status=WebhookDelivery.Status.DELIVERED)
    failing = failing.filter(attempts__gte=1)
    deliveries = list(
        failing.annotate(
            last_status_code=Subquery(last_attempts.values("status_code")[:1]),
            last_error=Subquery(last_attempts.values("error")[:1]),
        ).order_by("-created_at", "-id")[:LIST_LIMIT]
    )
    return JobsDashboard(
        since=since,
        jobs_by_status=by_status,
        recent_failures=failures,
        oldest_queued=job_oldest_queued(),
        failing_deliveries=deliveries,
        failing_delivery_count=failing.count(),
    )
