"""BHuman knowledge base and chat: `/persona/api/kb/...`, `/persona/api/persona/...`.

Calls act on the instance named by `instance_id`, else on the workspace's default persona. A workspace
that has not made one yet still works: reads are empty, storing knowledge makes its first persona, and
chat answers as the demo person.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.selectors import person_instance_or_none, person_speaking_instance
from characters.services.persons import instance_ensure
from knowledge.api.bhuman.serializers import (
    AutoPromptsSerializer,
    BHumanChatAnswerSerializer,
    BHumanChatMessagesSerializer,
    BHumanChatsPageSerializer,
    BHumanPagesStoredSerializer,
    BHumanPromptsSerializer,
    BHumanReviewQueuedSerializer,
    BHumanStreamStateSerializer,
    BHumanTrainingDataOneSerializer,
    BHumanTrainingDataPageSerializer,
    ChatSerializer,
    ChatsQuerySerializer,
    InstanceQuerySerializer,
    ReviewSubmitSerializer,
    StorePagesSerializer,
    StreamPagesSerializer,
    TrainingDataDeleteBodySerializer,
    TrainingDataDeleteSerializer,
    TrainingDataItemSerializer,
    TrainingDataQuerySerializer,
    TrainingDataUpdateSerializer,
)
from knowledge.selectors import conversation_get, conversation_list, page_get, page_list
from knowledge.services.conversations import conversation_create, reply
from knowledge.services.pages import (
    page_delete,
    page_update,
    pages_store,
    review_submit,
    stream_batch_receive,
)
from knowledge.services.prompts import prompts_suggest
from persona_platform.api.dialects import Location
from persona_platform.api.dialects.bhuman import BHumanView, bhuman_success, error_responses
from persona_platform.api.schema import BHumanSuccessSerializer
from persona_platform.errors import InvalidInput, NotFound


def _page_id(raw: str, *, field: str) -> int:
    """A training data id is a string: one that cannot be ours (the seeds' "data1") names nothing, a 404."""
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"{field}: no training data with id {raw!r}.")
    return int(raw)


class BHumanKnowledgeView(BHumanView):
    """Reads act on the named or default persona, or on none yet; writes make the first persona."""

    def instance_or_none(self, data: dict):
        return person_instance_or_none(workspace=self.request.auth.workspace, instance_id=data.get("instance_id"))

    def instance_ensured(self, data: dict):
        return instance_ensure(
            workspace=self.request.auth.workspace, owner=self.request.user, instance_id=data.get("instance_id")
        )

    def ensured_and_body(self, serializer_class, key: str) -> tuple:
        data = self.validated(serializer_class, self.request.data)
        return self.instance_ensured(data), data[key]


class StorePagesView(BHumanKnowledgeView):
    created_location = Location(
        "bhuman-persona:kb-training-data-item", {"data_id": "page_ids.0"}, query={"instance_id": "request:instance_id"}
    )

    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    @extend_schema(
        summary="Store pages",
        request=StorePagesSerializer,
        responses={201: BHumanPagesStoredSerializer, **error_responses(404)},
    )
    def post(self, request):
        """Pages (title, content, metadata) added to the persona's knowledge. They are chunked and embedded by a
        job; answers use them once it is done."""
        person, pages = self.ensured_and_body(StorePagesSerializer, "pages")
        pages = pages_store(person=person, pages=pages)
        return bhuman_success("Pages stored successfully", status.HTTP_201_CREATED, page_ids=[str(p.pk) for p in pages])


class StreamPagesView(BHumanKnowledgeView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    @extend_schema(
        summary="Stream pages",
        request=StreamPagesSerializer,
        responses={
            200: BHumanStreamStateSerializer,
            **error_responses(404, 409),
        },
    )
    def post(self, request):
        """One batch of a stream: an ordered, resumable sequence of batches under `stream_id`. Batches may
        arrive out of order (`batch_index`); sending a batch again changes nothing; the answer lists what has
        been received and what is missing, so a client can resume."""
        person, stream = self.ensured_and_body(StreamPagesSerializer, "stream_data")
        return bhuman_success("Pages streamed successfully", **stream_batch_receive(person=person, **stream))


class TrainingDataView(BHumanKnowledgeView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    @extend_schema(
        summary="List training data",
        parameters=[TrainingDataQuerySerializer],
        responses={
            200: BHumanTrainingDataPageSerializer,
            **error_responses(404),
        },
    )
    def get(self, request):
        """The persona's knowledge, page by page, oldest first (`page` and `limit` optional)."""
        query = self.query(TrainingDataQuerySerializer)
        page = self.page(page_list(person=self.instance_or_none(query)), query)
        items = TrainingDataItemSerializer(page.items, many=True).data
        return Response({"status": "success", "training_data": items, "pagination": page.meta()})

    @extend_schema(
        summary="Update training data",
        request=TrainingDataUpdateSerializer,
        responses={200: BHumanSuccessSerializer, **error_responses(404)},
    )
    def put(self, request):
        """New `content` (and optionally `title`) for the item `id`; it is indexed again."""
        data = self.validated(TrainingDataUpdateSerializer, request.data)
        person, item = self.instance_or_none(data), data["training_data"]
        page = page_get(person=person, page_id=_page_id(item["id"], field="training_data.id"))
        page_update(page=page, content=item["content"], title=item.get("title"))
        return bhuman_success("Training data updated successfully")

    @extend_schema(
        summary="Delete training data",
        request=TrainingDataDeleteBodySerializer,
        responses={200: BHumanSuccessSerializer, **error_responses(404)},
    )
    def delete(self, request):
        """Delete the item `id` (in the body, or `?id=`), with its passages."""
        body = request.data
        if isinstance(body, dict):  # a body that is no JSON object is left to the serializer to refuse
            body = {**request.query_params.dict(), **body}
        data = self.validated(TrainingDataDeleteSerializer, body)
        if "id" not in data:
            raise InvalidInput("id: This field is required.")
        page_delete(page=page_get(person=self.instance_or_none(data), page_id=_page_id(data["id"], field="id")))
        return bhuman_success("Training data deleted successfully")


class TrainingDataItemView(BHumanKnowledgeView):
    @extend_schema(
        summary="Get one training data item",
        parameters=[InstanceQuerySerializer],
        responses={200: BHumanTrainingDataOneSerializer, **error_responses(404)},
    )
    def get(self, request, data_id: int):
        page = page_get(person=self.instance_or_none(self.query(InstanceQuerySerializer)), page_id=data_id)
        return Response({"status": "success", "training_data": TrainingDataItemSerializer(page).data})

    @extend_schema(
        summary="Delete one training data item",
        parameters=[InstanceQuerySerializer],
        responses={200: BHumanSuccessSerializer, **error_responses(404)},
    )
    def delete(self, request, data_id: int):
        page_delete(page=page_get(person=self.instance_or_none(self.query(InstanceQuerySerializer)), page_id=data_id))
        return bhuman_success("Training data deleted successfully")


class ReviewDataView(BHumanKnowledgeView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    @extend_schema(
        summary="Submit data for review",
        request=ReviewSubmitSerializer,
        responses={202: BHumanReviewQueuedSerializer, **error_responses(404)},
    )
    def post(self, request):
        """Articles and notes wait for staff in the admin's review queue; approved ones become knowledge,
        rejected ones never do."""
        person, review = self.ensured_and_body(ReviewSubmitSerializer, "review_data")
        items = review_submit(person=person, **review)
        return bhuman_success(
            "Data submitted for review", status.HTTP_202_ACCEPTED, review_ids=[str(i.pk) for i in items]
        )


class AutoPromptsView(BHumanKnowledgeView):
    @extend_schema(
        summary="Suggest prompts",
        request=AutoPromptsSerializer,
        responses={200: BHumanPromptsSerializer, **error_responses(404)},
    )
    def post(self, request):
        """Questions a visitor might ask the persona about the `topics`: at least one about each topic, grounded
        in its knowledge base where that knows something, so an empty knowledge base still gets prompts."""
        data = self.validated(AutoPromptsSerializer, request.data)
        person = person_speaking_instance(workspace=request.auth.workspace, instance_id=data.get("instance_id"))
        return Response({"status": "success", "prompts": prompts_suggest(person=person, **data["data"])})


class ChatView(BHumanKnowledgeView):
    @extend_schema(
        summary="Chat with the persona",
        request=ChatSerializer,
        responses={200: BHumanChatAnswerSerializer, **error_responses(404, 409)},
    )
    def post(self, request):
        """The persona answers `message` from its knowledge base, in its voice, naming its sources (page
        titles and ids); it says it does not know when its knowledge holds nothing relevant. A new chat
        for `user_id` unless `chat_id` continues one."""
        data = self.validated(ChatSerializer, request.data)
        chat = data["chat_data"]
        if "chat_id" in chat:
            conversation = conversation_get(workspace=request.auth.workspace, public_id=chat["chat_id"])
        else:
            person = person_speaking_instance(workspace=request.auth.workspace, instance_id=data.get("instance_id"))
            conversation = conversation_create(person=person, user_id=chat["user_id"])
        answer = reply(conversation=conversation, text=chat["message"], context=chat["context"])
        sources = [{"page_id": str(c["page_id"]), "title": c["title"]} for c in answer.citations]
        return Response(
            {"status": "success", "chat_id": conversation.public_id, "response": answer.content, "sources": sources}
        )


class ChatsView(BHumanView):
    @extend_schema(
        summary="Chat history",
        parameters=[ChatsQuerySerializer],
        responses={200: BHumanChatsPageSerializer},
    )
    def get(self, request):
        """The workspace's chats, newest first, each with its messages in order; `user_id` filters."""
        query = self.query(ChatsQuerySerializer)
        conversations = conversation_list(workspace=request.auth.workspace, user_id=query.get("user_id"))
        page = self.page(conversations.prefetch_related("messages"), query)
        chats = [
            {
                "chat_id": conversation.public_id,
                "user_id": conversation.user_id,
                "messages": [message.content for message in conversation.messages.all()],
            }
            for conversation in page.items
        ]
        return Response({"status": "success", "chats": chats, "pagination": page.meta()})


class ChatMessagesView(BHumanView):
    @extend_schema(
        summary="Messages of a chat",
        responses={
            200: BHumanChatMessagesSerializer,
            **error_responses(404),
        },  # fmt: skip
    )
    def get(self, request, chat_id: str):
        """The chat's messages in order; `details` adds who said each and what it was based on."""
        conversation = conversation_get(workspace=request.auth.workspace, public_id=chat_id)
        messages = list(conversation.messages.all())
        details = [
            {"role": m.role, "content": m.content, "sources": m.citations, "created_at": m.created_at} for m in messages
        ]
        return Response({"status": "success", "messages": [m.content for m in messages], "details": details})
