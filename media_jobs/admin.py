from django.contrib import admin

from media_jobs.models import MediaJob


@admin.register(MediaJob)
class MediaJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress", "workspace", "person", "created_at", "finished_at"]
    list_filter = ["status", "kind"]
    search_fields = ["id", "name", "workspace__name", "person__name", "error"]
    list_select_related = ["workspace", "person"]
    readonly_fields = [field.name for field in MediaJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # jobs are made by the services that run them
