"""The live process's routes: the conversation page, the WebRTC offer and the visitor's end button.

They are plain Django views, not a dialect's (DRF has no async views): errors use the contract's `/v1` shape,
`{"error", "message", "status"}`. The offer and end routes take the conversation token as a bearer token and
no cookie, so they need no CSRF token.
"""

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from knowledge.live.sessions import LiveOfferInvalid, session_close, session_open
from knowledge.live.threads import in_thread
from knowledge.models import Conversation
from knowledge.services.conversations import ConversationEnded, conversation_end
from knowledge.services.live import LiveTokenInvalid, live_token_check
from media_jobs.engines.base import EngineError
from persona_platform.api.dialects.base import ApiError, vendor_error
from persona_platform.errors import Conflict, DomainError, NotFound

MAX_OFFER_BYTES = 64 * 1024


def _error(exc: DomainError) -> JsonResponse:
    response = JsonResponse(vendor_error(ApiError(exc.kind, exc.message, exc.status)), status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, LiveTokenInvalid):
        response["WWW-Authenticate"] = 'Bearer realm="live"'
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LiveTokenInvalid("Send the conversation token: `Authorization: Bearer <conversation_token>`.")
    return token.strip()


def _conversation(conversation_id: int) -> Conversation:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("No such conversation.")
    if conversation.status != Conversation.Status.ACTIVE:
        raise ConversationEnded("The conversation has ended; create a new one to talk again.")
    return conversation


def _offer_sdp(request: HttpRequest) -> str:
    if len(request.body) > MAX_OFFER_BYTES:
        raise LiveOfferInvalid(f"The offer is over {MAX_OFFER_BYTES // 1024} KB.")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise LiveOfferInvalid('The body must be JSON: {"type": "offer", "sdp": "..."}.') from None
    if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
        raise LiveOfferInvalid('The body must be {"type": "offer", "sdp": "..."}.')
    sdp = body["sdp"]
    if not sdp.startswith("v=0"):
        raise LiveOfferInvalid("The offer's `sdp` is not a session description (it must start with v=0).")
    if "\nm=audio " not in sdp.replace("\r\n", "\n"):
        raise LiveOfferInvalid("The offer has no audio: send the microphone as an audio track.")
    return sdp


@csrf_exempt
@require_POST
async def offer(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """`{"type": "offer", "sdp"}` → `{"type": "answer", "sdp"}` with its ICE candidates (no trickle)."""
    try:
        live_token_check(token=_bearer(request), conversation_id=conversation_id)
        await in_thread(_conversation, conversation_id)
        sdp = _offer_sdp(request)
        try:
            answer = await session_open(conversation_id=conversation_id, offer_sdp=sdp)
        except EngineError as exc:
            raise Conflict(f"The replica cannot join: {exc}") from None
    except DomainError as exc:
        return _error(exc)
    return JsonResponse({"type": "answer", "sdp": answer})


@csrf_exempt
@require_POST
async def end(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The page's end button: end the conversation and its session."""
    try:
        live_token_check(token=_bearer(request), conversation_id=conversation_id)
        conversation = await in_thread(_conversation, conversation_id)
    except DomainError as exc:
        return _error(exc)
    await in_thread(conversation_end, conversation=conversation)
    await session_close(conversation_id=conversation_id)
    return HttpResponse(status=204)


@require_GET
def page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Talk with the replica: the page reads the token from the URL's fragment, which never reaches a server."""
    return render(
        request,
        "live/conversation.html",
        {
            "offer_url": reverse("live:offer", kwargs={"conversation_id": conversation_id}),
            "end_url": reverse("live:end", kwargs={"conversation_id": conversation_id}),
            "ice_servers_json": json.dumps(settings.LIVE_ICE_SERVERS),
        },
    )
