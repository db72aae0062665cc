"""TwinTone personas: `/v1/personas` (seed: twintone-video-agents-v1, "Personas")."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.api.twintone.serializers import (
    TwinTonePersonaCreateSerializer,
    TwinTonePersonaSerializer,
    TwinTonePersonaSummarySerializer,
    TwinTonePersonaUpdatedSerializer,
    TwinTonePersonaUpdateSerializer,
)
from characters.selectors import person_get, speaking_profile_get, speaking_profile_list
from characters.services.voices import speaking_profile_create, speaking_profile_delete, speaking_profile_update
from persona_platform.api.converters import body_reference
from persona_platform.api.dialects import TWINTONE, DialectView
from persona_platform.api.pagination import PageQuerySerializer, paginate, paginated_serializer
from persona_platform.api.schema import error_responses

TwinTonePersonaPageSerializer = paginated_serializer(
    "TwinTonePersonaPageSerializer", "personas", TwinTonePersonaSummarySerializer
)


class TwinToneView(DialectView):
    dialect = TWINTONE


class PersonaListView(TwinToneView):
    @extend_schema(
        summary="List personas", parameters=[PageQuerySerializer], responses={200: TwinTonePersonaPageSerializer}
    )
    def get(self, request):
        """Your workspace's personas (speaking profiles), newest first, with `page` and `limit`."""
        query = self.query(PageQuerySerializer)
        page = paginate(
            speaking_profile_list(workspace=request.auth.workspace), page=query["page"], limit=query.get("limit")
        )
        return Response(page.envelope("personas", TwinTonePersonaSummarySerializer(page.items, many=True).data))

    @extend_schema(
        summary="Create a persona",
        request=TwinTonePersonaCreateSerializer,
        responses={201: TwinTonePersonaSummarySerializer, **error_responses(400)},
    )
    def post(self, request):
        """A persona is how speech sounds: `voice_settings.speed` (0.5 to 2.0, 1 = the voice's pace) and
        `voice_settings.pitch` (semitones, -12 to 12, 0 = the voice's pitch)."""
        data = self.validated(TwinTonePersonaCreateSerializer, request.data)
        workspace = request.auth.workspace
        voice_settings = data.get("voice_settings", {})
        profile = speaking_profile_create(
            workspace=workspace,
            name=data["name"],
            description=data["description"],
            speed=voice_settings.get("speed", 1.0),
            pitch=voice_settings.get("pitch", 0.0),
            person=None
            if data.get("replica_id") is None
            else body_reference(
                data["replica_id"],
                field="replica_id",
                noun="replica",
                lookup=lambda pk: person_get(workspace=workspace, person_id=pk),
            ),
        )
        return Response(TwinTonePersonaSummarySerializer(profile).data, status=status.HTTP_201_CREATED)


class PersonaDetailView(TwinToneView):
    @extend_schema(summary="Get a persona", responses={200: TwinTonePersonaSerializer, **error_responses(404)})
    def get(self, request, persona_id: int):
        """One persona with its voice settings."""
        profile = speaking_profile_get(workspace=request.auth.workspace, profile_id=persona_id)
        return Response(TwinTonePersonaSerializer(profile).data)

    @extend_schema(
        summary="Update a persona",
        request=TwinTonePersonaUpdateSerializer,
        responses={200: TwinTonePersonaUpdatedSerializer, **error_responses(400, 404)},
    )
    def patch(self, request, persona_id: int):
        """Change the name, description or voice settings you send; the rest stays."""
        profile = speaking_profile_get(workspace=request.auth.workspace, profile_id=persona_id)
        data = self.validated(TwinTonePersonaUpdateSerializer, request.data)
        changes = {key: data[key] for key in ("name", "description") if key in data}
        changes.update(data.get("voice_settings", {}))
        profile = speaking_profile_update(profile=profile, **changes)
        return Response(TwinTonePersonaUpdatedSerializer(profile).data)

    @extend_schema(summary="Delete a persona", responses={204: None, **error_responses(404)})
    def delete(self, request, persona_id: int):
        """Delete a persona. Speech generated with it is kept."""
        speaking_profile_delete(profile=speaking_profile_get(workspace=request.auth.workspace, profile_id=persona_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
