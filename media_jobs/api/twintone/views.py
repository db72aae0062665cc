"""TwinTone speech and videos: `/v1/speech`, `/v1/videos` (seed: twintone-video-agents-v1).

Both are jobs with the same list, get, rename and delete; only creation differs.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.api.twintone.views import TwinToneView
from characters.selectors import speaking_profile_get
from media_jobs.api.twintone.serializers import (
    TwinToneJobCreatedSerializer,
    TwinToneJobListQuerySerializer,
    TwinToneJobRenamedSerializer,
    TwinToneJobRenameSerializer,
    TwinToneSpeechCreateSerializer,
    TwinToneSpeechSerializer,
    TwinToneVideoCreateSerializer,
    TwinToneVideoSerializer,
)
from media_jobs.models import MediaJob
from media_jobs.selectors import job_get, job_list
from media_jobs.services import job_create, job_delete, job_rename, talking_head_start
from persona_platform.api.converters import body_reference
from persona_platform.api.pagination import paginate, paginated_serializer
from persona_platform.api.schema import error_responses

SPEECH, VIDEO = MediaJob.Kind.SPEECH, MediaJob.Kind.VIDEO
TwinToneSpeechPageSerializer = paginated_serializer("TwinToneSpeechPageSerializer", "speech", TwinToneSpeechSerializer)
TwinToneVideoPageSerializer = paginated_serializer("TwinToneVideoPageSerializer", "videos", TwinToneVideoSerializer)


class TwinToneJobListView(TwinToneView):
    kind: str
    envelope_key: str
    item_serializer: type

    def list(self, request):
        query = self.query(TwinToneJobListQuerySerializer)
        statuses = self.dialect.job_statuses_for(query["status"]) if "status" in query else None
        page = paginate(
            job_list(workspace=request.auth.workspace, kind=self.kind, statuses=statuses),
            page=query["page"],
            limit=query.get("limit"),
        )
        items = self.item_serializer(page.items, many=True, context=self.ctx).data
        return Response(page.envelope(self.envelope_key, items))

    def created(self, job: MediaJob) -> Response:
        return Response(TwinToneJobCreatedSerializer(job, context=self.ctx).data, status=status.HTTP_201_CREATED)


class TwinToneJobDetailView(TwinToneView):
    kind: str
    item_serializer: type

    def job(self, job_id: int) -> MediaJob:
        return job_get(workspace=self.request.auth.workspace, kind=self.kind, job_id=job_id)

    def retrieve(self, job_id: int) -> Response:
        return Response(self.item_serializer(self.job(job_id), context=self.ctx).data)

    def rename(self, request, job_id: int) -> Response:
        job = self.job(job_id)
        data = self.validated(TwinToneJobRenameSerializer, request.data)
        return Response(TwinToneJobRenamedSerializer(job_rename(job=job, name=data["name"]), context=self.ctx).data)

    def destroy(self, job_id: int) -> Response:
        job_delete(job=self.job(job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SpeechListView(TwinToneJobListView):
    kind, envelope_key, item_serializer = SPEECH, "speech", TwinToneSpeechSerializer

    @extend_schema(
        summary="List speech generations",
        parameters=[TwinToneJobListQuerySerializer],
        responses={200: TwinToneSpeechPageSerializer, **error_responses(400)},
    )
    def get(self, request):
        """Your speech generations, newest first, with `page`, `limit` and `status` (processing, ready, failed)."""
        return self.list(request)

    @extend_schema(
        summary="Generate speech",
        request=TwinToneSpeechCreateSerializer,
        responses={201: TwinToneJobCreatedSerializer, **error_responses(400)},
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
        return self.created(job)


class SpeechDetailView(TwinToneJobDetailView):
    kind, item_serializer = SPEECH, TwinToneSpeechSerializer

    @extend_schema(summary="Get a speech generation", responses={200: TwinToneSpeechSerializer, **error_responses(404)})
    def get(self, request, speech_id: int):
        """The generation's state; `url` of the audio once `ready`, `error` once `failed`."""
        return self.retrieve(speech_id)

    @extend_schema(
        summary="Rename a speech generation",
        request=TwinToneJobRenameSerializer,
        responses={200: TwinToneJobRenamedSerializer, **error_responses(400, 404)},
    )
    def patch(self, request, speech_id: int):
        """Change the generation's name."""
        return self.rename(request, speech_id)

    @extend_schema(summary="Delete a speech generation", responses={204: None, **error_responses(404)})
    def delete(self, request, speech_id: int):
        """Delete the generation and its audio file (a running one is canceled)."""
        return self.destroy(speech_id)


class VideoListView(TwinToneJobListView):
    kind, envelope_key, item_serializer = VIDEO, "videos", TwinToneVideoSerializer

    @extend_schema(
        summary="List videos",
        parameters=[TwinToneJobListQuerySerializer],
        responses={200: TwinToneVideoPageSerializer, **error_responses(400)},
    )
    def get(self, request):
        """Your generated videos, newest first, with `page`, `limit` and `status` (processing, ready, failed)."""
        return self.list(request)

    @extend_schema(
        summary="Generate a video",
        request=TwinToneVideoCreateSerializer,
        responses={201: TwinToneJobCreatedSerializer, **error_responses(400)},
    )
    def post(self, request):
        """Make the replica say the script: speech in its voice, then its photo lip-synced to it, as an
        H.264/AAC MP4 at 25 fps. Answers at once with `processing`; poll `GET /v1/videos/{id}` (or pass
        `callback_url`) until it is `ready` with its `url`, or `failed` with `error`."""
        data = self.validated(TwinToneVideoCreateSerializer, request.data)
        person = self.replica_in_body(data["replica_id"])
        job = talking_head_start(
            person=person,
            script=data["script"],
            kind=VIDEO,
            name=data["name"],
            callback_url=data.get("callback_url", ""),
        )
        return self.created(job)


class VideoDetailView(TwinToneJobDetailView):
    kind, item_serializer = VIDEO, TwinToneVideoSerializer

    @extend_schema(summary="Get a video", responses={200: TwinToneVideoSerializer, **error_responses(404)})
    def get(self, request, video_id: int):
        """The video's state; its `url` once `ready`, `error` once `failed`."""
        return self.retrieve(video_id)

    @extend_schema(
        summary="Rename a video",
        request=TwinToneJobRenameSerializer,
        responses={200: TwinToneJobRenamedSerializer, **error_responses(400, 404)},
    )
    def patch(self, request, video_id: int):
        """Change the video's name."""
        return self.rename(request, video_id)

    @extend_schema(summary="Delete a video", responses={204: None, **error_responses(404)})
    def delete(self, request, video_id: int):
        """Delete the video and its file (a running one is canceled)."""
        return self.destroy(video_id)
