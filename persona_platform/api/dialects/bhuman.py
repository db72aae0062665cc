"""BHuman's Persona API (`/persona/api`, `/voice/api`): `{"status": "success" | "error", "message": ...}`."""

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework import status
from rest_framework.response import Response

from persona_platform.api.dialects.base import ApiError, Dialect, DialectView
from persona_platform.api.schema import BHumanErrorSerializer
from persona_platform.api.schema import error_responses as vendor_error_responses


def bhuman_error(error: ApiError) -> dict:
    return {"status": "error", "message": error.message}


BHUMAN = Dialect(name="bhuman", tag="BHuman Persona", error_body=bhuman_error, validation_status=400)


class BHumanView(DialectView):
    """Most BHuman calls act on one persona: the one `instance_id` names, else the workspace's default one.
    The persona is found by the selector settings name (BHUMAN_INSTANCE_SELECTOR), so the dialect's base view
    depends on no app."""

    dialect = BHUMAN

    def instance(self, data: dict):
        """The persona of a validated body or query string."""
        selector = import_string(settings.BHUMAN_INSTANCE_SELECTOR)
        return selector(workspace=self.request.auth.workspace, instance_id=data.get("instance_id"))

    def instance_and_body(self, serializer_class, key: str) -> tuple:
        """BHuman bodies are `{"<key>": {...}, "instance_id": ...}`: the persona and the validated `key` object."""
        data = self.validated(serializer_class, self.request.data)
        return self.instance(data), data[key]


def bhuman_success(message: str, status_code: int = status.HTTP_200_OK, **fields) -> Response:
    return Response({"status": "success", "message": message, **fields}, status=status_code)


def error_responses(*codes: int) -> dict:
    """The schema's error answers, in BHuman's envelope."""
    return vendor_error_responses(*codes, serializer=BHumanErrorSerializer)
