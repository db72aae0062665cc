"""The platform's consent routes (`/api/v1/consents`, `/api/v1/persons/{id}/consents`): docs/CONSENT.md."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from characters.api.platform.serializers import (
    ConsentCreateSerializer,
    ConsentEvidenceSerializer,
    ConsentListQuerySerializer,
    ConsentPageSerializer,
    ConsentSerializer,
)
from characters.selectors import consent_get, consent_list, person_by_any_id, person_get
from characters.services.consents import consent_evidence_submit, consent_request, consent_revoke
from persona_platform.api.dialects.base import ItemMixin, Location, PagedListMixin, item_schema, list_schema
from persona_platform.api.dialects.platform import PlatformView
from persona_platform.api.parsers import BoundedJSONParser
from persona_platform.api.schema import error_responses

# Where a request for a consent and its recording's receipt point: the consent, to poll.
CONSENT_LOCATION = Location("consents:consent-detail", {"consent_id": "id"})


class ConsentListView(PlatformView):
    created_location = CONSENT_LOCATION

    @extend_schema(
        summary="Request a consent",
        request=ConsentCreateSerializer,
        responses={201: ConsentSerializer, **error_responses(403, 404)},
    )
    def post(self, request):
        """A consent for the persona's `voice`, `face` or `both`, waiting for its recording. The answer's
        `phrase` is what the person reads aloud; send the recording to `POST /api/v1/consents/{id}/evidence`
        before `phrase_expires_at` (24 hours)."""
        data = self.validated(ConsentCreateSerializer, request.data)
        person = person_by_any_id(workspace=request.auth.workspace, raw_id=data["person_id"])
        consent = consent_request(person=person, kind=data["kind"], user=request.user)
        return Response(ConsentSerializer(consent, context=self.ctx).data, status=status.HTTP_201_CREATED)


@item_schema("Get a consent", ConsentSerializer)
class ConsentDetailView(ItemMixin, PlatformView):
    def item(self, consent_id: int):
        """The consent's state; once checked, `reasons` (when rejected) and what was measured (`measurements`)."""
        return consent_get(workspace=self.request.auth.workspace, consent_id=consent_id)

    @extend_schema(summary="Revoke a consent", responses={200: ConsentSerializer, **error_responses(503)})
    def delete(self, request, consent_id: int):
        """Revoke the consent. What it allowed is deleted unless another verified consent still covers it:
        the persona's voice clones (at ElevenLabs too), its face embeddings, its LoRA (at the provider too).
        Generation with that likeness is refused from now on; outputs already made stay, and their
        provenance says the consent was later revoked."""
        consent = consent_revoke(consent=self.item(consent_id=consent_id), user=request.user)
        return Response(ConsentSerializer(consent, context=self.ctx).data)


class ConsentEvidenceView(PlatformView):
    large_body = settings.API_MAX_EVIDENCE_BODY_BYTES
    parser_classes = [BoundedJSONParser, MultiPartParser]
    created_location = CONSENT_LOCATION

    @extend_schema(
        summary="Send a consent's recording",
        request={"multipart/form-data": ConsentEvidenceSerializer, "application/json": ConsentEvidenceSerializer},
        responses={202: ConsentSerializer, **error_responses(400, 409, 413)},
    )
    def post(self, request, consent_id: int):
        """The person reading the phrase aloud, as multipart field `file` or base64 `file` in JSON: audio
        for a voice consent, a video showing the face for a face consent (at most 2 minutes, 50 MB). The
        consent is `verifying` until a job has checked the words, the speaker and the face; poll
        `GET /api/v1/consents/{id}`. A phrase takes one recording, within 24 hours (409 after)."""
        consent = consent_get(workspace=request.auth.workspace, consent_id=consent_id)
        data = self.validated(ConsentEvidenceSerializer, request.data)
        consent = consent_evidence_submit(consent=consent, data=data["file"])
        return Response(ConsentSerializer(consent, context=self.ctx).data, status=status.HTTP_202_ACCEPTED)


@list_schema("List a persona's consents", ConsentPageSerializer)
class PersonConsentListView(PagedListMixin, PlatformView):
    list_query = ConsentListQuerySerializer

    def rows(self, query: dict, person_id: int):
        """The persona's consents, newest first; `status` filters them."""
        person = person_get(workspace=self.request.auth.workspace, person_id=person_id)
        return consent_list(person=person, status=query.get("status"))
