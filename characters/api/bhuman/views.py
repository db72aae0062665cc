"""BHuman Persona: `/persona/api/...` (seed: bhuman-persona-a/-b). Errors are `{"status": "error", "message"}`."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.api.bhuman.serializers import BHumanVideoAddedSerializer, BHumanVideoAddSerializer
from characters.selectors import person_default, person_get
from characters.services.videos import profile_video_add
from persona_platform.api.converters import body_reference
from persona_platform.api.dialects import BHUMAN, DialectView
from persona_platform.api.schema import BHumanErrorSerializer, error_responses


class BHumanView(DialectView):
    dialect = BHUMAN

    def instance(self, instance_id: str | None):
        """The persona a call names with `instance_id`, else the workspace's default one."""
        workspace = self.request.auth.workspace
        if instance_id is None:
            return person_default(workspace=workspace)
        return body_reference(
            instance_id,
            field="instance_id",
            noun="instance",
            lookup=lambda pk: person_get(workspace=workspace, person_id=pk),
        )


class AdminVideoView(BHumanView):
    @extend_schema(
        summary="Add a video to a persona's profile",
        request=BHumanVideoAddSerializer,
        responses={
            201: BHumanVideoAddedSerializer,
            **error_responses(400, 403, 404, 413, serializer=BHumanErrorSerializer),
        },
    )
    def post(self, request):
        """The video is decoded and probed before it is kept: a file that is not a video, or whose real
        duration or resolution differs from what `video_data` declares, is refused with a 400 saying so."""
        data = self.validated(BHumanVideoAddSerializer, request.data)
        video_data = data["video_data"]
        video = profile_video_add(
            person=self.instance(data.get("instance_id")),
            data=video_data["file"],
            title=video_data["title"],
            description=video_data["description"],
            declared_duration=video_data["duration"],
            declared_resolution=video_data["resolution"],
            field="video_data.file",
        )
        body = {"status": "success", "message": "Video added successfully", "video_id": str(video.pk)}
        return Response(body, status=status.HTTP_201_CREATED)
