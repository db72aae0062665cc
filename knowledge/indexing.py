"""Turning pages into searchable chunks: the work of a knowledge-index job.

A job names each page with the version it was queued for. A page edited since (a newer version, and
a newer job of its own) or deleted is skipped, so an old job never overwrites newer chunks. Pages are
embedded in groups, batches running across page boundaries; each page's chunks are then replaced in
one transaction, so a search sees either the old chunks or the new ones, never a mix.
"""

import time
from collections.abc import Callable

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction

from knowledge.chunking import chunk_page
from knowledge.embeddings import embed, to_bytes
from knowledge.models import KnowledgeChunk, KnowledgePage
from knowledge.retrieval import vector_column_available, vector_literal
from media_jobs.engines.base import EngineError

GROUP_PASSAGES = 256  # passages embedded together (four batches of 64) before their pages are written
PAGES_PER_QUERY = 200

_SET_VECTORS_SQL = """
UPDATE knowledge_knowledgechunk AS c SET embedding_vector = v.vector::vector
FROM unnest(%s::bigint[], %s::text[]) AS v(id, vector)
WHERE c.id = v.id
"""


class _Reporter:
    """Progress as a percentage, reported only when it moves (each report is a database write)."""

    def __init__(self, progress: Callable[[int], None] | None, total: int):
        self.progress, self.total, self.done, self.last = progress, max(total, 1), 0, -1

    def advance(self, amount: float) -> None:
        self.done += amount
        percent = min(99, int(100 * self.done / self.total))
        if self.progress is not None and percent > self.last:
            self.last = percent
            self.progress(percent)


def index_pages(*, pages: list[list[int]], progress: Callable[[int], None] | None = None) -> dict:
    """Chunk, embed and store the pages still at their queued version; returns the counts for the job.

    A failure of the sentence model or of a page's write raises a retryable EngineError: the pages
    concerned are marked failed (the retry indexes them again), the pages written before stay indexed.
    A page without text is indexed with no chunks.
    """
    started = time.monotonic()
    wanted = {int(page_id): int(version) for page_id, version in pages}
    reporter = _Reporter(progress, total=len(wanted))
    counts = {"pages": 0, "chunks": 0, "skipped": 0}
    group: list[tuple[KnowledgePage, list[str]]] = []
    ids = sorted(wanted)
    for start in range(0, len(ids), PAGES_PER_QUERY):
        batch = ids[start : start + PAGES_PER_QUERY]
        found = {
            page.pk: page
            for page in KnowledgePage.objects.filter(pk__in=batch).only(
                "id", "workspace_id", "person_id", "title", "content", "version"
            )
        }
        for page_id in batch:
            page = found.get(page_id)
            if page is None or page.version != wanted[page_id]:
                counts["skipped"] += 1  # deleted, or changed since (its own job will index it)
                reporter.advance(1)
                continue
            group.append((page, chunk_page(page.title, page.content)))
            if sum(len(passages) for _, passages in group) >= GROUP_PASSAGES:
                _index_group(group, counts, reporter)
                group = []
    if group:
        _index_group(group, counts, reporter)
    return {**counts, "seconds": round(time.monotonic() - started, 3)}


def _index_group(group: list[tuple[KnowledgePage, list[str]]], counts: dict, reporter: _Reporter) -> None:
    texts = [text for _, passages in group for text in passages]
    try:
        vectors = embed(texts)
    except Exception as exc:
        _mark_failed([page for page, _ in group])
        if isinstance(exc, EngineError):
            raise
        raise EngineError(f"The sentence model failed: {exc}", retryable=True) from exc
    offset = 0
    for page, passages in group:
        page_vectors = vectors[offset : offset + len(passages)]
        offset += len(passages)
        try:
            written = _replace_chunks(page, passages, page_vectors)
        except Exception as exc:  # the database: most such errors pass (a deadlock, a dropped connection)
            _mark_failed([page])
            raise EngineError(f"Page {page.pk} could not be stored: {exc}", retryable=True) from exc
        if written is None:
            counts["skipped"] += 1
        else:
            counts["pages"] += 1
            counts["chunks"] += written
        reporter.advance(1)


@transaction.atomic
def _replace_chunks(page: KnowledgePage, passages: list[str], vectors) -> int | None:
    """The page's chunks for this version, in place of the old ones; None if the page changed meanwhile."""
    locked = KnowledgePage.objects.select_for_update().filter(pk=page.pk, version=page.version).exists()
    if not locked:
        return None
    KnowledgeChunk.objects.filter(page_id=page.pk).delete()
    chunks = KnowledgeChunk.objects.bulk_create(
        [
            KnowledgeChunk(
                workspace_id=page.workspace_id,
                person_id=page.person_id,
                page_id=page.pk,
                ordinal=ordinal,
                text=text,
                embedding=to_bytes(vector),
            )
            for ordinal, (text, vector) in enumerate(zip(passages, vectors, strict=True))
        ]
    )
    if chunks and connection.vendor == "postgresql":
        KnowledgeChunk.objects.filter(page_id=page.pk).update(search_vector=SearchVector("text", config="english"))
        if vector_column_available(connection):
            with connection.cursor() as cursor:
                cursor.execute(
                    _SET_VECTORS_SQL, [[chunk.pk for chunk in chunks], [vector_literal(vector) for vector in vectors]]
                )
    KnowledgePage.objects.filter(pk=page.pk).update(status=KnowledgePage.Status.INDEXED)
    return len(chunks)


def _mark_failed(pages: list[KnowledgePage]) -> None:
    """Failed, for the versions this job was indexing; a newer version keeps its own state."""
    for page in pages:
        KnowledgePage.objects.filter(pk=page.pk, version=page.version).update(status=KnowledgePage.Status.FAILED)
