"""BHuman knowledge base: `/persona/api/kb/...` store, stream, edit, review and prompt routes.

Pages are indexed by a job (Celery eager, run when the request commits) with the real sentence model,
and found again by the real retrieval.
"""

import numpy as np
import pytest
from django.urls import reverse

from accounts.models import User
from knowledge import embeddings, indexing, retrieval
from knowledge.models import KnowledgeChunk, KnowledgePage, ReviewItem
from knowledge.retrieval import relevant, retrieve
from knowledge.services.pages import stream_pages
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_bhuman_error

pytestmark = pytest.mark.django_db

KB = "/persona/api/kb"

# A small bakery: each page holds facts found on no other page.
PAGES = [
    {
        "title": "Sourdough starter care",
        "content": (
            "A healthy starter is the heart of every sourdough loaf. Keep it in a glass jar at room temperature "
            "and feed it once a day: discard all but 50 grams, then add 50 grams of strong white flour and 50 "
            "grams of lukewarm water, and stir well. A layer of grey liquid on top, called hooch, means the "
            "starter is hungry."
        ),
        "metadata": {"author": "Maya", "date": "2024-05-01"},
    },
    {
        "title": "Delivery and shipping",
        "content": (
            "Orders placed before 1 p.m. are baked the same day and shipped overnight with a tracked courier. "
            "Standard delivery costs £4.95 and is free for orders over £40. International delivery to the "
            "United States and Canada costs £14 and takes five to ten working days."
        ),
    },
    {
        "title": "About Maya",
        "content": (
            "Maya Okafor grew up in Lagos and moved to Manchester at the age of twelve. She studied chemistry at "
            "the University of Leeds and spent six years as a food scientist at a large bread manufacturer. In "
            "2015 she opened Sunrise Bakery with her brother Tunde."
        ),
    },
]


_REAL_EMBED = embeddings.embed
_vectors: dict[str, np.ndarray] = {}


def _embed_once(texts: list[str]) -> np.ndarray:
    """The real model's vectors, each text encoded once per test run (the same pages are indexed per test)."""
    missing = [text for text in dict.fromkeys(texts) if text not in _vectors]
    if missing:
        _vectors.update(zip(missing, _REAL_EMBED(missing), strict=True))
    return np.stack([_vectors[text] for text in texts]) if texts else _REAL_EMBED([])


@pytest.fixture(autouse=True)
def embeddings_cached(monkeypatch):
    """Indexing, retrieval and the local responder all embed through the cache."""
    monkeypatch.setattr(embeddings, "embed", _embed_once)
    monkeypatch.setattr(indexing, "embed", _embed_once)
    monkeypatch.setattr(retrieval, "embed", _embed_once)


@pytest.fixture
def persona(workspace):
    return factories.person_create(workspace=workspace, name="Maya", with_photo=False)


def store(client, capture, pages=PAGES, **extra) -> list[str]:
    """Store pages and run their indexing job; the new pages' ids."""
    with capture(execute=True):
        response = client.post(f"{KB}/store-pages", {"pages": pages, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["page_ids"]


def found_pages(person, question: str) -> list[str]:
    """Titles of the pages retrieval deems relevant to the question."""
    return list(dict.fromkeys(p.title for p in relevant(retrieve(person_id=person.pk, query=question))))


def training_titles(client, **query) -> list[str]:
    response = client.get(f"{KB}/training-data", query)
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["training_data"]]


# --- store-pages and training-data ---------------------------------------------------------------


def test_the_seed_body_stores_a_page_that_is_indexed(api_client, persona, django_capture_on_commit_callbacks):
    seed = {
        "pages": [
            {
                "title": "Page Title",
                "content": "Page content here",
                "metadata": {"author": "Author Name", "date": "2024-05-01"},
            }
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{KB}/store-pages", seed, format="json")

    assert response.status_code == 201, response.content
    payload = response.json()
    page = KnowledgePage.objects.get()
    assert payload == {"status": "success", "message": "Pages stored successfully", "page_ids": [str(page.pk)]}
    assert (page.person, page.title, page.content, page.source) == (persona, "Page Title", "Page content here", "store")
    assert page.metadata == {"author": "Author Name", "date": "2024-05-01"}
    assert page.status == KnowledgePage.Status.INDEXED
    assert KnowledgeChunk.objects.filter(page=page, person=persona).exists()
    job = MediaJob.objects.get(kind="knowledge_index")
    assert (job.status, job.params["pages"]) == (MediaJob.Status.READY, [[page.pk, 1]])


def test_stored_pages_are_listed_as_training_data_and_found(api_client, persona, django_capture_on_commit_callbacks):
    ids = store(api_client, django_capture_on_commit_callbacks)

    response = api_client.get(f"{KB}/training-data")

    assert response.status_code == 200
    payload = response.json()
    assert payload["status"] == "success"
    assert payload["training_data"] == [
        {"id": page_id, "title": page["title"], "content": page["content"], "status": "indexed"}
        for page_id, page in zip(ids, PAGES, strict=True)
    ]
    assert payload["pagination"] == {"total": 3, "page": 1, "pages": 1}
    assert KnowledgeChunk.objects.filter(person=persona).values("page").distinct().count() == 3
    assert found_pages(persona, "How much does standard delivery cost?")[0] == "Delivery and shipping"
    # One item, and pages of the list.
    one = api_client.get(f"{KB}/training-data/{ids[1]}").json()
    assert one == {"status": "success", "training_data": payload["training_data"][1]}
    second = api_client.get(f"{KB}/training-data", {"limit": 2, "page": 2}).json()
    assert [item["id"] for item in second["training_data"]] == [ids[2]]
    assert second["pagination"] == {"total": 3, "page": 2, "pages": 2}


def test_put_replaces_the_content_and_indexes_it_again(api_client, persona, django_capture_on_commit_callbacks):
    ids = store(api_client, django_capture_on_commit_callbacks)
    assert "Sourdough starter care" in found_pages(persona, "How often should I feed my starter?")
    new_content = (
        "Our sourdough is proved for thirty-six hours in wicker baskets before it is baked in the wood-fired oven "
        "at 250 degrees."
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.put(
            f"{KB}/training-data", {"training_data": {"id": ids[0], "content": new_content}}, format="json"
        )

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "success", "message": "Training data updated successfully"}
    page = KnowledgePage.objects.get(pk=int(ids[0]))
    assert (page.title, page.content, page.version, page.status) == (
        "Sourdough starter care", new_content, 2, KnowledgePage.Status.INDEXED,
    )  # fmt: skip
    chunks = " ".join(KnowledgeChunk.objects.filter(page=page).values_list("text", flat=True))
    assert "wicker baskets" in chunks and "50 grams" not in chunks
    passages = retrieve(person_id=persona.pk, query="How long is the sourdough proved?")
    assert passages[0].page_id == page.pk and "thirty-six hours" in passages[0].text
    old = retrieve(person_id=persona.pk, query="How many grams of flour do I feed the starter?", limit=10)
    assert not any("50 grams" in passage.text for passage in old)
    listed = api_client.get(f"{KB}/training-data/{ids[0]}").json()["training_data"]
    assert listed["content"] == new_content


def test_put_may_change_the_title_and_refuses_unknown_ids(api_client, persona, django_capture_on_commit_callbacks):
    ids = store(api_client, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.put(
            f"{KB}/training-data",
            {"training_data": {"id": ids[1], "content": "Shipping is free.", "title": "Shipping"}},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert KnowledgePage.objects.get(pk=int(ids[1])).title == "Shipping"

    # The seed's own body names an id ("data1") that is not one of ours: nothing by that id, a 404.
    seed = {"training_data": {"id": "data1", "content": "Updated training data content"}}
    response = api_client.put(f"{KB}/training-data", seed, format="json")
    assert_bhuman_error(response, 404, "training_data.id: no training data with id 'data1'.")
    unknown = {"training_data": {"id": "999999", "content": "x"}}
    assert_bhuman_error(api_client.put(f"{KB}/training-data", unknown, format="json"), 404, "not found")
    for body, field in [
        ({}, "training_data: This field is required."),
        ({"training_data": {"id": ids[0]}}, "training_data.content: This field is required."),
        ({"training_data": {"content": "x"}}, "training_data.id: This field is required."),
        ({"training_data": {"id": int(ids[0]), "content": "x"}}, "training_data.id:"),
        ({"training_data": {"id": ids[0], "content": ["x"]}}, "training_data.content:"),
    ]:
        assert_bhuman_error(api_client.put(f"{KB}/training-data", body, format="json"), 400, field)
    assert KnowledgePage.objects.get(pk=int(ids[0])).version == 1


def test_delete_by_body_id_by_query_and_by_path(api_client, persona, django_capture_on_commit_callbacks):
    ids = store(api_client, django_capture_on_commit_callbacks)
    deleted = {"status": "success", "message": "Training data deleted successfully"}

    assert api_client.delete(f"{KB}/training-data", {"id": ids[0]}, format="json").json() == deleted
    assert api_client.delete(f"{KB}/training-data?id={ids[1]}").json() == deleted
    assert api_client.delete(f"{KB}/training-data/{ids[2]}").json() == deleted

    assert not KnowledgePage.objects.exists() and not KnowledgeChunk.objects.exists()
    assert training_titles(api_client) == []
    assert found_pages(persona, "How much does standard delivery cost?") == []
    for response in (
        api_client.delete(f"{KB}/training-data", {"id": ids[0]}, format="json"),
        api_client.delete(f"{KB}/training-data/{ids[0]}"),
        api_client.get(f"{KB}/training-data/{ids[0]}"),
    ):
        assert_bhuman_error(response, 404, "not found")
    assert_bhuman_error(api_client.delete(f"{KB}/training-data", {}, format="json"), 400, "id: This field is required.")
    response = api_client.delete(f"{KB}/training-data", {"id": "data1"}, format="json")
    assert_bhuman_error(response, 404, "id: no training data with id 'data1'.")
    assert_bhuman_error(api_client.delete(f"{KB}/training-data", {"id": 1}, format="json"), 400, "id:")


@pytest.mark.parametrize(
    "body, message",
    [
        ("[null, null]", "Expected a dictionary"),
        ('["id", "1"]', "Expected a dictionary"),
        ("7", "Expected"),
        ("null", ""),
    ],
)
def test_delete_refuses_a_body_that_is_not_an_object(api_client, persona, body, message):
    """Found by schemathesis: a JSON array here was merged into the query string's dict, a 500."""
    response = api_client.delete(f"{KB}/training-data?id=1", body, content_type="application/json")

    assert_bhuman_error(response, 400, message)


def test_store_pages_refuses_bodies_of_the_wrong_shape(api_client, persona):
    page = {"title": "T", "content": "C"}
    for body, field in [
        ({}, "pages: This field is required."),
        ({"pages": []}, "pages:"),
        ({"pages": page}, "pages:"),
        ({"pages": [{"content": "C"}]}, "pages.0.title: This field is required."),
        ({"pages": [page, {"title": "T"}]}, "pages.1.content: This field is required."),
        ({"pages": [{**page, "metadata": "author"}]}, "pages.0.metadata:"),
        ({"pages": [{**page, "metadata": {"author": ["A\x00"]}}]}, "pages.0.metadata: Null characters"),
        ({"pages": [{**page, "title": 5}]}, "pages.0.title:"),
        ({"pages": [page], "instance_id": 999999}, "instance_id:"),
    ]:
        assert_bhuman_error(api_client.post(f"{KB}/store-pages", body, format="json"), 400, field)
    unknown = {"pages": [page], "instance_id": "999999"}
    response = api_client.post(f"{KB}/store-pages", unknown, format="json")
    assert_bhuman_error(response, 404, "instance_id: no instance with id '999999'.")
    assert not KnowledgePage.objects.exists() and not MediaJob.objects.exists()


# --- stream-pages --------------------------------------------------------------------------------


def batch(*titles: str) -> list[dict]:
    return [{"title": title, "content": f"{title} is a page of the stream."} for title in titles]


def send(client, capture, pages, *, stream_id="stream123", **stream_data):
    with capture(execute=True):
        return client.post(
            f"{KB}/stream-pages",
            {"stream_data": {"stream_id": stream_id, "pages": pages, **stream_data}},
            format="json",
        )


def test_the_seed_body_streams_a_first_batch(api_client, persona, django_capture_on_commit_callbacks):
    seed = {
        "stream_data": {
            "stream_id": "stream123",
            "pages": [
                {
                    "title": "Page Title",
                    "content": "Page content here",
                    "metadata": {"author": "Author Name", "date": "2024-05-01"},
                }
            ],
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{KB}/stream-pages", seed, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success", "message": "Pages streamed successfully", "stream_id": "stream123", "batch_index": 0,
        "repeated": False, "received_batches": [0], "missing_batches": [], "completed": False,
    }  # fmt: skip
    page = KnowledgePage.objects.get()
    assert (page.source, page.status, page.metadata["author"]) == ("stream", "indexed", "Author Name")
    assert training_titles(api_client) == ["Page Title"]


def test_batches_out_of_order_keep_the_stream_exact_and_in_order(
    api_client, persona, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks

    third = send(api_client, capture, batch("E", "F"), batch_index=2).json()
    assert (third["batch_index"], third["received_batches"], third["missing_batches"]) == (2, [2], [0, 1])
    first = send(api_client, capture, batch("A", "B"), batch_index=0).json()
    assert (first["received_batches"], first["missing_batches"], first["repeated"]) == ([0, 2], [1], False)
    # A client resuming after a lost answer sends batch 0 again: nothing changes.
    pages_before = list(KnowledgePage.objects.values_list("pk", "version"))
    jobs_before = MediaJob.objects.count()
    again = send(api_client, capture, batch("A", "B"), batch_index=0)
    assert again.status_code == 200, again.content
    assert (again.json()["repeated"], again.json()["missing_batches"]) == (True, [1])
    assert list(KnowledgePage.objects.values_list("pk", "version")) == pages_before
    assert MediaJob.objects.count() == jobs_before
    # The same place with other pages is a conflict, and changes nothing either.
    conflict = send(api_client, capture, batch("X"), batch_index=0)
    assert_bhuman_error(conflict, 409, "batch 0")
    last = send(api_client, capture, batch("C", "D"), batch_index=1, final=True).json()
    assert (last["received_batches"], last["missing_batches"], last["completed"]) == ([0, 1, 2], [], True)

    assert [page.title for page in stream_pages(person=persona, stream_id="stream123")] == list("ABCDEF")
    assert sorted(training_titles(api_client)) == list("ABCDEF")
    assert set(KnowledgePage.objects.values_list("status", flat=True)) == {"indexed"}
    assert found_pages(persona, "Which page of the stream is D?")[0] == "D"


def test_batches_without_an_index_append_and_a_repeat_is_recognised(
    api_client, persona, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks

    assert send(api_client, capture, batch("A"), stream_id="s2").json()["batch_index"] == 0
    assert send(api_client, capture, batch("B", "C"), stream_id="s2").json()["batch_index"] == 1
    repeat = send(api_client, capture, batch("A"), stream_id="s2").json()
    assert (repeat["batch_index"], repeat["repeated"], repeat["received_batches"]) == (0, True, [0, 1])
    # A later indexed batch leaves a gap that is reported.
    gap = send(api_client, capture, batch("F"), stream_id="s2", batch_index=4).json()
    assert gap["missing_batches"] == [2, 3]
    assert send(api_client, capture, batch("D"), stream_id="s2").json()["batch_index"] == 5

    assert [page.title for page in stream_pages(person=persona, stream_id="s2")] == ["A", "B", "C", "F", "D"]
    # Another stream id is another stream.
    assert send(api_client, capture, batch("A"), stream_id="s3").json()["repeated"] is False


def test_stream_pages_refuses_bodies_of_the_wrong_shape(api_client, persona):
    pages = batch("A")
    for stream_data, field in [
        ({"pages": pages}, "stream_data.stream_id: This field is required."),
        ({"stream_id": "s"}, "stream_data.pages: This field is required."),
        ({"stream_id": "s", "pages": []}, "stream_data.pages:"),
        ({"stream_id": 5, "pages": pages}, "stream_data.stream_id:"),
        ({"stream_id": "s", "pages": pages, "batch_index": -1}, "stream_data.batch_index:"),
        ({"stream_id": "s", "pages": pages, "batch_index": "1"}, "stream_data.batch_index:"),
    ]:
        response = api_client.post(f"{KB}/stream-pages", {"stream_data": stream_data}, format="json")
        assert_bhuman_error(response, 400, field)
    assert_bhuman_error(api_client.post(f"{KB}/stream-pages", {}, format="json"), 400, "stream_data:")
    assert not KnowledgePage.objects.exists()


# --- review-data ---------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    return client


def review_action(staff_client, capture, action: str, items) -> None:
    with capture(execute=True):
        response = staff_client.post(
            reverse("admin:knowledge_reviewitem_changelist"),
            {"action": action, "_selected_action": [item.pk for item in items]},
        )
    assert response.status_code == 302, response.content


def test_the_seed_body_is_queued_for_review(api_client, persona):
    seed = {"review_data": {"articles": ["article1", "article2"], "notes": ["note1", "note2"]}}

    response = api_client.post(f"{KB}/review-data", seed, format="json")

    assert response.status_code == 202, response.content
    items = list(ReviewItem.objects.order_by("pk"))
    assert response.json() == {
        "status": "success", "message": "Data submitted for review", "review_ids": [str(i.pk) for i in items],
    }  # fmt: skip
    assert [(i.kind, i.content, i.status, i.person) for i in items] == [
        ("article", "article1", "pending", persona), ("article", "article2", "pending", persona),
        ("note", "note1", "pending", persona), ("note", "note2", "pending", persona),
    ]  # fmt: skip
    assert training_titles(api_client) == [] and not KnowledgePage.objects.exists()


DOG = (
    "Biscuit the bakery dog\n"
    "Biscuit is the bakery's golden retriever. He sleeps by the flour sacks and greets every customer at the door."
)
HONEY = "The bakery's secret ingredient is a spoonful of Tasmanian leatherwood honey in every loaf."


def submit_for_review(client, capture) -> list[ReviewItem]:
    body = {"review_data": {"articles": [DOG], "notes": [HONEY]}}
    with capture(execute=True):
        assert client.post(f"{KB}/review-data", body, format="json").status_code == 202
    return list(ReviewItem.objects.order_by("pk"))


def test_rejected_review_data_is_never_known(api_client, persona, staff_client, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    items = submit_for_review(api_client, capture)
    assert training_titles(api_client) == []
    assert found_pages(persona, "What is the secret ingredient in your bread?") == []

    review_action(staff_client, capture, "reject", items)

    assert [(item.status, item.page_id) for item in ReviewItem.objects.order_by("pk")] == [("rejected", None)] * 2
    assert ReviewItem.objects.first().reviewed_by.email == "staff@example.com"
    assert training_titles(api_client) == [] and not KnowledgePage.objects.exists()
    assert found_pages(persona, "What is the secret ingredient in your bread?") == []
    assert not MediaJob.objects.exists()


def test_reviewed_data_is_known_only_once_staff_approve_it(
    api_client, persona, staff_client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    dog, honey = submit_for_review(api_client, capture)

    # Nothing is known before review.
    assert training_titles(api_client) == []
    assert found_pages(persona, "What is the name of the bakery dog?") == []
    assert not MediaJob.objects.exists()

    review_action(staff_client, capture, "approve", [dog])
    review_action(staff_client, capture, "reject", [honey])

    dog.refresh_from_db()
    honey.refresh_from_db()
    assert (dog.status, honey.status, honey.page) == ("approved", "rejected", None)
    assert dog.reviewed_by.email == "staff@example.com"
    assert training_titles(api_client) == ["Biscuit the bakery dog"]
    assert KnowledgePage.objects.get().status == KnowledgePage.Status.INDEXED
    assert found_pages(persona, "What is the name of the bakery dog?") == ["Biscuit the bakery dog"]
    assert found_pages(persona, "What is the secret ingredient in your bread?") == []
    # Approving again adds nothing.
    review_action(staff_client, capture, "approve", [dog])
    assert KnowledgePage.objects.count() == 1


def test_review_data_refuses_bodies_of_the_wrong_shape(api_client, persona):
    for review_data, field in [
        ({"articles": ["a"]}, "review_data.notes: This field is required."),
        ({"notes": ["n"]}, "review_data.articles: This field is required."),
        ({"articles": "a", "notes": []}, "review_data.articles:"),
        ({"articles": [5], "notes": []}, "review_data.articles"),
    ]:
        response = api_client.post(f"{KB}/review-data", {"review_data": review_data}, format="json")
        assert_bhuman_error(response, 400, field)
    assert not ReviewItem.objects.exists()


# --- auto-generate-prompts -----------------------------------------------------------------------


def prompts(client, data: dict, **extra) -> list[str]:
    response = client.post(f"{KB}/auto-generate-prompts", {"data": data, **extra}, format="json")
    assert response.status_code == 200, response.content
    assert list(response.json()) == ["status", "prompts"] and response.json()["status"] == "success"
    return response.json()["prompts"]


def test_prompts_ask_about_the_topics_from_what_the_persona_knows(
    api_client, persona, django_capture_on_commit_callbacks
):
    store(api_client, django_capture_on_commit_callbacks)

    suggested = prompts(
        api_client,
        {"topics": ["sourdough starter", "shipping costs", "Maya Okafor"], "context": "Questions from customers"},
    )

    assert 3 <= len(suggested) <= 5
    assert len({question.lower() for question in suggested}) == len(suggested)
    assert all(question.endswith("?") for question in suggested)
    text = " ".join(suggested).lower()
    assert "sourdough" in text and "shipping" in text and "maya" in text
    # Every topic gets a question, even past `count`.
    fewer = prompts(api_client, {"topics": ["sourdough starter", "shipping costs", "Maya Okafor"], "count": 2})
    assert len(fewer) == 3
    assert ("sourdough" in fewer[0].lower(), "shipping" in fewer[1].lower(), "maya" in fewer[2].lower()) == (
        True, True, True,
    )  # fmt: skip
    assert 1 <= len(prompts(api_client, {"topics": ["sourdough starter"], "count": 1})) == 1


def test_the_seed_body_and_topics_the_knowledge_base_lacks_get_a_plain_question_each(
    api_client, persona, django_capture_on_commit_callbacks
):
    seed = {"topics": ["topic1", "topic2"], "context": "Additional context for prompt generation"}
    expected = ["What can you tell me about topic1?", "What can you tell me about topic2?"]
    assert prompts(api_client, seed) == expected  # nothing stored yet
    store(api_client, django_capture_on_commit_callbacks)

    assert prompts(api_client, seed) == expected
    assert prompts(api_client, {"topics": ["the rules of cricket"]}) == [
        "What can you tell me about the rules of cricket?"
    ]


def test_the_seeds_context_does_not_hide_a_stored_topic(api_client, persona, django_capture_on_commit_callbacks):
    store(api_client, django_capture_on_commit_callbacks)

    suggested = prompts(
        api_client, {"topics": ["sourdough starter", "delivery"], "context": "Additional context for prompt generation"}
    )

    text = " ".join(suggested).lower()
    assert "sourdough" in text and "deliver" in text


def test_prompts_refuse_bodies_of_the_wrong_shape(api_client, persona):
    for data, field in [
        ({}, "data.topics: This field is required."),
        ({"topics": []}, "data.topics:"),
        ({"topics": "bread"}, "data.topics:"),
        ({"topics": ["bread"], "context": 5}, "data.context:"),
        ({"topics": ["bread"], "count": 0}, "data.count:"),
    ]:
        response = api_client.post(f"{KB}/auto-generate-prompts", {"data": data}, format="json")
        assert_bhuman_error(response, 400, field)


# --- which persona ------------------------------------------------------------------------------


def test_instance_id_selects_another_personas_knowledge(
    api_client, workspace, persona, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    other = factories.person_create(workspace=workspace, name="Tunde", with_photo=False)
    store(api_client, capture)
    theirs = [{"title": "Tunde's van", "content": "Tunde drives the blue delivery van and starts his round at 5 a.m."}]
    [their_id] = store(api_client, capture, theirs, instance_id=str(other.pk))

    assert KnowledgePage.objects.get(pk=int(their_id)).person == other
    assert training_titles(api_client, instance_id=str(other.pk)) == ["Tunde's van"]
    assert "Tunde's van" not in training_titles(api_client)
    # Each persona's pages are its own: by id, in retrieval and in prompts.
    assert_bhuman_error(api_client.get(f"{KB}/training-data/{their_id}"), 404)
    assert api_client.get(f"{KB}/training-data/{their_id}", {"instance_id": str(other.pk)}).status_code == 200
    assert_bhuman_error(api_client.delete(f"{KB}/training-data", {"id": their_id}, format="json"), 404)
    assert found_pages(persona, "When does Tunde start his van round?") == []
    assert found_pages(other, "When does Tunde start his van round?") == ["Tunde's van"]
    assert found_pages(other, "How much does standard delivery cost?") == []
    # Tunde knows nothing of sourdough: his only prompt is the plain question, none grounded in the bakery's pages.
    assert prompts(api_client, {"topics": ["sourdough"]}, instance_id=str(other.pk)) == [
        "What can you tell me about sourdough?"
    ]
    # An instance of another workspace is unknown here.
    foreign = factories.person_create(workspace=factories.workspace_create(), with_photo=False)
    response = api_client.get(f"{KB}/training-data", {"instance_id": str(foreign.pk)})
    assert_bhuman_error(response, 404, f"instance_id: no instance with id '{foreign.pk}'.")
