"""BHuman's Persona API (`/persona/api`, `/voice/api`): `{"status": "success" | "error", "message": ...}`."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.response import Response

from persona_platform.api.dialects.base import ApiError, Dialect, DialectView
from persona_platform.api.schema import BHumanErrorSerializer
from persona_platform.api.schema import error_responses as vendor_error_responses


def bhuman_error(error: ApiError) -> dict:
    return {"status": "error", "message": error.message}


BHUMAN = Dialect(name="bhuman", tag="BHuman Persona", error_body=bhuman_error, validation_status=400)


class BHumanView(DialectView):
    dialect = BHUMAN


def bhuman_success(message: str, status_code: int = status.HTTP_200_OK, **fields) -> Response:
    return Response({"status": "success", "message": message, **fields}, status=status_code)


def error_responses(*codes: int) -> dict:
    """The schema's error answers, in BHuman's envelope."""
    return vendor_error_responses(*codes, serializer=BHumanErrorSerializer)


def success_response(description: str) -> OpenApiResponse:
    """A documented `{"status": "success", ...}` answer with no body of its own."""
    return OpenApiResponse(description=f'`{{"status": "success", ...}}`: {description}')
