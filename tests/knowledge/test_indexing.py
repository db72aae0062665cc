"""Indexing pages into chunks with the real sentence model: versions, failures, and the job that runs it."""

import numpy as np
import pytest
from django.db import connection

from knowledge import indexing
from knowledge.chunking import MAX_WORDS, chunk_page
from knowledge.embeddings import DIMENSIONS, embed, from_bytes
from knowledge.indexing import index_pages
from knowledge.models import KnowledgeChunk, KnowledgePage
from knowledge.retrieval import vector_column_available
from media_jobs.engines.base import EngineError
from media_jobs.models import MediaJob
from media_jobs.services import job_create
from tests import factories

HOURS = (
    "The bakery opens at 7 a.m. on weekdays and at 8 a.m. on Saturdays. On Sundays it opens from 8 a.m. until "
    "noon. It is closed on Christmas Day and for two weeks in August."
)
# 506 words in 22 sentences of 23 words: more than one passage.
HISTORY = " ".join(
    f"In year {year} of its history the bakery tried recipe number {year}, which customers remembered for a "
    f"long time because of its crust."
    for year in range(1, 23)
)


@pytest.fixture
def person(db):
    return factories.person_create(workspace=factories.workspace_create(), with_photo=False)


def _page(person, title: str, content: str) -> KnowledgePage:
    return KnowledgePage.objects.create(workspace=person.workspace, person=person, title=title, content=content)


def _chunks(page) -> list[KnowledgeChunk]:
    return list(KnowledgeChunk.objects.filter(page=page).order_by("ordinal"))


def test_pages_become_chunks_with_unit_embeddings(person):
    hours, history = _page(person, "Opening hours", HOURS), _page(person, "Our history", HISTORY)
    reported = []

    result = index_pages(pages=[[hours.pk, 1], [history.pk, 1]], progress=reported.append)

    assert result["pages"] == 2 and result["skipped"] == 0 and result["seconds"] >= 0
    assert result["chunks"] == KnowledgeChunk.objects.filter(person=person).count() >= 3
    assert [c.text for c in _chunks(hours)] == [f"Opening hours\n{HOURS}"]
    history_chunks = _chunks(history)
    assert len(history_chunks) >= 2 and [c.ordinal for c in history_chunks] == list(range(len(history_chunks)))
    for chunk in _chunks(hours) + history_chunks:
        vector = from_bytes(chunk.embedding)
        assert vector.shape == (DIMENSIONS,) and vector.dtype == np.float32
        assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
        assert chunk.workspace_id == person.workspace_id and chunk.person_id == person.pk
    assert np.allclose(from_bytes(_chunks(hours)[0].embedding), embed([f"Opening hours\n{HOURS}"])[0], atol=1e-5)
    assert set(KnowledgePage.objects.filter(person=person).values_list("status", flat=True)) == {"indexed"}
    assert reported == sorted(reported) and reported[-1] == 99 and len(reported) <= 100


def test_a_long_page_is_cut_between_sentences_with_an_overlap():
    passages = chunk_page("Our history", HISTORY)

    assert len(passages) == 4  # three would need 7 + 7 + 8 sentences (184 words): four of 5 or 6
    bodies = [passage.removeprefix("Our history\n") for passage in passages]
    assert all(passage.startswith("Our history\n") for passage in passages)
    assert all(body.endswith("crust.") for body in bodies)  # whole sentences only
    assert all(len(body.split()) <= MAX_WORDS + 25 for body in bodies)
    for previous, body in zip(bodies, bodies[1:], strict=False):
        last_sentence = previous.rsplit(". ", 1)[-1]
        assert body.startswith(last_sentence)  # the sentence before the cut opens the next passage
    assert chunk_page("Our history", HISTORY) == passages


def test_a_sentence_longer_than_a_passage_is_cut_between_words():
    passages = chunk_page("Words", " ".join(f"word{n}" for n in range(500)))

    assert len(passages) == 3
    assert all(len(p.split()) <= MAX_WORDS + 13 for p in passages)
    assert passages[1].split()[1:13] == passages[0].split()[-12:]  # a few words of overlap


def test_an_empty_page_is_indexed_with_no_chunks(person):
    page = _page(person, "Draft", "  \n ")

    assert index_pages(pages=[[page.pk, 1]])["chunks"] == 0

    page.refresh_from_db()
    assert page.status == KnowledgePage.Status.INDEXED and _chunks(page) == []


def test_a_job_for_an_old_version_changes_nothing(person):
    page = _page(person, "Opening hours", HOURS)
    index_pages(pages=[[page.pk, 1]])
    before = [(c.pk, c.text) for c in _chunks(page)]
    KnowledgePage.objects.filter(pk=page.pk).update(content="We never open.", version=2, status="pending")

    result = index_pages(pages=[[page.pk, 1]])

    assert result["pages"] == 0 and result["skipped"] == 1
    assert [(c.pk, c.text) for c in _chunks(page)] == before
    page.refresh_from_db()
    assert page.status == KnowledgePage.Status.PENDING  # left for the job of version 2


def test_a_new_version_replaces_the_chunks(person):
    page = _page(person, "Opening hours", HISTORY)
    index_pages(pages=[[page.pk, 1]])
    old = {c.pk for c in _chunks(page)}
    KnowledgePage.objects.filter(pk=page.pk).update(content=HOURS, version=2, status="pending")

    index_pages(pages=[[page.pk, 2]])

    chunks = _chunks(page)
    assert [c.text for c in chunks] == [f"Opening hours\n{HOURS}"]
    assert not old & {c.pk for c in chunks}
    assert KnowledgeChunk.objects.filter(pk__in=old).count() == 0


def test_a_deleted_page_is_skipped(person):
    kept, deleted = _page(person, "Opening hours", HOURS), _page(person, "Gone", HISTORY)
    deleted_id = deleted.pk
    deleted.delete()

    result = index_pages(pages=[[kept.pk, 1], [deleted_id, 1]])

    assert (result["pages"], result["skipped"]) == (1, 1)


def test_a_model_failure_is_retryable_and_marks_the_pages_failed(person, monkeypatch):
    page = _page(person, "Opening hours", HOURS)

    def broken(texts):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(indexing, "embed", broken)

    with pytest.raises(EngineError, match="out of memory") as caught:
        index_pages(pages=[[page.pk, 1]])

    assert caught.value.retryable
    page.refresh_from_db()
    assert page.status == KnowledgePage.Status.FAILED and _chunks(page) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text and vector columns exist on PostgreSQL only")
def test_on_postgresql_chunks_get_their_search_vector_and_vector_column(person):
    page = _page(person, "Opening hours", HOURS)

    index_pages(pages=[[page.pk, 1]])

    chunk = _chunks(page)[0]
    assert "sunday" in str(chunk.search_vector)
    if vector_column_available(connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT embedding_vector::text FROM knowledge_knowledgechunk WHERE id = %s", [chunk.pk])
            stored = np.array(cursor.fetchone()[0].strip("[]").split(","), dtype=np.float32)
        assert np.array_equal(stored, from_bytes(chunk.embedding))


def test_the_knowledge_index_job_runs_it(person, django_capture_on_commit_callbacks):
    page = _page(person, "Opening hours", HOURS)

    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(
            workspace=person.workspace,
            kind="knowledge_index",
            person_id=person.pk,
            params={"pages": [[page.pk, page.version]]},
        )

    job.refresh_from_db()
    assert job.status == MediaJob.Status.READY, job.error
    assert job.result["pages"] == 1 and job.result["chunks"] == 1 and job.result["skipped"] == 0
    assert len(_chunks(page)) == 1
