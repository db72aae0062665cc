"""TwinTone conversations: `/v1/conversations` (seed: twintone-video-agents-v1, "Conversations"), and
ours beyond the seed: `/v1/conversations/{id}/messages`, the reply streamed as Server-Sent Events."""

import json

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.selectors import person_in_body
from knowledge.api.twintone.serializers import (
    ConversationPage,
    MessagePage,
    TwinToneConversationCreatedSerializer,
    TwinToneConversationCreateSerializer,
    TwinToneConversationEndedSerializer,
    TwinToneConversationListQuerySerializer,
    TwinToneConversationSerializer,
    TwinToneMessageCreateSerializer,
)
from knowledge.models import Message
from knowledge.selectors import conversation_get, conversation_list, message_list
from knowledge.services.conversations import (
    conversation_delete,
    conversation_end,
    reply_finish,
    reply_speak,
    reply_start,
)
from knowledge.services.live import live_conversation_create
from media_jobs.models import MediaJob
from media_jobs.services import job_wait
from persona_platform.api.dialects.base import Location, PagedListMixin, list_schema
from persona_platform.api.dialects.twintone import TwinToneView
from persona_platform.api.schema import VendorErrorSerializer, error_responses


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


@list_schema("List conversations", ConversationPage)
class ConversationListView(PagedListMixin, TwinToneView):
    created_location = Location("twintone-conversations:conversation-detail", {"conversation_id": "id"})
    list_query = TwinToneConversationListQuerySerializer

    def rows(self, query):
        """Your conversations, newest first, with `page`, `limit` and `status` (active, ended)."""
        return conversation_list(workspace=self.request.auth.workspace, status=query.get("status"))

    @extend_schema(
        summary="Create a conversation",
        request=TwinToneConversationCreateSerializer,
        responses={
            201: TwinToneConversationCreatedSerializer,
            **error_responses(404),  # `replica_id` names none
            503: OpenApiResponse(VendorErrorSerializer, description="Every live process is full; see Retry-After"),
        },
    )
    def post(self, request):
        """A conversation with a replica, `active` until ended. Talk with it live: open `conversation_url` in a
        browser, or send a WebRTC offer to `webrtc_offer_url` (docs/LIVE.md). Or send it messages with
        `POST /v1/conversations/{id}/messages`."""
        data = self.validated(TwinToneConversationCreateSerializer, request.data)
        person = person_in_body(
            workspace=request.auth.workspace, raw_id=data["replica_id"], field="replica_id", noun="replica"
        )
        created = live_conversation_create(person=person, name=data["name"])
        return Response(TwinToneConversationCreatedSerializer(created).data, status=status.HTTP_201_CREATED)


class ConversationView(TwinToneView):
    def conversation(self, conversation_id: int):
        return conversation_get(workspace=self.request.auth.workspace, conversation_id=conversation_id)


class ConversationDetailView(ConversationView):
    @extend_schema(summary="Get a conversation", responses={200: TwinToneConversationSerializer})
    def get(self, request, conversation_id: int):
        """The conversation; `ended_at` once ended."""
        return Response(TwinToneConversationSerializer(self.conversation(conversation_id)).data)

    @extend_schema(
        summary="End a conversation",
        request=None,
        responses={200: TwinToneConversationEndedSerializer},
    )
    def post(self, request, conversation_id: int):
        """End the conversation: it keeps its messages and refuses new ones."""
        conversation = conversation_end(conversation=self.conversation(conversation_id))
        return Response(TwinToneConversationEndedSerializer(conversation).data)

    @extend_schema(summary="Delete a conversation", responses={204: None})
    def delete(self, request, conversation_id: int):
        """Delete the conversation and its messages."""
        conversation_delete(conversation=self.conversation(conversation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@list_schema("List a conversation's messages", MessagePage)
class ConversationMessagesView(PagedListMixin, ConversationView):
    def rows(self, query, conversation_id: int):
        """Both sides of the conversation in order, with each reply's sources and spoken audio."""
        return message_list(conversation=self.conversation(conversation_id))

    @extend_schema(
        summary="Send a message (the reply streams as Server-Sent Events)",
        request=TwinToneMessageCreateSerializer,
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                description="Events in order: `message` (the question's id), `delta` (`text` as it is produced, "
                "several), `sources` (pages the answer used), `audio` (`url` of the spoken reply, or `status: "
                "processing` with its `speech_id` if it takes longer), `done` (the reply's `message_id`); `error` "
                "if the reply fails midway."
            ),
            **error_responses(409),
        },
    )
    def post(self, request, conversation_id: int):
        """The replica answers from its knowledge base, streamed as it is produced, then spoken in its voice.
        An ended conversation refuses messages with 409."""
        conversation = self.conversation(conversation_id)
        data = self.validated(TwinToneMessageCreateSerializer, request.data)
        turn = reply_start(conversation=conversation, text=data["text"], context=data["context"])

        def events():
            yield sse("message", {"conversation_id": str(conversation.pk), "message_id": str(turn.question.pk)})
            pieces = []
            try:
                for piece in turn.pieces:
                    pieces.append(piece)
                    yield sse("delta", {"text": piece})
            except Exception as exc:  # the reply failed midway: say so in the stream, keep what was said
                yield sse("error", {"message": f"The reply could not be completed: {exc}"})
                return
            answer = reply_finish(turn=turn, text="".join(pieces))
            yield sse("sources", {"sources": answer.citations})
            if data["speak"] and answer.content:
                yield sse("audio", _spoken(answer, request))
            yield sse("done", {"message_id": str(answer.pk)})

        response = StreamingHttpResponse(events(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # proxies must pass events on as they come
        return response


def _spoken(answer: Message, request) -> dict:
    """Speak the reply (a speech job) and wait a while for it; past that, the client can poll the job."""
    job = job_wait(job=reply_speak(answer=answer), seconds=settings.CONVERSATION_AUDIO_WAIT_SECONDS)
    if job.status == MediaJob.Status.READY:
        return {"status": "ready", "speech_id": str(job.pk), "url": request.build_absolute_uri(job.result_file.url)}
    if job.is_final:
        return {"status": "failed", "speech_id": str(job.pk), "error": job.error or "Canceled."}
    return {"status": "processing", "speech_id": str(job.pk)}
