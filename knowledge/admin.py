from django.contrib import admin, messages

from knowledge.models import Conversation, KnowledgePage, KnowledgeStream, Message, ReviewItem
from knowledge.services.pages import review_approve, review_reject
from persona_platform.admin import ReadOnlyInline


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    """The review queue: articles and notes clients sent for review. Approved ones become knowledge."""

    list_display = ["id", "kind", "short_content", "person", "workspace", "status", "created_at", "reviewed_by"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["content", "person__name", "workspace__name"]
    list_select_related = ["person", "workspace", "reviewed_by"]
    readonly_fields = ["workspace", "person", "kind", "content", "status", "page", "reviewed_by", "reviewed_at",
                       "created_at"]  # fmt: skip
    actions = ["approve", "reject"]

    def has_add_permission(self, request) -> bool:
        return False  # items come from the API's review-data route

    @admin.display(description="Content")
    def short_content(self, item: ReviewItem) -> str:
        return (item.content[:100] + "…") if len(item.content) > 100 else item.content

    @admin.action(description="Approve: add to the persona's knowledge")
    def approve(self, request, queryset):
        for item in queryset:
            review_approve(item=item, reviewer=request.user)
        self.message_user(request, f"Approved {queryset.count()} item(s); they are being indexed.", messages.SUCCESS)

    @admin.action(description="Reject: keep out of the persona's knowledge")
    def reject(self, request, queryset):
        for item in queryset:
            review_reject(item=item, reviewer=request.user)
        self.message_user(request, f"Rejected {queryset.count()} item(s).", messages.SUCCESS)


@admin.register(KnowledgePage)
class KnowledgePageAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "person", "workspace", "source", "status", "version", "chunk_count", "updated_at"]
    list_filter = ["status", "source", "created_at"]
    search_fields = ["title", "content", "person__name", "workspace__name"]
    list_select_related = ["person", "workspace"]
    readonly_fields = ["workspace", "person", "source", "stream", "batch_index", "position", "status", "version",
                       "created_at", "updated_at"]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False  # pages arrive through the API, which queues their indexing

    @admin.display(description="Passages")
    def chunk_count(self, page: KnowledgePage) -> int:
        return page.chunks.count()


@admin.register(KnowledgeStream)
class KnowledgeStreamAdmin(admin.ModelAdmin):
    list_display = ["id", "stream_id", "person", "workspace", "completed", "updated_at"]
    search_fields = ["stream_id", "person__name"]
    readonly_fields = ["workspace", "person", "stream_id", "batches", "completed", "created_at", "updated_at"]


class MessageInline(ReadOnlyInline, admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "content", "citations"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations (BHuman chats and TwinTone conversations), for support questions."""

    list_display = ["id", "public_id", "person", "user_id", "workspace", "status", "created_at", "ended_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["public_id", "user_id", "name", "person__name", "workspace__name"]
    list_select_related = ["person", "workspace"]
    readonly_fields = ["workspace", "person", "public_id", "user_id", "status", "created_at", "ended_at"]
    inlines = [MessageInline]
