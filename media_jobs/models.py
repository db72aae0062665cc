from django.db import models

from accounts.models import Workspace
from media_jobs.kinds import job_kind_choices


class MediaJob(models.Model):
    """One piece of generation work. The row is the truth; a Celery task only moves it along."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    FINAL_STATUSES = (Status.READY, Status.FAILED, Status.CANCELED)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_jobs")
    # Generated media outlives its person: deleting the person keeps the job and its files. The one
    # reference to an app above: by name, as the job row records whose media it made.
    person = models.ForeignKey(
        "characters.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="media_jobs"
    )
    # Each app registers its own kinds (media_jobs.kinds, settings.JOB_KINDS).
    kind = models.CharField(max_length=32, choices=job_kind_choices)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0 to 100.")
    params = models.JSONField(default=dict, blank=True, help_text="What the job was asked to do.")
    # What the job works from when it is a file (a driving video): deleted with the job.
    input_file = models.FileField(upload_to="jobs/inputs/", max_length=255, blank=True)
    result_file = models.FileField(upload_to="jobs/", max_length=255, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="What the engine reported: duration, timings, ids.")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    callback_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the broker took the job's message. A queued job without it is the dispatch intent that
    # media_jobs.services.jobs_dispatch_pending fulfils, so a broker outage delays jobs but loses none.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # `host:pid` of the worker process running it, so that a job whose process died (SIGKILL, OOM) is
    # taken back at once instead of after the time limit.
    claimed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "kind", "-created_at"], name="job_workspace_kind_created"),
            models.Index(fields=["status", "started_at"], name="job_status_started"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class WebhookDelivery(models.Model):
    """One event for one callback URL, delivered (and retried) from this row, never from a Celery ETA."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    job = models.ForeignKey(MediaJob, on_delete=models.CASCADE, related_name="webhook_deliveries")
    url = models.URLField(max_length=2000)
    message_id = models.CharField(max_length=64, unique=True, help_text="The webhook-id header: stable across retries.")
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.url} ({self.status})"


class WebhookAttempt(models.Model):
    """What happened on one try: kept for operators and for the customer's support questions."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]}"


class Heartbeat(models.Model):
    """The last sign of life of a background process (`worker`, `beat`), which /healthz reads; and which start
    of the broker the dispatcher last saw (`broker`, its Redis run id), to notice a restart that lost messages."""

    name = models.CharField(max_length=32, unique=True)
    seen_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True, help_text="Host and process id.")

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%H:%M:%S}"
