from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers

from persona_platform.api.fields import StrictCharField, StrictIntegerField, UtcDateTimeField


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 20, 10, 0, tzinfo=UTC),
        datetime(2024, 3, 20, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 3, 20, 12, 30, tzinfo=timezone(timedelta(hours=2, minutes=30))),
    ],
)
def test_utc_datetimes_match_drfs_iso_output_in_utc(value, settings):
    settings.TIME_ZONE = "UTC"

    assert UtcDateTimeField().to_representation(value) == serializers.DateTimeField().to_representation(value)
    assert UtcDateTimeField().to_representation(value).endswith("Z")


def test_utc_datetimes_leave_none_alone():
    assert UtcDateTimeField().to_representation(None) is None


@pytest.mark.parametrize("value", [42, 4.2, True, None, [], {}])
def test_strict_strings_refuse_other_json_types(value):
    field = StrictCharField(allow_null=False)
    with pytest.raises(serializers.ValidationError):
        field.run_validation(value)


@pytest.mark.parametrize("value", ["7", 7.0, True, "x"])
def test_strict_integers_refuse_other_json_types(value):
    with pytest.raises(serializers.ValidationError):
        StrictIntegerField().run_validation(value)


def test_strict_integers_take_integers():
    assert StrictIntegerField().run_validation(7) == 7


def test_base64_fields_skip_the_per_character_scan_but_stay_strict():
    from django.core.validators import ProhibitNullCharactersValidator

    from persona_platform.api.fields import Base64Field

    field = Base64Field()

    assert not any(isinstance(v, ProhibitNullCharactersValidator) for v in field.validators)
    assert field.run_validation("aGVsbG8=") == "aGVsbG8="
    with pytest.raises(serializers.ValidationError):
        field.run_validation(12)
    with pytest.raises(serializers.ValidationError):
        field.run_validation("")
