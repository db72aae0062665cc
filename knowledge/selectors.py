"""Reads of the knowledge app, always scoped: another workspace's (or persona's) row is a missing one."""

from django.db.models import QuerySet

from accounts.models import Workspace
from characters.models import Person
from knowledge.models import Conversation, KnowledgePage, Message
from persona_platform.errors import NotFound


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


def page_list(*, person: Person | None) -> QuerySet[KnowledgePage]:
    """No persona (a new workspace has made none yet): no pages."""
    if person is None:
        return KnowledgePage.objects.none()
    return KnowledgePage.objects.filter(person=person).order_by("created_at", "id")


def page_get(*, person: Person | None, page_id: int) -> KnowledgePage:
    """Another persona's or workspace's page is reported exactly like a missing one."""
    page = page_list(person=person).filter(pk=page_id).first()
    if page is None:
        raise NotFound(f"Training data {page_id} not found.")
    return page


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """Both sides of a conversation in order, with each reply's spoken audio job."""
    return Message.objects.filter(conversation=conversation).select_related("audio_job")
