"""Questions a visitor might ask a persona, grounded in what it knows."""

import re

from characters.models import Person
from knowledge.responders import persona_voice, suggest_questions
from knowledge.retrieval import relevant, retrieve

PASSAGES_PER_TOPIC = 3
_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if len(word) > 2}


def _about(question: str, topic: str) -> bool:
    """A question is about a topic when it shares one of the topic's words (a word of two letters or less,
    like "AI", counts only when it is the whole topic)."""
    wanted = _words(topic) or set(_WORD.findall(topic.lower()))
    return bool(wanted & set(_WORD.findall(question.lower())))


def _topic_question(topic: str) -> str:
    """The plain question about a topic the knowledge base says nothing about (yet)."""
    return f"What can you tell me about {' '.join(topic.split()).rstrip('.:;,!?')}?"


def prompts_suggest(*, person: Person, topics: list[str], context: str = "", count: int = 5) -> list[str]:
    """Up to `count` distinct questions about the topics, from the persona's knowledge where it has some;
    every topic gets at least one (a plain question about it when the knowledge base has nothing on it),
    so there are more than `count` only when there are more topics than that."""
    passages, seen = [], set()
    for topic in topics:
        # The topic alone finds its passages: a long general context would drown it.
        for passage in relevant(retrieve(person_id=person.pk, query=topic, limit=PASSAGES_PER_TOPIC)):
            if passage.chunk_id not in seen:
                seen.add(passage.chunk_id)
                passages.append(passage)
    prompts = suggest_questions(
        persona=persona_voice(person), topics=topics, context=context, passages=passages, count=count
    )[:count]
    firsts = {next((prompt for prompt in prompts if _about(prompt, topic)), None) for topic in topics}
    missing = [topic for topic in topics if not any(_about(prompt, topic) for prompt in prompts)]
    # Keep one question per covered topic, then others while there is room beside the uncovered topics.
    kept = {prompt for prompt in firsts if prompt is not None}
    for prompt in prompts:
        if len(kept) + len(missing) >= count:
            break
        kept.add(prompt)
    grounded = [prompt for prompt in prompts if prompt in kept]
    return list(dict.fromkeys(grounded + [_topic_question(topic) for topic in missing]))
