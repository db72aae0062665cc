"""Conversations with a persona: each question is answered from what the persona knows, with its
sources, and both turns are kept. BHuman chats and TwinTone conversations are the same rows."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Workspace
from characters.models import Person
from knowledge.models import Conversation, Message
from persona_platform.errors import Conflict, NotFound

HISTORY_TURNS = 6  # earlier turns a responder sees, for follow-up questions
RETRIEVED_PASSAGES = 5


class ConversationEnded(Conflict):
    pass


def conversation_create(*, person: Person, user_id: str = "", name: str = "") -> Conversation:
    return Conversation.objects.create(
        workspace_id=person.workspace_id,
        person=person,
        user_id=user_id,
        name=name,
        public_id=f"chat_{secrets.token_urlsafe(12)}",
    )


def conversation_list(
    *, workspace: Workspace, status: str | None = None, user_id: str | None = None
) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(workspace=workspace)
    if status:
        conversations = conversations.filter(status=status)
    if user_id is not None:
        conversations = conversations.filter(user_id=user_id)
    return conversations


def conversation_get(*, workspace: Workspace, conversation_id: int | None = None, public_id: str | None = None):
    """By id (TwinTone) or chat_id (BHuman); another workspace's is reported exactly like a missing one."""
    lookup = {"pk": conversation_id} if conversation_id is not None else {"public_id": public_id}
    conversation = Conversation.objects.filter(workspace=workspace, **lookup).select_related("person").first()
    if conversation is None:
        raise NotFound(f"Conversation {conversation_id or public_id} not found.")
    return conversation


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


def reply_start(*, conversation: Conversation, text: str, context: str = "") -> Turn:
    """Record the question, find what the persona knows about it, and start answering. Iterate
    `turn.pieces` for the text; the answer is stored when they are exhausted (see `reply_finish`)."""
    from knowledge.responders import DONT_KNOW, get_responder, persona_voice
    from knowledge.retrieval import relevant, retrieve

    if conversation.status != Conversation.Status.ACTIVE:
        raise ConversationEnded("The conversation has ended; start a new one to ask more.")
    if conversation.person is None:
        raise ConversationEnded("The persona of this conversation was deleted.")
    history = [
        (message.role, message.content)
        for message in reversed(conversation.messages.order_by("-created_at", "-id")[: HISTORY_TURNS * 2])
    ]
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=text)
    passages = relevant(retrieve(person_id=conversation.person_id, query=f"{context}\n{text}".strip(),
                                 limit=RETRIEVED_PASSAGES))  # fmt: skip
    if not passages:
        return Turn(conversation=conversation, question=question, pieces=iter([DONT_KNOW]))
    pieces = get_responder().stream(
        persona=persona_voice(conversation.person), question=text, passages=passages, history=history, context=context
    )
    return Turn(conversation=conversation, question=question, pieces=pieces, citations=_citations(passages))


def reply_finish(*, turn: Turn, text: str) -> Message:
    turn.answer = Message.objects.create(
        conversation=turn.conversation, role=Message.Role.ASSISTANT, content=text.strip(), citations=turn.citations
    )
    return turn.answer


@transaction.atomic
def reply(*, conversation: Conversation, text: str, context: str = "") -> Message:
    """The whole answer at once (BHuman's chat)."""
    turn = reply_start(conversation=conversation, text=text, context=context)
    return reply_finish(turn=turn, text="".join(turn.pieces))
