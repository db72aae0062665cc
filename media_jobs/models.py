from django.db import models

from accounts.models import Workspace


class MediaJob(models.Model):
    """One piece of generation work. The row is the truth; a Celery task only moves it along."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_jobs")
    # Generated media outlives its person: deleting the person keeps the job and its files.
    person = models.ForeignKey(
        "characters.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="media_jobs"
    )
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    result_file = models.FileField(upload_to="jobs/", max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "status"], name="job_workspace_status")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
