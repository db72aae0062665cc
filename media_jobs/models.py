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

    class Kind(models.TextChoices):
        SPEECH = "speech", "Speech"
        VOICE_CLONE = "voice_clone", "Voice clone"
        VIDEO = "video", "Video"
        TALKING_HEAD = "talking_head", "Talking head"
        MOTION_TRANSFER = "motion_transfer", "Motion transfer"
        LORA_TRAINING = "lora_training", "LoRA training"
        KNOWLEDGE_INDEX = "knowledge_index", "Knowledge indexing"
        NOOP = "noop", "No-op (benchmarks and tests)"

    FINAL_STATUSES = (Status.READY, Status.FAILED, Status.CANCELED)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_jobs")
    # Generated media outlives its person: deleting the person keeps the job and its files.
    person = models.ForeignKey(
        "characters.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="media_jobs"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
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
