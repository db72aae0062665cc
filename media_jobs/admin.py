from django.contrib import admin, messages
from django.utils.html import format_html

from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from media_jobs.services import JobNotCancelable, job_cancel, job_retry
from persona_platform.admin import ReadOnlyInline


@admin.register(MediaJob)
class MediaJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "name",
        "status",
        "progress_bar",
        "attempts",
        "workspace",
        "person",
        "created_at",
        "short_error",
    ]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["=id", "name", "workspace__name", "workspace__owner__email", "person__name", "error"]
    list_select_related = ["workspace", "person"]
    readonly_fields = [field.name for field in MediaJob._meta.fields]
    actions = ["retry", "cancel"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False  # jobs are made by the services that run them

    @admin.display(description="Progress", ordering="progress")
    def progress_bar(self, job: MediaJob):
        return format_html('<progress value="{}" max="100" title="{}%"></progress>', job.progress, job.progress)

    @admin.display(description="Error")
    def short_error(self, job: MediaJob) -> str:
        return (job.error[:80] + "…") if len(job.error) > 80 else job.error

    @admin.action(description="Retry the selected failed or canceled jobs")
    def retry(self, request, queryset):
        retried = [job for job in queryset if job_retry(job=job).status == MediaJob.Status.QUEUED]
        self.message_user(request, f"Queued {len(retried)} job(s) again.")

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel(self, request, queryset):
        canceled = 0
        for job in queryset:
            try:
                job_cancel(job=job)
                canceled += 1
            except JobNotCancelable:
                pass
        self.message_user(request, f"Canceled {canceled} job(s).", level=messages.INFO)


class WebhookAttemptInline(ReadOnlyInline, admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "error"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "url", "status", "attempts", "next_attempt_at", "delivered_at", "job"]
    list_filter = ["status", "event_type"]
    search_fields = ["url", "message_id", "=job__id"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False
