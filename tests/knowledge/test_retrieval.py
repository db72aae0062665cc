"""Hybrid retrieval on a small real corpus, with the real sentence model.

Runs on whatever database the settings name. On PostgreSQL it also checks that the SQL backends and
the in-process one agree; tests/knowledge/test_pgvector.py runs this file once more against a
PostgreSQL with pgvector, with KNOWLEDGE_EXPECTED_BACKEND=pgvector.
"""

import os

import numpy as np
import pytest
from django.db import connection

from knowledge import indexing, retrieval
from knowledge.embeddings import embed
from knowledge.indexing import index_pages
from knowledge.models import KnowledgePage
from knowledge.retrieval import (
    InProcessSearch,
    PgvectorSearch,
    PostgresSearch,
    backend_for,
    relevant,
    retrieve,
    vector_column_available,
)
from tests import factories

CORPUS = {
    "Opening hours": (
        "Sunrise Bakery on Harbour Street opens at 7 a.m. from Monday to Friday and closes at 6 p.m. On Saturdays "
        "the doors open an hour later, at 8 a.m., and we close at 4 p.m. because the ovens are cleaned in the "
        "afternoon. On Sundays we open only in the morning, from 8 a.m. until noon, and the first loaves come out "
        "of the oven around 8:30. We are closed on Christmas Day, on New Year's Day and for two weeks in August, "
        "when the whole team takes its summer holiday. During the holiday weeks our sourdough is still sold at the "
        "farmers' market on Saturday mornings. If you want to pick up a large order outside these hours, call us a "
        "day ahead and someone will meet you at the side door. The café corner inside the shop serves coffee and "
        "pastries until half an hour before closing time, and the kitchen stops taking sandwich orders at 2 p.m. "
        "on weekdays. Parking is free in the lot behind the building for the first thirty minutes.\n"
        "On bank holidays we keep Saturday hours, except on Easter Monday, when the shop stays shut. The hours "
        "of the market stall are different: it runs from 9 a.m. to 1 p.m. and only takes card payments. When "
        "snow or storms close the roads, we post any change to our hours on the website and on the door by "
        "6 a.m., and pre-orders for that day are moved to the next day free of charge. Large groups, such as a "
        "school visit to watch the bakers at work, are welcome on Tuesday and Thursday mornings by appointment."
    ),
    "Returns and refunds": (
        "We want you to love what you bought. If a product arrives damaged or does not work, tell us within 30 "
        "days of delivery and we will send a replacement or refund the full price, including the shipping cost. "
        "For anything else you can return unused items in their original packaging within 14 days; the refund is "
        "paid back to the card or account you used, usually within five working days after the parcel reaches our "
        "warehouse. Return shipping for change-of-mind returns is paid by the customer. Gift cards, personalised "
        "items and opened food products cannot be returned, except when they are faulty. To start a return, "
        "write to support@sunrise.example with your order number and a photo of the problem, and we will email you "
        "a prepaid label. Items bought in the shop can be brought back to the counter with the receipt. "
        "Sale items can be returned too, but they are refunded at the price you paid, not at the original price.\n"
        "If a delivery is late by more than two days we refund the delivery charge without being asked. Headphones "
        "and other electronics have a two-year warranty on top of these rights: within the warranty we repair or "
        "replace a faulty product free of charge, and if we cannot do either, we pay you back. Refunds for "
        "cancelled wholesale orders follow the terms of your wholesale agreement instead. If you are not happy "
        "with how we handled your return, you can ask for the case to be reviewed by the owner, who answers "
        "every such request personally within a week."
    ),
    "Aurora headphones: battery and charging": (
        "The Aurora wireless headphones play music for up to 38 hours on a single charge with noise cancelling "
        "turned off, and about 30 hours with noise cancelling on. A full charge through the USB-C port takes two "
        "hours, and a quick ten-minute charge gives roughly five hours of playback. The lithium-ion cell keeps "
        "about 80 percent of its capacity after 500 full charging cycles. Battery life is shorter in very cold "
        "weather and when the volume is above 80 percent. The headphones switch themselves off after 30 minutes "
        "without any sound to save power, and the companion app shows the remaining charge in percent. "
        "When the charge falls below ten percent, a voice prompt tells you to plug them in. "
        "We do not recommend leaving them plugged in for days at a time; storing them half charged is best for the "
        "cell when you will not use them for a few months.\n"
        "You can also listen with the supplied cable when the battery is empty; the headphones then work as "
        "ordinary wired headphones, without noise cancelling. The battery cannot be replaced by the owner, but "
        "our repair service swaps it for a fixed fee of £25 once the warranty has ended. Any USB-C charger that "
        "delivers at least 5 volts and 1 ampere will do, and a laptop port works too, only more slowly. The "
        "charging light glows orange while charging and turns green when the headphones are full."
    ),
    "About Maya": (
        "Maya Okafor grew up in Lagos and moved to Manchester at the age of twelve. She studied chemistry at the "
        "University of Leeds and spent six years as a food scientist at a large bread manufacturer, where she "
        "learned how flour, water and time behave at industrial scale. In 2015 she left to open Sunrise Bakery "
        "with her brother Tunde, starting with a single wood-fired oven and a borrowed van. Maya is a keen "
        "long-distance runner and has finished the London Marathon four times. She lives with her partner and "
        "two cats, Brioche and Rye, and she spends her Sunday afternoons in her allotment, growing the rhubarb "
        "and herbs that end up in the seasonal pastries. She writes a monthly newsletter about baking science "
        "and often gives talks at local schools about careers in food.\n"
        "People often ask her why she gave up a safe job. Her answer is always the same: she missed the smell of "
        "her grandmother's kitchen, where bread was baked every morning before school. The bakery won the "
        "regional Best Small Business award in 2019, and in 2022 Maya was named one of the north's ten most "
        "promising food entrepreneurs. She still starts work at four in the morning three days a week, shaping "
        "the dough by hand, and she answers questions from customers herself whenever she can."
    ),
    "Sourdough starter care": (
        "A healthy starter is the heart of every sourdough loaf. Keep it in a glass jar at room temperature and "
        "feed it once a day: discard all but 50 grams, then add 50 grams of strong white flour and 50 grams of "
        "lukewarm water, and stir well. After a feeding it should double in size within four to eight hours; "
        "that is the moment to use it for baking. If you bake only once a week, keep the jar in the fridge and "
        "feed it weekly, then give it two feedings at room temperature before you mix your dough. A layer of "
        "grey liquid on top, called hooch, means the starter is hungry; pour it off and feed it. A pink or orange "
        "tint, on the other hand, means it has spoiled and should be thrown away. Whole rye flour makes a "
        "sluggish starter lively again within a couple of days."
    ),
    "Delivery and shipping": (
        "We deliver our bread, cakes and gift boxes across the United Kingdom. Orders placed before 1 p.m. are "
        "baked the same day and shipped overnight with a tracked courier, so they arrive the next working day. "
        "Standard delivery costs £4.95 and is free for orders over £40. Deliveries to the Scottish Highlands, the "
        "islands and Northern Ireland take one or two extra days. We also ship our headphones and other "
        "non-perishable products to the European Union, the United States and Canada; international delivery "
        "costs £14 and takes five to ten working days, and customs duties are paid by the recipient. You will "
        "receive a tracking link by email as soon as your parcel leaves us. Fresh bread is never sent abroad, "
        "because it would not survive the journey."
    ),
    "Wholesale and catering": (
        "Cafés, restaurants and offices can buy our bread at wholesale prices. A wholesale account needs a "
        "minimum order of twenty loaves a week, delivered by our own van before 7 a.m. on the days you choose. "
        "We bake sandwich loaves, baguettes, focaccia and rolls for catering, and we can prepare platters of "
        "pastries for meetings and weddings with a week's notice. Invoices are sent monthly and are due within "
        "thirty days. To open an account, fill in the form on our website or speak to Tunde at the shop; we "
        "usually start with a free tasting box so your chef can choose."
    ),
    "Allergens and ingredients": (
        "Every product is made in a kitchen that handles wheat, rye, barley, eggs, milk, sesame and nuts, so we "
        "cannot guarantee that anything is free from traces of them. Our sourdough contains only flour, water and "
        "salt. The seeded loaf contains sesame and sunflower seeds, and the brioche contains eggs and butter. We "
        "do not make gluten-free bread, because we cannot keep it apart from the flour in the air. Each label "
        "lists the allergens in bold, and the staff at the counter can show you the full recipe of any product. "
        "Our vegan range, marked with a green leaf, uses oat milk and plant-based butter."
    ),
}

# Questions in other words than the page's, and the page that answers each.
QUESTIONS = [
    ("Can I come in on a Sunday?", "Opening hours"),
    ("What time do you shut in the evening during the week?", "Opening hours"),
    ("Can I get my money back if my order came broken?", "Returns and refunds"),
    ("How long does the headset play before it needs recharging?", "Aurora headphones: battery and charging"),
    ("What did Maya work as before the bakery?", "About Maya"),
    ("How often should I feed the sourdough culture?", "Sourdough starter care"),
    ("How much is postage to America?", "Delivery and shipping"),
    ("Is there anything without gluten?", "Allergens and ingredients"),
]

UNRELATED = [
    "What is the capital of Mongolia?",
    "Who won the football world cup in 1966?",
    "How do I change a flat tyre on a mountain bike?",
    "What is the price of a flight to Paris?",  # close to the shipping page in meaning, with no shared word
]

OTHER_CORPUS = {
    "Opening hours of Bolt Hardware": (
        "Bolt Hardware opens at 9 a.m. every day, including Sundays, and closes at 8 p.m. We cut keys while you "
        "wait, mix paint to any colour and rent out ladders and drills by the day."
    ),
    "Bolt Hardware refunds": (
        "Tools can be returned within 60 days for a full refund with the receipt. Paint mixed to order cannot be "
        "returned. Your money back is paid in cash or to your card."
    ),
}


_vectors: dict[str, np.ndarray] = {}


def _embed_once(texts: list[str]) -> np.ndarray:
    """The real model's vectors, each text encoded once per test run (the corpus is indexed per test)."""
    missing = [text for text in dict.fromkeys(texts) if text not in _vectors]
    _vectors.update(zip(missing, embed(missing), strict=True))
    return np.stack([_vectors[text] for text in texts]) if texts else embed([])


@pytest.fixture(autouse=True)
def embeddings_cached(monkeypatch):
    monkeypatch.setattr(indexing, "embed", _embed_once)
    monkeypatch.setattr(retrieval, "embed", _embed_once)


def _index(person, pages: dict) -> dict[str, KnowledgePage]:
    created = {
        title: KnowledgePage.objects.create(
            workspace=person.workspace, person=person, title=title, content=content, version=1
        )
        for title, content in pages.items()
    }
    index_pages(pages=[[page.pk, page.version] for page in created.values()])
    return created


@pytest.fixture
def corpus(db):
    workspace = factories.workspace_create()
    person = factories.person_create(workspace=workspace, with_photo=False)
    return person, _index(person, CORPUS)


@pytest.fixture
def other_corpus(db):
    workspace = factories.workspace_create()
    person = factories.person_create(workspace=workspace, with_photo=False)
    return person, _index(person, OTHER_CORPUS)


def _titles(passages) -> list[str]:
    return list(dict.fromkeys(passage.title for passage in passages))


def _top_pages(passages, count: int = 3) -> list[int]:
    return list(dict.fromkeys(passage.page_id for passage in passages))[:count]


@pytest.mark.parametrize(("question", "title"), QUESTIONS)
def test_a_question_finds_the_page_that_answers_it_first(corpus, question, title):
    person, _ = corpus

    passages = retrieve(person_id=person.pk, query=question)

    assert passages[0].title == title, _titles(passages)
    assert relevant(passages)[0].title == title


@pytest.mark.parametrize("question", UNRELATED)
def test_a_question_the_persona_knows_nothing_about_finds_nothing_relevant(corpus, question):
    person, _ = corpus

    passages = retrieve(person_id=person.pk, query=question)

    assert passages  # something always comes back: the rule decides that none of it answers
    assert relevant(passages) == [], [(p.title, round(p.vector_score, 3), p.keyword_score) for p in passages]


def test_results_are_ordered_and_carry_their_scores(corpus):
    person, pages = corpus

    passages = retrieve(person_id=person.pk, query="How long does the battery last?", limit=3)

    assert len(passages) == 3
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    best = passages[0]
    assert best.page_id == pages["Aurora headphones: battery and charging"].pk
    assert best.text.startswith("Aurora headphones: battery and charging\n")
    assert 0.3 < best.vector_score <= 1.0
    assert best.keyword_score > 0  # "battery" and "last" are on the page
    assert relevant(passages)[0] == best


def test_another_personas_pages_never_come_back(corpus, other_corpus):
    person, pages = corpus
    other, other_pages = other_corpus
    mine, theirs = {p.pk for p in pages.values()}, {p.pk for p in other_pages.values()}

    for question in ("Are you open on Sundays?", "Can I return paint?", "Do you cut keys?"):
        assert {p.page_id for p in retrieve(person_id=person.pk, query=question, limit=20)} <= mine
        assert {p.page_id for p in retrieve(person_id=other.pk, query=question, limit=20)} <= theirs
    hardware = retrieve(person_id=other.pk, query="When do you open on Sunday?")
    assert hardware[0].title == "Opening hours of Bolt Hardware"


def test_a_persona_without_pages_finds_nothing(db):
    person = factories.person_create(workspace=factories.workspace_create(), with_photo=False)

    assert retrieve(person_id=person.pk, query="When do you open?") == []
    assert retrieve(person_id=person.pk, query="   ") == []


def test_an_edited_page_is_found_by_its_new_content_only(corpus):
    person, pages = corpus
    page = pages["Opening hours"]
    question = "Do you sell birthday cakes?"
    assert not any(p.page_id == page.pk for p in relevant(retrieve(person_id=person.pk, query=question)))

    KnowledgePage.objects.filter(pk=page.pk).update(
        content="We bake birthday cakes to order: chocolate, lemon or carrot, with your message piped on top.",
        version=2,
    )
    index_pages(pages=[[page.pk, 2]])

    passages = relevant(retrieve(person_id=person.pk, query=question))
    assert passages[0].page_id == page.pk
    saturday = retrieve(person_id=person.pk, query="What time do you open on Saturday?", limit=20)
    assert not any("Harbour Street" in p.text for p in saturday)  # the old version's chunks are gone


def _backends():
    backends = [InProcessSearch(connection)]
    if connection.vendor == "postgresql":
        backends.append(PostgresSearch(connection))
        if vector_column_available(connection):
            backends.append(PgvectorSearch(connection))
    return backends


@pytest.mark.parametrize("question", [question for question, _ in QUESTIONS] + UNRELATED)
def test_every_backend_gives_the_same_top_pages(corpus, question):
    person, _ = corpus
    vector = _embed_once([question])[0]

    results = {
        backend.name: backend.search(person_id=person.pk, query=question, vector=vector, limit=5)
        for backend in _backends()
    }

    expected = _top_pages(results["in-process"])
    for name, passages in results.items():
        assert _top_pages(passages) == expected, (name, {n: _titles(p) for n, p in results.items()})
        assert bool(relevant(passages)) == bool(relevant(results["in-process"])), name
    best = {name: {p.chunk_id: p.vector_score for p in passages} for name, passages in results.items()}
    for chunk_id, score in best["in-process"].items():  # the same cosine wherever the same chunk comes back
        assert all(np.isclose(scores.get(chunk_id, score), score, atol=1e-4) for scores in best.values())


def test_the_expected_backend_serves_this_database(db):
    expected = os.environ.get("KNOWLEDGE_EXPECTED_BACKEND")
    if not expected:
        pytest.skip("KNOWLEDGE_EXPECTED_BACKEND is not set (test_pgvector.py sets it)")

    assert backend_for(connection).name == expected
