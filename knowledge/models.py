"""What a persona knows (pages, their chunks and embeddings, the review queue) and what it has said
(conversations and their messages)."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models

from accounts.models import User, Workspace
from characters.models import Person


class KnowledgePage(models.Model):
    """One page of a persona's knowledge base: BHuman's page, training-data item and approved review item."""

    class Source(models.TextChoices):
        STORE = "store", "Stored"
        STREAM = "stream", "Streamed"
        REVIEW = "review", "Approved from review"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be indexed"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Indexing failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="knowledge_pages")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="knowledge_pages")
    title = models.CharField(max_length=500)
    content = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.STORE)
    # A streamed page's place: its stream, the batch it came in and its position in that batch.
    stream = models.ForeignKey(
        "knowledge.KnowledgeStream", null=True, blank=True, on_delete=models.CASCADE, related_name="pages"
    )
    batch_index = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Bumped by every change of the content, so an indexing job for an older version changes nothing.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["person", "created_at"], name="page_person_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "batch_index", "position"],
                condition=models.Q(stream__isnull=False),
                name="one_page_per_stream_place",
            )
        ]

    def __str__(self) -> str:
        return self.title


class KnowledgeStream(models.Model):
    """An ordered, resumable sequence of page batches sent under one `stream_id`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="knowledge_streams")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="knowledge_streams")
    stream_id = models.CharField(max_length=200)
    # Batch index → sha256 of the batch as received: a repeated batch is recognised and changes nothing.
    batches = models.JSONField(default=dict, blank=True)
    completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "stream_id"], name="one_stream_per_person_and_id")]

    def __str__(self) -> str:
        return self.stream_id


class KnowledgeChunk(models.Model):
    """A passage of a page, with its embedding (unit float32) and, on PostgreSQL, its full-text vector.

    On PostgreSQL a migration adds the GIN index on `search_vector` and, where the server has
    pgvector, an `embedding_vector vector(384)` column with an HNSW index, kept in step by the
    indexing service (see knowledge.retrieval).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="knowledge_chunks")
    page = models.ForeignKey(KnowledgePage, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    embedding = models.BinaryField()
    search_vector = SearchVectorField(null=True, blank=True)

    class Meta:
        ordering = ["page_id", "ordinal"]
        indexes = [models.Index(fields=["person", "page"], name="chunk_person_page")]

    def __str__(self) -> str:
        return f"{self.page_id}#{self.ordinal}"


class ReviewItem(models.Model):
    """An article or note waiting for staff: approved, it becomes a page; rejected, it stays out."""

    class Kind(models.TextChoices):
        ARTICLE = "article", "Article"
        NOTE = "note", "Note"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="review_items")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="review_items")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    content = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    page = models.OneToOneField(
        KnowledgePage, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_item"
    )
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="review_status_created")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.content[:60]}"


class Conversation(models.Model):
    """A conversation with a persona: a BHuman chat (per end user) and a TwinTone conversation alike."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    person = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="conversations")
    public_id = models.CharField(max_length=40, unique=True, help_text="The chat_id BHuman clients see.")
    user_id = models.CharField(max_length=200, blank=True, help_text="The end user the caller names, if any.")
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    live_url = models.CharField(
        max_length=300, blank=True, help_text="The live process that holds its media session (its base URL)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "status", "-created_at"], name="conversation_ws_status"),
            models.Index(fields=["workspace", "user_id"], name="conversation_ws_user"),
        ]

    def __str__(self) -> str:
        return self.name or self.public_id


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Persona"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    # The pages an answer drew on: [{"page_id", "title", "chunk_id", "score"}].
    citations = models.JSONField(default=list, blank=True)
    audio_job = models.ForeignKey(
        "media_jobs.MediaJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class LiveProcess(models.Model):
    """A process that holds live conversations (`manage.py live`), as it last reported itself: conversations are
    routed to the least busy one heard from lately, and /healthz shows them."""

    url = models.CharField(max_length=300, unique=True, help_text="Where browsers reach it (LIVE_PUBLIC_URL).")
    sessions = models.PositiveIntegerField(default=0)
    max_sessions = models.PositiveIntegerField()
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "live processes"

    def __str__(self) -> str:
        return f"{self.url} ({self.sessions}/{self.max_sessions})"
