"""Phoneme timings of a speech generation, an extension field the speech resources add on request.

The speech engine aligns every phoneme it speaks (Piper's own durations) and the job keeps them in
`MediaJob.result["phonemes"]` as `[phoneme, start, end]`. No vendor document has a field for them, so
they stay out of the vendor shapes unless the client asks with `?include=timings` (TwinTone
`GET /v1/speech/{id}`, influgen `GET .../voice/generations/{id}`): lip-sync, captions and karaoke-style
highlighting need them.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

TIMINGS = "timings"


class PhonemeTimingSerializer(serializers.Serializer):
    phoneme = serializers.CharField(
        help_text="The phoneme in IPA, as the speech engine aligned it; a space or punctuation is a pause."
    )
    start = serializers.FloatField(help_text="Seconds from the start of the audio.")
    end = serializers.FloatField(help_text="Seconds from the start of the audio; `start` ≤ `end`.")


class SpeechIncludeQuerySerializer(serializers.Serializer):
    include = serializers.ChoiceField(
        choices=[TIMINGS],
        required=False,
        help_text="`timings` adds the extension field `timings`: each phoneme of the audio with its start and "
        "end in seconds (empty until the speech is ready). Any other value is refused.",
    )


@extend_schema_field(PhonemeTimingSerializer(many=True))
class PhonemeTimingsField(serializers.Field):
    """The job's stored timings as objects; the serializer drops the field unless the request asked for it."""

    def __init__(self, **kwargs):
        kwargs.update(source="*", read_only=True)
        kwargs.setdefault("help_text", "Extension: present only with `?include=timings`; empty until ready.")
        super().__init__(**kwargs)

    def to_representation(self, job) -> list[dict]:
        stored = (job.result or {}).get("phonemes") or []
        return [{"phoneme": phoneme, "start": start, "end": end} for phoneme, start, end in stored]


def timings_included(query: dict) -> dict:
    """Serializer context from a validated `SpeechIncludeQuerySerializer` query."""
    return {"include_timings": query.get("include") == TIMINGS}


def without_timings_unless_included(data: dict, context: dict) -> dict:
    """A speech item's representation, with `timings` only where the request asked for them."""
    if not context.get("include_timings"):
        data.pop("timings", None)
    return data
