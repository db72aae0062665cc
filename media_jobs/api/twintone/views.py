"""TwinTone speech: `/v1/speech` (seed: twintone-video-agents-v1, "Speech")."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.api.twintone.views import TwinToneView
from characters.selectors import speaking_profile_get
from media_jobs.api.twintone.serializers import (
    TwinToneSpeechCreatedSerializer,
    TwinToneSpeechCreateSerializer,
    TwinToneSpeechListQuerySerializer,
    TwinToneSpeechRenamedSerializer,
    TwinToneSpeechRenameSerializer,
    TwinToneSpeechSerializer,
)
from media_jobs.models import MediaJob
from media_jobs.selectors import job_get, job_list
from media_jobs.services import job_create, job_delete, job_rename
from persona_platform.api.converters import body_reference
from persona_platform.api.pagination import paginate, paginated_serializer
from persona_platform.api.schema import error_responses

SPEECH = MediaJob.Kind.SPEECH
TwinToneSpeechPageSerializer = paginated_serializer("TwinToneSpeechPageSerializer", "speech", TwinToneSpeechSerializer)


class SpeechListView(TwinToneView):
    @extend_schema(
        summary="List speech generations",
        parameters=[TwinToneSpeechListQuerySerializer],
        responses={200: TwinToneSpeechPageSerializer, **error_responses(400)},
    )
    def get(self, request):
        """Your speech generations, newest first, with `page`, `limit` and `status` (processing, ready, failed)."""
        query = self.query(TwinToneSpeechListQuerySerializer)
        statuses = self.dialect.job_statuses_for(query["status"]) if "status" in query else None
        page = paginate(
            job_list(workspace=request.auth.workspace, kind=SPEECH, statuses=statuses),
            page=query["page"],
            limit=query.get("limit"),
        )
        return Response(page.envelope("speech", TwinToneSpeechSerializer(page.items, many=True, context=self.ctx).data))

    @extend_schema(
        summary="Generate speech",
        request=TwinToneSpeechCreateSerializer,
        responses={201: TwinToneSpeechCreatedSerializer, **error_responses(400)},
    )
    def post(self, request):
        """Start generating speech in the persona's voice. Answers at once with `processing`; poll
        `GET /v1/speech/{id}` (or pass `callback_url`) until it is `ready` with its `url`, or `failed` with `error`."""
        data = self.validated(TwinToneSpeechCreateSerializer, request.data)
        workspace = request.auth.workspace
        profile = body_reference(
            data["persona_id"],
            field="persona_id",
            noun="persona",
            lookup=lambda pk: speaking_profile_get(workspace=workspace, profile_id=pk),
        )
        job = job_create(
            workspace=workspace,
            kind=SPEECH,
            person=profile.person,
            name=data["name"],
            params={"text": data["text"], "profile_id": profile.pk, "format": data["format"]},
            callback_url=data.get("callback_url", ""),
        )
        return Response(TwinToneSpeechCreatedSerializer(job, context=self.ctx).data, status=status.HTTP_201_CREATED)


class SpeechDetailView(TwinToneView):
    @extend_schema(summary="Get a speech generation", responses={200: TwinToneSpeechSerializer, **error_responses(404)})
    def get(self, request, speech_id: int):
        """The generation's state; `url` of the audio once `ready`, `error` once `failed`."""
        job = job_get(workspace=request.auth.workspace, kind=SPEECH, job_id=speech_id)
        return Response(TwinToneSpeechSerializer(job, context=self.ctx).data)

    @extend_schema(
        summary="Rename a speech generation",
        request=TwinToneSpeechRenameSerializer,
        responses={200: TwinToneSpeechRenamedSerializer, **error_responses(400, 404)},
    )
    def patch(self, request, speech_id: int):
        """Change the generation's name."""
        job = job_get(workspace=request.auth.workspace, kind=SPEECH, job_id=speech_id)
        data = self.validated(TwinToneSpeechRenameSerializer, request.data)
        return Response(TwinToneSpeechRenamedSerializer(job_rename(job=job, name=data["name"]), context=self.ctx).data)

    @extend_schema(summary="Delete a speech generation", responses={204: None, **error_responses(404)})
    def delete(self, request, speech_id: int):
        """Delete the generation and its audio file (a running one is canceled)."""
        job_delete(job=job_get(workspace=request.auth.workspace, kind=SPEECH, job_id=speech_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
