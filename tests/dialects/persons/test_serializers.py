import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from characters.api.persons.serializers import PersonsPersonSummarySerializer
from characters.selectors import person_list
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_written_out_list_item_equals_the_declared_fields(workspace):
    with_voice = factories.person_create(workspace=workspace, name="Voiced", description="Has a voice")
    factories.voice_create(person=with_voice)
    factories.person_create(workspace=workspace, name="No photo", with_photo=False)
    context = {"request": APIRequestFactory().get("/api/v1/persons")}
    persons = list(person_list(workspace=workspace))
    assert len(persons) == 3

    for person in persons:
        serializer = PersonsPersonSummarySerializer(person, context=context)
        declared = serializers.Serializer.to_representation(serializer, person)
        assert serializer.data == declared
        assert list(serializer.data) == list(declared)
