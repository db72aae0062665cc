"""TwinTone personas and replicas: `/v1/personas`, `/v1/replicas` (seed: twintone-video-agents-v1)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from characters.api.twintone.serializers import (
    TwinTonePersonaCreateSerializer,
    TwinTonePersonaSerializer,
    TwinTonePersonaSummarySerializer,
    TwinTonePersonaUpdatedSerializer,
    TwinTonePersonaUpdateSerializer,
    TwinToneReplicaCreateSerializer,
    TwinToneReplicaRenameSerializer,
    TwinToneReplicaSerializer,
    TwinToneReplicaUpdatedSerializer,
)
from characters.selectors import person_get, person_list, speaking_profile_get, speaking_profile_list
from characters.services.persons import person_create, person_delete, person_update
from characters.services.photos import photo_from_bytes
from characters.services.videos import photo_from_video
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

    def replica_in_body(self, raw_id: str):
        """The replica a body's `replica_id` names; unknown or foreign is a 400 naming the field."""
        workspace = self.request.auth.workspace
        return body_reference(
            raw_id, field="replica_id", noun="replica", lookup=lambda pk: person_get(workspace=workspace, person_id=pk)
        )


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
            person=None if data.get("replica_id") is None else self.replica_in_body(data["replica_id"]),
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


TwinToneReplicaPageSerializer = paginated_serializer(
    "TwinToneReplicaPageSerializer", "replicas", TwinToneReplicaSerializer
)


class ReplicaListView(TwinToneView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        summary="List replicas", parameters=[PageQuerySerializer], responses={200: TwinToneReplicaPageSerializer}
    )
    def get(self, request):
        """Your workspace's replicas (the personas videos animate), newest first, with `page` and `limit`."""
        query = self.query(PageQuerySerializer)
        page = paginate(person_list(workspace=request.auth.workspace), page=query["page"], limit=query.get("limit"))
        return Response(
            page.envelope("replicas", TwinToneReplicaSerializer(page.items, many=True, context=self.ctx).data)
        )

    @extend_schema(
        summary="Create a replica",
        request={
            "application/json": TwinToneReplicaCreateSerializer,
            "multipart/form-data": TwinToneReplicaCreateSerializer,
        },
        responses={201: TwinToneReplicaSerializer, **error_responses(400, 403, 413)},
    )
    def post(self, request):
        """A replica from a `name` and either a `photo` (one face) or a short `training_video`, sent as
        multipart files or as base64 in JSON. A photo without a face, or with several, is refused."""
        data = self.validated(TwinToneReplicaCreateSerializer, request.data)
        if "photo" in data:
            photo = photo_from_bytes(data["photo"], field="photo")
        else:
            photo = photo_from_video(data["training_video"], field="training_video")
        person = person_create(workspace=request.auth.workspace, owner=request.user, name=data["name"], photo=photo)
        return Response(TwinToneReplicaSerializer(person, context=self.ctx).data, status=status.HTTP_201_CREATED)


class ReplicaDetailView(TwinToneView):
    @extend_schema(summary="Get a replica", responses={200: TwinToneReplicaSerializer, **error_responses(404)})
    def get(self, request, replica_id: int):
        """One replica."""
        person = person_get(workspace=request.auth.workspace, person_id=replica_id)
        return Response(TwinToneReplicaSerializer(person, context=self.ctx).data)

    @extend_schema(
        summary="Rename a replica",
        request=TwinToneReplicaRenameSerializer,
        responses={200: TwinToneReplicaUpdatedSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, replica_id: int):
        """Change the replica's name (the demo replica is read-only)."""
        person = person_get(workspace=request.auth.workspace, person_id=replica_id)
        data = self.validated(TwinToneReplicaRenameSerializer, request.data)
        person = person_update(person=person, name=data["name"])
        return Response(TwinToneReplicaUpdatedSerializer(person, context=self.ctx).data)

    @extend_schema(summary="Delete a replica", responses={204: None, **error_responses(403, 404)})
    def delete(self, request, replica_id: int):
        """Delete the replica, its photo and its voice clones; videos made with it are kept."""
        person_delete(person=person_get(workspace=request.auth.workspace, person_id=replica_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
