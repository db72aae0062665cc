"""The platform's provenance routes: a generated file's C2PA manifest (`/api/v1/jobs/{id}/provenance`) and the
check of any file (`/api/v1/provenance/verify`). docs/DEPLOYMENT.md, "Provenance"."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from media_jobs.api.platform.serializers import (
    JobProvenanceSerializer,
    ProvenanceSerializer,
    ProvenanceVerifyUploadSerializer,
)
from media_jobs.provenance import verify
from media_jobs.selectors import job_provenance_get
from persona_platform.api.dialects.platform import PlatformView
from persona_platform.api.schema import error_responses
from persona_platform.media import upload_read


class JobProvenanceView(PlatformView):
    @extend_schema(
        summary="Get a generated file's provenance", responses={200: JobProvenanceSerializer, **error_responses(409)}
    )
    def get(self, request, job_id: int):
        """The C2PA manifest of the file a job made (speech, a video, a talking head, a motion transfer), with
        any dialect's job id: whether it is signed by this platform, still valid and unaltered, and the consent
        of each likeness it used, then and now. A job that has not finished, or that makes no file, is 409."""
        return Response(
            JobProvenanceSerializer(job_provenance_get(workspace=request.auth.workspace, job_id=job_id)).data
        )


class ProvenanceVerifyView(PlatformView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Verify a file's provenance",
        request={"multipart/form-data": ProvenanceVerifyUploadSerializer},
        responses={200: ProvenanceSerializer},
    )
    def post(self, request):
        """Whether a file carries a C2PA manifest made by this platform (`signed`), whether it validates against
        the platform's trust anchor (`valid`), and whether the media changed after signing (`altered`), with the
        manifest itself. A file without a manifest answers `{"signed": false, ...}`; one that is not WAV, MP3,
        MP4, JPEG or PNG is 400. Nothing is stored."""
        upload = self.validated(ProvenanceVerifyUploadSerializer, request.data)["file"]
        data = upload_read(upload, field="file", max_bytes=settings.MAX_MEDIA_BYTES)
        return Response(ProvenanceSerializer(verify(data)).data)
