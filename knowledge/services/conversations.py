"""Conversations with a persona: each question is answered from what the persona knows, with its
sources, and both turns are kept. BHuman chats and TwinTone conversations are the same rows."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from characters.models import Person
from characters.services.media import speech_start
from knowledge.models import Conversation, Message
from knowledge.responders import DONT_KNOW, answer_stream, persona_voice
from knowledge.retrieval import relevant, retrieve
from media_jobs.models import MediaJob
from persona_platform.errors import Conflict

HISTORY_TURNS = 6  # earlier turns a responder sees, for follow-up questions
RETRIEVED_PASSAGES = 5


class ConversationEnded(Conflict):
    pass


def conversation_create(*, person: Person, user_id: str = "", name: str = "", live_url: str = "") -> Conversation:
    return Conversation.objects.create(
        workspace_id=person.workspace_id,
        person=person,
        user_id=user_id,
        name=name,
        public_id=f"chat_{secrets.token_urlsafe(12)}",
        live_url=live_url,
    )


def conversation_end(*, conversation: Conversation) -> Conversation:
    """active → ended (ending an ended conversation keeps its first end time)."""
    Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.ACTIVE).update(
        status=Conversation.Status.ENDED, ended_at=timezone.now()
    )
    conversation.refresh_from_db()
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


@dataclass
class Turn:
    """One answer as it is produced: text pieces, then the stored message with its sources."""

    conversation: Conversation
    question: Message
    pieces: Iterator[str]
    citations: list[dict] = field(default_factory=list)
    answer: Message | None = None


def _citations(passages) -> list[dict]:
    seen, citations = set(), []
    for passage in passages:
        if passage.page_id not in seen:
            seen.add(passage.page_id)
            citations.append({"page_id": passage.page_id, "title": passage.title, "chunk_id": passage.chunk_id,
                              "score": round(float(passage.score), 4)})  # fmt: skip
    return citations


def reply_start(*, conversation: Conversation, text: str, context: str = "", record: bool = True) -> Turn:
    """Record the question, find what the persona knows about it, and start answering. Iterate
    `turn.pieces` for the text; the answer is stored when they are exhausted (see `reply_finish`).

    `record=False` keeps the question unsaved until `reply_finish`: a live session drafts an answer while the
    visitor may still be speaking, and drops the draft if they go on."""
    if conversation.status != Conversation.Status.ACTIVE:
        raise ConversationEnded("The conversation has ended; start a new one to ask more.")
    person = conversation.person
    if person is None:
        raise ConversationEnded("The persona of this conversation was deleted.")
    history = [
        (message.role, message.content)
        for message in reversed(conversation.messages.order_by("-created_at", "-id")[: HISTORY_TURNS * 2])
    ]
    question = Message(conversation=conversation, role=Message.Role.USER, content=text)
    if record:
        question.save()
    passages = relevant(retrieve(person_id=person.pk, query=f"{context}\n{text}".strip(),
                                 limit=RETRIEVED_PASSAGES))  # fmt: skip
    if not passages:
        return Turn(conversation=conversation, question=question, pieces=iter([DONT_KNOW]))
    pieces = answer_stream(
        persona=persona_voice(person), question=text, passages=passages, history=history, context=context
    )
    return Turn(conversation=conversation, question=question, pieces=pieces, citations=_citations(passages))


def reply_finish(*, turn: Turn, text: str) -> Message:
    if turn.question.pk is None:
        turn.question.save()
    turn.answer = Message.objects.create(
        conversation=turn.conversation, role=Message.Role.ASSISTANT, content=text.strip(), citations=turn.citations
    )
    return turn.answer


@transaction.atomic
def reply(*, conversation: Conversation, text: str, context: str = "") -> Message:
    """The whole answer at once (BHuman's chat)."""
    turn = reply_start(conversation=conversation, text=text, context=context)
    return reply_finish(turn=turn, text="".join(turn.pieces))


def reply_speak(*, answer: Message) -> MediaJob:
    """A speech job that speaks the reply in the persona's voice, linked to the message."""
    person = answer.conversation.person
    if person is None:
        raise ConversationEnded("The persona of this conversation was deleted.")
    job = speech_start(person=person, text=answer.content, name="Conversation reply")
    Message.objects.filter(pk=answer.pk).update(audio_job=job)
    return job
