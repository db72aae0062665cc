"""Questions a visitor might ask a persona, grounded in what it knows."""

from characters.models import Person
from knowledge.responders import persona_voice, suggest_questions
from knowledge.retrieval import relevant, retrieve

PASSAGES_PER_TOPIC = 3


def prompts_suggest(*, person: Person, topics: list[str], context: str = "", count: int = 5) -> list[str]:
    """Up to `count` distinct questions about the topics that the persona's knowledge can answer."""
    passages, seen = [], set()
    for topic in topics:
        # The topic alone finds its passages: a long general context would drown it.
        for passage in relevant(retrieve(person_id=person.pk, query=topic, limit=PASSAGES_PER_TOPIC)):
            if passage.chunk_id not in seen:
                seen.add(passage.chunk_id)
                passages.append(passage)
    return suggest_questions(
        persona=persona_voice(person), topics=topics, context=context, passages=passages, count=count
    )[:count]
