"""twin.actor Persons shapes (seed: "The Person Object", "List Persons", "Create Person")."""

from rest_framework import serializers

from persona_platform.api.converters import MAX_DATABASE_ID
from persona_platform.api.fields import (
    AbsoluteFileUrlField,
    Base64Field,
    StrictCharField,
    StrictIntegerField,
    UtcDateTimeField,
)
from persona_platform.api.pagination import PageQuerySerializer


class PersonsPersonFieldsSerializer(serializers.Serializer):
    """The fields the list item and the full Person object begin with."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    photo_url = AbsoluteFileUrlField(source="photo")
    has_voice = serializers.SerializerMethodField()
    voice_provider = serializers.CharField(source="voice.provider", read_only=True, allow_null=True, default=None)

    def get_has_voice(self, person) -> bool:
        return person.voice_id is not None


class PersonsPersonSummarySerializer(PersonsPersonFieldsSerializer):
    """One item of `GET /persons`, with exactly the fields of the seed's list example."""

    created_at = UtcDateTimeField()

    def to_representation(self, person) -> dict:
        """The declared fields above, written out: this runs for every row of the dialect's busiest route,
        where DRF's generic field walk costs more than the query. A test pins the two to the same output."""
        fields = self.fields
        return {
            "id": person.id,
            "name": person.name,
            "description": person.description,
            "photo_url": fields["photo_url"].to_representation(person.photo),
            "has_voice": person.voice_id is not None,
            "voice_provider": person.voice.provider if person.voice_id is not None else None,
            "created_at": fields["created_at"].to_representation(person.created_at),
        }


class PersonsPersonSerializer(PersonsPersonFieldsSerializer):
    """The Person object as create, get and PUT return it (seed: the create response)."""

    voice_id = serializers.CharField(source="voice.provider_voice_id", read_only=True, allow_null=True, default=None)
    company_id = serializers.IntegerField(read_only=True, allow_null=True)
    user_id = serializers.IntegerField(source="owner_id", read_only=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()


class PersonsPersonCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, help_text="Person's name.")
    description = StrictCharField(
        required=False, allow_blank=True, allow_null=True, max_length=5000, help_text="Bio or description."
    )
    photo_base64 = Base64Field(
        help_text="JPEG, PNG or WebP photo as a data URL (`data:image/jpeg;base64,...`) or bare base64; at most 10 MB."
    )
    company_id = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_DATABASE_ID, help_text="Associate with a company."
    )


class PersonsPersonUpdateSerializer(serializers.Serializer):
    """PUT changes only the fields it names, as the seed's example (name and description only) shows."""

    name = StrictCharField(required=False, max_length=200)
    description = StrictCharField(required=False, allow_blank=True, allow_null=True, max_length=5000)
    photo_base64 = Base64Field(required=False, help_text="A new photo, as on create.")
    company_id = StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_DATABASE_ID)


# twin.actor's list shows no paging: the default page is large, and a client may ask for more.
LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT = 100, 1000


class PersonsPersonListQuerySerializer(PageQuerySerializer):
    """The list's query string: its filters, and page/limit."""

    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=LIST_MAX_LIMIT,
        help_text=f"Persons per page (default {LIST_DEFAULT_LIMIT}, at most {LIST_MAX_LIMIT}).",
    )
    has_voice = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Only persons with a voice (true) or without one (false); both when absent.",
    )
    company_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DATABASE_ID,
        help_text="Only the persons of this company.",
    )
