"""influgen talking heads and motion transfers: `/api/v1/characters/{id}/talking-head/...`,
`/api/v1/characters/{id}/motion-transfer...` and `/api/v1/talking-head/{generationId}`.

Both are jobs on a character (a person, `char_<ulid>`); the work happens in a worker and the
answer is `202` with the job, to poll or to await through `callback_url`.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from characters.selectors import person_get_by_ulid
from media_jobs.api.influgen.serializers import (
    InflugenJobListQuerySerializer,
    MotionTransferRequestSerializer,
    MotionTransferSerializer,
    TalkingHeadGenerationSerializer,
    TalkingHeadPreviewRequestSerializer,
    TalkingHeadRequestSerializer,
    wrapped,
)
from media_jobs.models import MediaJob
from media_jobs.selectors import job_get, job_list
from media_jobs.services import motion_transfer_start, talking_head_start
from persona_platform.api.dialects import VENDOR, DialectView
from persona_platform.api.pagination import paginate, paginated_serializer
from persona_platform.api.schema import error_responses

TALKING_HEAD, MOTION_TRANSFER = MediaJob.Kind.TALKING_HEAD, MediaJob.Kind.MOTION_TRANSFER
GenerationEnvelope = wrapped("TalkingHeadGenerationEnvelope", "generation", TalkingHeadGenerationSerializer)
MotionTransferEnvelope = wrapped("MotionTransferEnvelope", "job", MotionTransferSerializer)
GenerationPage = paginated_serializer("TalkingHeadGenerationPage", "generations", TalkingHeadGenerationSerializer)
MotionTransferPage = paginated_serializer("MotionTransferPage", "motion_transfers", MotionTransferSerializer)


class InflugenView(DialectView):
    dialect = VENDOR

    def character(self, character_id: str):
        return person_get_by_ulid(workspace=self.request.auth.workspace, ulid=character_id)

    def job_page(self, *, kind: str, person, key: str, serializer) -> Response:
        query = self.query(InflugenJobListQuerySerializer)
        jobs = job_list(
            workspace=self.request.auth.workspace, kind=kind, statuses=[query["status"]] if "status" in query else None
        ).filter(person=person)
        page = paginate(jobs.select_related("person"), page=query["page"], limit=query.get("limit"))
        return Response(page.envelope(key, serializer(page.items, many=True, context=self.ctx).data))


class TalkingHeadStartView(InflugenView):
    preview = False
    request_serializer = TalkingHeadRequestSerializer

    def post(self, request, character_id: str):
        person = self.character(character_id)
        data = self.validated(self.request_serializer, request.data)
        job = talking_head_start(
            person=person,
            script=data["script"],
            name=data["name"],
            callback_url=data.get("callback_url", ""),
            preview=self.preview,
        )
        body = {"generation": TalkingHeadGenerationSerializer(job, context=self.ctx).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TalkingHeadPreviewView(TalkingHeadStartView):
    preview = True
    request_serializer = TalkingHeadPreviewRequestSerializer

    @extend_schema(
        summary="Preview a talking head",
        request=TalkingHeadPreviewRequestSerializer,
        responses={202: GenerationEnvelope, **error_responses(404, 413, 422)},
    )
    def post(self, request, character_id: str):
        """A short script (up to 300 characters) spoken by the character's photo, rendered small
        (256 px) and fast, to check a look and a voice before a full render."""
        return super().post(request, character_id)


class TalkingHeadGenerateView(TalkingHeadStartView):
    @extend_schema(
        summary="Generate a talking head",
        request=TalkingHeadRequestSerializer,
        responses={202: GenerationEnvelope, **error_responses(404, 413, 422)},
    )
    def post(self, request, character_id: str):
        """The script spoken in the character's voice by its photo, lip-synced, as an H.264/AAC MP4
        at 25 fps and the photo's full size. Poll `GET /api/v1/talking-head/{id}` or pass `callback_url`."""
        return super().post(request, character_id)


class TalkingHeadGenerationListView(InflugenView):
    @extend_schema(
        summary="List a character's talking heads",
        parameters=[InflugenJobListQuerySerializer],
        responses={200: GenerationPage, **error_responses(404, 422)},
    )
    def get(self, request, character_id: str):
        """The character's talking-head generations (previews and full renders), newest first."""
        return self.job_page(
            kind=TALKING_HEAD,
            person=self.character(character_id),
            key="generations",
            serializer=TalkingHeadGenerationSerializer,
        )


class TalkingHeadGenerationDetailView(InflugenView):
    @extend_schema(summary="Get a talking head", responses={200: GenerationEnvelope, **error_responses(404)})
    def get(self, request, generation_id: int):
        """One generation: its status and progress, and `video_url` once ready."""
        job = job_get(workspace=request.auth.workspace, kind=TALKING_HEAD, job_id=generation_id)
        return Response({"generation": TalkingHeadGenerationSerializer(job, context=self.ctx).data})


class MotionTransferStartView(InflugenView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        summary="Start a motion transfer",
        request={
            "application/json": MotionTransferRequestSerializer,
            "multipart/form-data": MotionTransferRequestSerializer,
        },
        responses={202: MotionTransferEnvelope, **error_responses(400, 404, 413, 422)},
    )
    def post(self, request, character_id: str):
        """The character's photo moved by a driving video: its mouth, eyes and head follow the face in
        the video, with the video's sound. Send `video` as a multipart file or as base64 in JSON."""
        person = self.character(character_id)
        data = self.validated(MotionTransferRequestSerializer, request.data)
        job = motion_transfer_start(
            person=person,
            video=data["video"],
            name=data["name"],
            callback_url=data.get("callback_url", ""),
            preview=data["preview"],
        )
        return Response({"job": MotionTransferSerializer(job, context=self.ctx).data}, status=status.HTTP_202_ACCEPTED)


class MotionTransferListView(InflugenView):
    @extend_schema(
        summary="List a character's motion transfers",
        parameters=[InflugenJobListQuerySerializer],
        responses={200: MotionTransferPage, **error_responses(404, 422)},
    )
    def get(self, request, character_id: str):
        """The character's motion transfers, newest first."""
        return self.job_page(
            kind=MOTION_TRANSFER,
            person=self.character(character_id),
            key="motion_transfers",
            serializer=MotionTransferSerializer,
        )


class MotionTransferDetailView(InflugenView):
    @extend_schema(summary="Get a motion transfer", responses={200: MotionTransferEnvelope, **error_responses(404)})
    def get(self, request, character_id: str, job_id: int):
        """One motion transfer of the character: status, progress, and `video_url` once ready."""
        person = self.character(character_id)
        job = job_get(workspace=request.auth.workspace, kind=MOTION_TRANSFER, job_id=job_id, person=person)
        return Response({"job": MotionTransferSerializer(job, context=self.ctx).data})
