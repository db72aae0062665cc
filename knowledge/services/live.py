"""Live conversations, the API side: where a conversation's media session lives and who may join it.

A conversation created through TwinTone gets a live process (the least busy, see knowledge.live.registry), a page
on it (`conversation_url`), the route a WebRTC client sends its offer to (`webrtc_offer_url`) and a token for
that conversation alone. The token is signed, not stored: it names the conversation and expires after
LIVE_TOKEN_TTL_SECONDS, and it opens nothing but that conversation's page, offer and end routes.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from characters.models import Person
from knowledge.live.registry import live_process_pick
from knowledge.models import Conversation
from knowledge.services.conversations import conversation_create
from persona_platform.errors import DomainError

TOKEN_SALT = "knowledge.live.conversation"


class LiveTokenInvalid(DomainError, kind="Unauthorized", status=401):
    pass


@dataclass(frozen=True)
class LiveAccess:
    conversation_url: str
    webrtc_offer_url: str
    conversation_token: str


def live_token(*, conversation: Conversation) -> str:
    return signing.dumps({"conversation": conversation.pk}, salt=TOKEN_SALT, compress=True)


def live_token_check(*, token: str, conversation_id: int) -> None:
    """LiveTokenInvalid unless `token` is a current token of this conversation."""
    try:
        claims = signing.loads(token, salt=TOKEN_SALT, max_age=settings.LIVE_TOKEN_TTL_SECONDS)
    except signing.SignatureExpired:
        raise LiveTokenInvalid("The conversation token has expired; create a new conversation.") from None
    except signing.BadSignature:
        raise LiveTokenInvalid("The conversation token is not valid.") from None
    if not isinstance(claims, dict) or claims.get("conversation") != conversation_id:
        raise LiveTokenInvalid("The conversation token belongs to another conversation.")


def live_access(*, conversation: Conversation) -> LiveAccess:
    """The page, offer route and a fresh token of a conversation, on the live process that holds it."""
    base = conversation.live_url or settings.LIVE_PUBLIC_URL
    token = live_token(conversation=conversation)
    page = reverse("live:page", kwargs={"conversation_id": conversation.pk})
    offer = reverse("live:offer", kwargs={"conversation_id": conversation.pk})
    # The token rides in the fragment, which browsers never send: it stays out of servers' logs.
    return LiveAccess(conversation_url=f"{base}{page}#token={token}", webrtc_offer_url=f"{base}{offer}",
                      conversation_token=token)  # fmt: skip


def live_conversation_create(*, person: Person, name: str = "") -> tuple[Conversation, LiveAccess]:
    """A conversation on the least busy live process; ServiceBusy (503) before anything is written when every
    live process is full."""
    url = live_process_pick()
    conversation = conversation_create(person=person, name=name, live_url=url)
    return conversation, live_access(conversation=conversation)
