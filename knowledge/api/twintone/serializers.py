"""TwinTone conversation shapes (seed: "Conversations"); messages are ours."""

from dataclasses import asdict

from rest_framework import serializers

from knowledge.models import Conversation
from persona_platform.api.fields import StrictBooleanField, StrictCharField, UtcDateTimeField
from persona_platform.api.pagination import PageQuerySerializer, paginated_serializer

CONVERSATION_STATUSES = Conversation.Status.values  # one enum in the schema (settings.SPECTACULAR_SETTINGS)


class TwinToneConversationSerializer(serializers.Serializer):
    """List items and GET: `ended_at` only once ended."""

    schema_optional_fields = ("ended_at",)  # the seed: "Present if status is ended"

    id = serializers.CharField(source="pk", read_only=True)
    replica_id = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=CONVERSATION_STATUSES, read_only=True)
    created_at = UtcDateTimeField()
    ended_at = UtcDateTimeField(help_text="Present only when status is ended.")

    def get_replica_id(self, conversation) -> str | None:
        return str(conversation.person_id) if conversation.person_id else None

    def to_representation(self, conversation):
        data = super().to_representation(conversation)
        if conversation.status != Conversation.Status.ENDED:
            del data["ended_at"]
        return data


class TwinToneConversationCreatedSerializer(TwinToneConversationSerializer):
    """The seed's answer plus how to talk with the replica live (docs/LIVE.md). Serializes a
    (conversation, LiveAccess) pair."""

    conversation_url = serializers.URLField(
        read_only=True, help_text="A page on this server where a person talks with the replica; no API key needed."
    )
    webrtc_offer_url = serializers.URLField(
        read_only=True,
        help_text='POST {"type": "offer", "sdp": ...} here with `Authorization: Bearer <conversation_token>`.',
    )
    conversation_token = serializers.CharField(
        read_only=True, help_text="A short-lived secret for this conversation alone (LIVE_TOKEN_TTL_SECONDS)."
    )

    def to_representation(self, instance):
        conversation, access = instance
        return {**super().to_representation(conversation), **asdict(access)}


class TwinToneConversationEndedSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", read_only=True)
    status = serializers.CharField(read_only=True)
    ended_at = UtcDateTimeField()


class TwinToneConversationCreateSerializer(serializers.Serializer):
    replica_id = StrictCharField(help_text="The replica (persona) to talk with.")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")


class TwinToneConversationListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=CONVERSATION_STATUSES, required=False)


class TwinToneMessageSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", read_only=True)
    role = serializers.CharField(read_only=True, help_text="user or assistant.")
    content = serializers.CharField(read_only=True)
    sources = serializers.JSONField(source="citations", read_only=True)
    audio_url = serializers.SerializerMethodField(help_text="The spoken reply, once made; null otherwise.")
    created_at = UtcDateTimeField()

    def get_audio_url(self, message) -> str | None:
        job = message.audio_job
        if job is None or not job.result_file:
            return None
        return self.context["request"].build_absolute_uri(job.result_file.url)


class TwinToneMessageCreateSerializer(serializers.Serializer):
    text = StrictCharField(max_length=5000, help_text="What the user says.")
    context = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    speak = StrictBooleanField(default=True, help_text="Also speak the reply (an `audio` event with its URL).")


ConversationPage = paginated_serializer("TwinToneConversationPage", "conversations", TwinToneConversationSerializer)
MessagePage = paginated_serializer("TwinToneMessagePage", "messages", TwinToneMessageSerializer)
