from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from media_jobs.services import JobNotCancelable, JobNotRetryable, job_cancel, job_retry, job_retry_refusal
from persona_platform.admin import ReadOnlyInline, media_player

ERROR_PREVIEW, NAME_PREVIEW = 60, 18


class ServiceRowsAdmin(admin.ModelAdmin):
    """Rows that only the services write (jobs, webhook deliveries): staff read every field and add none.
    Actions still change them, through the services."""

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, *(field.name for field in self.model._meta.fields)]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(MediaJob)
class MediaJobAdmin(ServiceRowsAdmin):
    """Jobs are made by the services that run them; staff (and the Support group) watch, retry and cancel."""

    # Short columns, so that the list and its error column fit a 1366 px screen beside the filters.
    list_display = ["job", "short_name", "status_progress", "tries", "short_workspace", "created", "short_error"]
    list_display_links = ["job"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["=id", "name", "workspace__name", "workspace__owner__email", "person__name", "error"]
    list_select_related = ["workspace"]
    readonly_fields = ["result_player", "input_player"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "status", "progress", "attempts", "error", "workspace", "person"]}),
        ("Media", {"fields": ["result_player", "result_file", "input_player", "input_file", "result"]}),
        ("Request", {"fields": ["params", "callback_url"]}),
        ("Times", {"fields": ["created_at", "updated_at", "dispatched_at", "started_at", "finished_at", "claimed_by"]}),
    ]
    actions = ["retry", "cancel"]
    date_hierarchy = "created_at"

    def get_urls(self):
        opts = self.opts
        own = [
            path("<int:job_id>/retry/", self.admin_site.admin_view(self.retry_view),
                 name=f"{opts.app_label}_{opts.model_name}_retry"),
            path("<int:job_id>/cancel/", self.admin_site.admin_view(self.cancel_view),
                 name=f"{opts.app_label}_{opts.model_name}_cancel"),
        ]  # fmt: skip
        return own + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The job's page offers Retry only where it can work (else says why) and Cancel while it runs."""
        job = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if job is not None and self.has_change_permission(request, job):
            refusal = job_retry_refusal(job=job) if job.is_final and job.status != MediaJob.Status.READY else ""
            extra_context.update(
                can_retry=job.status in (MediaJob.Status.FAILED, MediaJob.Status.CANCELED) and not refusal,
                retry_refusal=refusal,
                can_cancel=not job.is_final,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _job_for_action(self, request, job_id: int) -> MediaJob:
        job = get_object_or_404(MediaJob, pk=job_id)
        if not self.has_change_permission(request, job):
            raise PermissionDenied
        return job

    @staticmethod
    def _back_to(job: MediaJob):
        return redirect(reverse("admin:media_jobs_mediajob_change", args=[job.pk]))

    # The job page's buttons: (service, the error it refuses with, what the history and message say).
    BUTTONS = {
        "retry": (job_retry, JobNotRetryable, "Retried", "is queued again"),
        "cancel": (job_cancel, JobNotCancelable, "Canceled", "is canceled"),
    }

    def retry_view(self, request, job_id: int):
        return require_POST(self._button)(request, job_id, "retry")

    def cancel_view(self, request, job_id: int):
        return require_POST(self._button)(request, job_id, "cancel")

    def _button(self, request, job_id: int, button: str):
        """Runs a button's service on the job; a refusal is shown with its reason, a success is recorded."""
        run, refusal, done, outcome = self.BUTTONS[button]
        job = self._job_for_action(request, job_id)
        try:
            run(job=job)
        except refusal as exc:
            self.message_user(request, f"Not {done.lower()}: {exc.message}", level=messages.ERROR)
        else:
            self.log_change(request, job, f"{done}.")
            self.message_user(request, f"Job #{job.pk} {outcome}.", level=messages.SUCCESS)
        return self._back_to(job)

    @admin.display(description="Job", ordering="-id")
    def job(self, job: MediaJob) -> str:
        return f"{job.get_kind_display()} #{job.pk}"

    @admin.display(description="Name", ordering="name")
    def short_name(self, job: MediaJob) -> str:
        return (job.name[:NAME_PREVIEW] + "…") if len(job.name) > NAME_PREVIEW else job.name

    @admin.display(description="Tries", ordering="attempts")
    def tries(self, job: MediaJob) -> int:
        return job.attempts

    @admin.display(description="Status", ordering="status")
    def status_progress(self, job: MediaJob):
        if job.status == MediaJob.Status.PROCESSING:
            return format_html('{} <progress value="{}" max="100" title="{}%" style="width:48px"></progress>',
                               job.get_status_display(), job.progress, job.progress)  # fmt: skip
        return job.get_status_display()

    @admin.display(description="Workspace", ordering="workspace__name")
    def short_workspace(self, job: MediaJob) -> str:
        name = str(job.workspace)
        return (name[:NAME_PREVIEW] + "…") if len(name) > NAME_PREVIEW else name

    @admin.display(description="Created", ordering="created_at")
    def created(self, job: MediaJob) -> str:
        return f"{job.created_at:%m-%d %H:%M}"

    @admin.display(description="Error")
    def short_error(self, job: MediaJob):
        """The error's start; the whole of it on hover and on the job's page."""
        if not job.error:
            return ""
        short = (job.error[:ERROR_PREVIEW] + "…") if len(job.error) > ERROR_PREVIEW else job.error
        return format_html('<span class="job-error" title="{}">{}</span>', job.error, short)

    @admin.display(description="Result")
    def result_player(self, job: MediaJob):
        return media_player(job.result_file)

    @admin.display(description="Input")
    def input_player(self, job: MediaJob):
        return media_player(job.input_file)

    @admin.action(description="Retry the selected failed or canceled jobs", permissions=["change"])
    def retry(self, request, queryset):
        retried, refused = 0, []
        for job in queryset:
            try:
                job_retry(job=job)
                retried += 1
            except JobNotRetryable as exc:
                refused.append(f"#{job.pk}: {exc.message}")
        self.message_user(request, f"Queued {retried} job(s) again.")
        if refused:
            self.message_user(request, "Not retried: " + " ".join(refused), level=messages.WARNING)

    @admin.action(description="Cancel the selected queued or running jobs", permissions=["change"])
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
class WebhookDeliveryAdmin(ServiceRowsAdmin):
    list_display = ["id", "event_type", "url", "status", "attempts", "next_attempt_at", "delivered_at", "job"]
    list_filter = ["status", "event_type"]
    search_fields = ["url", "message_id", "=job__id"]
    inlines = [WebhookAttemptInline]
