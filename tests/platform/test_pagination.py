import pytest
from rest_framework.exceptions import ValidationError

from characters.models import Person
from persona_platform.api.pagination import PageQuerySerializer, paginate
from persona_platform.errors import InvalidInput
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven_persons(workspace):
    for index in range(6):
        factories.person_create(workspace=workspace, name=f"P{index}", with_photo=False)
    return Person.objects.filter(workspace=workspace).order_by("pk")


def test_the_envelope_has_items_and_total_page_pages(seven_persons):
    page = paginate(seven_persons, page=2, limit=3)

    envelope = page.envelope("replicas", [person.name for person in page.items])

    assert envelope == {"replicas": ["P2", "P3", "P4"], "pagination": {"total": 7, "page": 2, "pages": 3}}


def test_a_short_page_needs_no_count_query(seven_persons, django_assert_num_queries):
    with django_assert_num_queries(1):
        page = paginate(seven_persons, page=1, limit=10)

    assert page.meta() == {"total": 7, "page": 1, "pages": 1}


def test_a_full_page_counts(seven_persons, django_assert_num_queries):
    with django_assert_num_queries(2):
        page = paginate(seven_persons, page=1, limit=7)

    assert page.meta() == {"total": 7, "page": 1, "pages": 1}


def test_a_page_past_the_end_is_empty_not_an_error(seven_persons):
    page = paginate(seven_persons, page=9, limit=3)

    assert page.items == [] and page.meta() == {"total": 7, "page": 9, "pages": 3}


def test_an_empty_list_has_one_page(workspace):
    page = paginate(Person.objects.none())

    assert page.meta() == {"total": 0, "page": 1, "pages": 1}


def test_the_default_limit_comes_from_settings(seven_persons, settings):
    settings.API_PAGE_SIZE = 5

    assert len(paginate(seven_persons).items) == 5


@pytest.mark.parametrize("params", [{"page": "0"}, {"page": "one"}, {"limit": "-1"}, {"limit": "x"}])
def test_bad_parameters_are_validation_errors(params):
    with pytest.raises(ValidationError):
        PageQuerySerializer(data=params).is_valid(raise_exception=True)


def test_page_defaults_to_one():
    query = PageQuerySerializer(data={})
    query.is_valid(raise_exception=True)

    assert query.validated_data == {"page": 1}


def test_a_limit_over_the_maximum_is_refused(seven_persons, settings):
    settings.API_MAX_PAGE_SIZE = 4

    with pytest.raises(InvalidInput, match="limit: must be at most 4"):
        paginate(seven_persons, limit=5)
