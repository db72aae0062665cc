"""What a persona knows: pages stored, streamed, edited, reviewed and deleted. Every change queues
one indexing job for the pages it touched, at their new version."""

import hashlib
import json

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from characters.models import Person
from knowledge.models import KnowledgePage, KnowledgeStream, ReviewItem
from media_jobs.models import MediaJob
from media_jobs.services import job_create
from persona_platform.errors import Conflict, InvalidInput

MAX_PAGES_PER_CALL = 100
# A stream is at most this many batches: every answer lists the stream's batches, so a client's index
# must never size it (nor the work to build it).
MAX_STREAM_BATCHES = 10_000
KNOWLEDGE_INDEX = "knowledge_index"  # the job kind (knowledge.jobs)


def _queue_index(*, person: Person, pages: list[KnowledgePage]) -> MediaJob | None:
    if not pages:
        return None
    return job_create(
        workspace=person.workspace,
        kind=KNOWLEDGE_INDEX,
        person_id=person.pk,
        name=f"Index {len(pages)} page(s) of {person.name}"[:200],
        params={"pages": [[page.pk, page.version] for page in pages]},
    )


def _page(person: Person, data: dict, **extra) -> KnowledgePage:
    return KnowledgePage(
        workspace_id=person.workspace_id,
        person=person,
        title=data["title"],
        content=data["content"],
        metadata=data.get("metadata") or {},
        **extra,
    )


@transaction.atomic
def pages_store(*, person: Person, pages: list[dict]) -> list[KnowledgePage]:
    """New pages (title, content, metadata), indexed by one job."""
    created = KnowledgePage.objects.bulk_create([_page(person, data) for data in pages])
    _queue_index(person=person, pages=created)
    return created


def _batch_digest(pages: list[dict]) -> str:
    return hashlib.sha256(json.dumps(pages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@transaction.atomic
def stream_batch_receive(
    *, person: Person, stream_id: str, pages: list[dict], batch_index: int | None = None, final: bool = False
) -> dict:
    """One batch of a stream. Batches may arrive out of order; a batch sent again with the same pages
    changes nothing; the same index with other pages is a conflict. Without an index a batch is the
    next one (or, if the very same pages were received before, that batch again)."""
    stream, _ = KnowledgeStream.objects.get_or_create(
        person=person, stream_id=stream_id, defaults={"workspace_id": person.workspace_id}
    )
    stream = KnowledgeStream.objects.select_for_update().get(pk=stream.pk)
    digest = _batch_digest(pages)
    received = {int(index): value for index, value in stream.batches.items()}
    if batch_index is not None and not 0 <= batch_index < MAX_STREAM_BATCHES:
        raise InvalidInput(f"stream_data.batch_index: must be between 0 and {MAX_STREAM_BATCHES - 1}.")
    if batch_index is None:
        batch_index = next((index for index, value in received.items() if value == digest), None)
        if batch_index is None:
            batch_index = max(received, default=-1) + 1
    if batch_index >= MAX_STREAM_BATCHES:
        raise InvalidInput(f"stream_data: a stream holds at most {MAX_STREAM_BATCHES} batches.")
    repeated = batch_index in received
    if repeated and received[batch_index] != digest:
        raise Conflict(
            f"stream_data.batch_index: batch {batch_index} of stream {stream_id!r} was already received with "
            "other pages; a batch cannot be changed once sent."
        )
    created = []
    if not repeated:
        created = KnowledgePage.objects.bulk_create(
            [
                _page(
                    person,
                    data,
                    source=KnowledgePage.Source.STREAM,
                    stream=stream,
                    batch_index=batch_index,
                    position=position,
                )  # fmt: skip
                for position, data in enumerate(pages)
            ]
        )
        received[batch_index] = digest
    stream.batches = {str(index): value for index, value in sorted(received.items())}
    stream.completed = stream.completed or final
    stream.save(update_fields=["batches", "completed", "updated_at"])
    _queue_index(person=person, pages=created)
    expected = range(max(received) + 1)
    return {
        "stream_id": stream_id,
        "batch_index": batch_index,
        "repeated": repeated,
        "received_batches": sorted(received),
        "missing_batches": [index for index in expected if index not in received],
        "completed": stream.completed,
    }


def stream_pages(*, person: Person, stream_id: str) -> QuerySet[KnowledgePage]:
    """A stream's pages in stream order: batch, then position."""
    return KnowledgePage.objects.filter(person=person, stream__stream_id=stream_id).order_by("batch_index", "position")


@transaction.atomic
def page_update(*, page: KnowledgePage, content: str, title: str | None = None) -> KnowledgePage:
    """New content: a new version, indexed again (chunks of the old version stay until then)."""
    KnowledgePage.objects.filter(pk=page.pk).update(
        content=content,
        title=title if title is not None else page.title,
        version=F("version") + 1,
        status=KnowledgePage.Status.PENDING,
        updated_at=timezone.now(),
    )
    page.refresh_from_db()
    _queue_index(person=page.person, pages=[page])
    return page


def page_delete(*, page: KnowledgePage) -> None:
    page.delete()  # its chunks go with it


@transaction.atomic
def review_submit(*, person: Person, articles: list[str], notes: list[str]) -> list[ReviewItem]:
    """Articles and notes wait for staff; nothing is known until approved."""
    items = [ReviewItem(workspace_id=person.workspace_id, person=person, kind=ReviewItem.Kind.ARTICLE, content=text)
             for text in articles]  # fmt: skip
    items += [ReviewItem(workspace_id=person.workspace_id, person=person, kind=ReviewItem.Kind.NOTE, content=text)
              for text in notes]  # fmt: skip
    return ReviewItem.objects.bulk_create(items)


def _review_title(item: ReviewItem) -> str:
    first_line = item.content.strip().splitlines()[0] if item.content.strip() else item.kind.title()
    return (first_line[:120] + "…") if len(first_line) > 120 else first_line


@transaction.atomic
def review_approve(*, item: ReviewItem, reviewer: User | None = None) -> KnowledgePage:
    """Approved: the item becomes a page of the persona's knowledge (once, however often approved)."""
    item = ReviewItem.objects.select_for_update().select_related("person").get(pk=item.pk)
    if item.status == ReviewItem.Status.APPROVED and item.page is not None:
        return item.page
    page = _page(
        item.person,
        {"title": _review_title(item), "content": item.content, "metadata": {"review_kind": item.kind}},
        source=KnowledgePage.Source.REVIEW,
    )
    page.save()
    ReviewItem.objects.filter(pk=item.pk).update(
        status=ReviewItem.Status.APPROVED, page=page, reviewed_by=reviewer, reviewed_at=timezone.now()
    )
    _queue_index(person=item.person, pages=[page])
    return page


@transaction.atomic
def review_reject(*, item: ReviewItem, reviewer: User | None = None) -> None:
    """Rejected: it stays out of the knowledge base (an approved item's page is removed)."""
    item = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if item.page_id:
        KnowledgePage.objects.filter(pk=item.page_id).delete()
    ReviewItem.objects.filter(pk=item.pk).update(
        status=ReviewItem.Status.REJECTED, page=None, reviewed_by=reviewer, reviewed_at=timezone.now()
    )
