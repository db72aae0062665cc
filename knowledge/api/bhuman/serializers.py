"""BHuman knowledge-base and chat shapes (seed: bhuman-persona-a/-b, "Add to KB", "Chat")."""

from rest_framework import serializers

from knowledge.services.pages import MAX_PAGES_PER_CALL, MAX_STREAM_BATCHES
from persona_platform.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField, no_nul_in_json
from persona_platform.api.pagination import PageQuerySerializer, PaginationMetaSerializer
from persona_platform.api.schema import BHumanSuccessSerializer

INSTANCE_HELP = "The instance (persona) whose knowledge this is; the workspace's default persona when absent."


class PageSerializer(serializers.Serializer):
    title = StrictCharField(max_length=500)
    content = StrictCharField(max_length=200_000)
    metadata = serializers.DictField(required=False, default=dict, validators=[no_nul_in_json])


class StorePagesSerializer(serializers.Serializer):
    pages = PageSerializer(many=True, min_length=1, max_length=MAX_PAGES_PER_CALL)
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class StreamDataSerializer(serializers.Serializer):
    stream_id = StrictCharField(max_length=200)
    pages = PageSerializer(many=True, min_length=1, max_length=MAX_PAGES_PER_CALL)
    batch_index = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=MAX_STREAM_BATCHES - 1,
        help_text="The batch's place in the stream (0, 1, ...); batches may arrive in any order. Absent: the next "
        "batch, or the same batch again if these very pages were already received.",
    )
    final = StrictBooleanField(required=False, default=False, help_text="The stream's last batch.")


class StreamPagesSerializer(serializers.Serializer):
    stream_data = StreamDataSerializer()
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class TrainingDataItemSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", read_only=True)
    title = serializers.CharField(read_only=True)
    content = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="pending, indexed or failed.")


class TrainingDataUpdateItemSerializer(serializers.Serializer):
    id = StrictCharField()
    content = StrictCharField(max_length=200_000)
    title = StrictCharField(required=False, max_length=500)


class TrainingDataUpdateSerializer(serializers.Serializer):
    training_data = TrainingDataUpdateItemSerializer()
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class TrainingDataDeleteSerializer(serializers.Serializer):
    id = StrictCharField(required=False)
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class TrainingDataDeleteBodySerializer(TrainingDataDeleteSerializer):
    """Schema of the body: `id` names the item; it may come as `?id=` instead, with no body."""

    id = StrictCharField(help_text="The training data item to delete.")


class InstanceQuerySerializer(serializers.Serializer):
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class TrainingDataQuerySerializer(PageQuerySerializer, InstanceQuerySerializer):
    pass


class ReviewDataSerializer(serializers.Serializer):
    articles = serializers.ListField(child=StrictCharField(max_length=200_000), max_length=100)
    notes = serializers.ListField(child=StrictCharField(max_length=20_000), max_length=100)


class ReviewSubmitSerializer(serializers.Serializer):
    review_data = ReviewDataSerializer()
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class PromptDataSerializer(serializers.Serializer):
    topics = serializers.ListField(child=StrictCharField(max_length=200), min_length=1, max_length=20)
    context = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    count = StrictIntegerField(required=False, min_value=1, max_value=20, default=5, help_text="How many prompts.")


class AutoPromptsSerializer(serializers.Serializer):
    data = PromptDataSerializer()
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class ChatDataSerializer(serializers.Serializer):
    user_id = StrictCharField(max_length=200)
    message = StrictCharField(max_length=5000)
    context = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    chat_id = StrictCharField(required=False, help_text="Continue this chat; a new chat when absent.")


class ChatSerializer(serializers.Serializer):
    chat_data = ChatDataSerializer()
    instance_id = StrictCharField(required=False, help_text=INSTANCE_HELP)


class ChatsQuerySerializer(PageQuerySerializer):
    user_id = StrictCharField(required=False, help_text="Only this end user's chats.")


# Answers, for the schema: BHuman's `{"status": "success", ...}` with each route's own fields.


class BHumanPagesStoredSerializer(BHumanSuccessSerializer):
    page_ids = serializers.ListField(child=serializers.CharField(), read_only=True)


class BHumanStreamStateSerializer(BHumanSuccessSerializer):
    stream_id = serializers.CharField(read_only=True)
    batch_index = serializers.IntegerField(read_only=True, help_text="Where this batch was placed.")
    repeated = serializers.BooleanField(read_only=True, help_text="The batch had been received already.")
    received_batches = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    missing_batches = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    completed = serializers.BooleanField(read_only=True, help_text="The final batch has been received.")


class BHumanTrainingDataPageSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    training_data = TrainingDataItemSerializer(many=True, read_only=True)
    pagination = PaginationMetaSerializer(read_only=True)


class BHumanTrainingDataOneSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    training_data = TrainingDataItemSerializer(read_only=True)


class BHumanReviewQueuedSerializer(BHumanSuccessSerializer):
    review_ids = serializers.ListField(child=serializers.CharField(), read_only=True)


class BHumanPromptsSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    prompts = serializers.ListField(child=serializers.CharField(), read_only=True)


class BHumanChatSourceSerializer(serializers.Serializer):
    page_id = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)


class BHumanChatAnswerSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    chat_id = serializers.CharField(read_only=True)
    response = serializers.CharField(read_only=True)
    sources = BHumanChatSourceSerializer(many=True, read_only=True)


class BHumanChatSummarySerializer(serializers.Serializer):
    chat_id = serializers.CharField(read_only=True)
    user_id = serializers.CharField(read_only=True)
    messages = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="Texts in order.")


class BHumanChatsPageSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    chats = BHumanChatSummarySerializer(many=True, read_only=True)
    pagination = PaginationMetaSerializer(read_only=True)


class BHumanMessageDetailSerializer(serializers.Serializer):
    role = serializers.CharField(read_only=True, help_text="user or assistant.")
    content = serializers.CharField(read_only=True)
    sources = serializers.JSONField(read_only=True, help_text="The passages an answer used.")
    created_at = serializers.DateTimeField(read_only=True)


class BHumanChatMessagesSerializer(serializers.Serializer):
    status = serializers.CharField(default="success", read_only=True)
    messages = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="Texts in order.")
    details = BHumanMessageDetailSerializer(many=True, read_only=True)
