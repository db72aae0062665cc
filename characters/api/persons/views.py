"""twin.actor Persons API: `/api/v1/persons` (seed: twin-actor-persons)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.selectors import company_for_workspace
from characters.api.persons.serializers import (
    LIST_DEFAULT_LIMIT,
    LIST_MAX_LIMIT,
    PersonsPersonCreateSerializer,
    PersonsPersonListQuerySerializer,
    PersonsPersonSerializer,
    PersonsPersonSummarySerializer,
    PersonsPersonUpdateSerializer,
)
from characters.selectors import person_get, person_list
from characters.services.persons import person_create, person_delete, person_update
from characters.services.photos import photo_from_base64
from persona_platform.api.dialects.base import ItemMixin, Location, item_schema
from persona_platform.api.dialects.persons import PersonsView
from persona_platform.api.schema import error_responses


class PersonListView(PersonsView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    created_location = Location("persons:person-detail", {"person_id": "id"})

    @extend_schema(
        summary="List persons",
        parameters=[PersonsPersonListQuerySerializer],
        responses={200: PersonsPersonSummarySerializer(many=True)},
    )
    def get(self, request):
        """List the persons of your workspace, newest first, the demo person included.

        The body is a bare array, as twin.actor answers. `page` and `limit` (default 100, at most 1000)
        page through large workspaces; the headers `X-Total-Count`, `X-Page` and `X-Pages` tell where you are.
        """
        query = self.query(PersonsPersonListQuerySerializer)
        persons = person_list(
            workspace=request.auth.workspace, has_voice=query["has_voice"], company_id=query.get("company_id")
        )
        page = self.page(persons, query, default_limit=LIST_DEFAULT_LIMIT, max_limit=LIST_MAX_LIMIT)
        response = Response(PersonsPersonSummarySerializer(page.items, many=True, context=self.ctx).data)
        response["X-Total-Count"], response["X-Page"], response["X-Pages"] = page.total, page.page, page.pages
        return response

    @extend_schema(
        summary="Create a person",
        request=PersonsPersonCreateSerializer,
        responses={201: PersonsPersonSerializer, **error_responses(403, 404)},  # 404: `company_id` names none
    )
    def post(self, request):
        """Create a person from a name and a photo (JPEG, PNG or WebP, judged by its content; at most 10 MB).

        The photo is turned upright from its EXIF orientation and stored without metadata.
        """
        data = self.validated(PersonsPersonCreateSerializer, request.data)
        workspace = request.auth.workspace
        person = person_create(
            workspace=workspace,
            owner=request.user,
            name=data["name"],
            description=data.get("description") or "",
            photo=photo_from_base64(data["photo_base64"]),
            company=_company(workspace, data.get("company_id")),
        )
        return Response(PersonsPersonSerializer(person, context=self.ctx).data, status=status.HTTP_201_CREATED)


@item_schema("Get a person", PersonsPersonSerializer)
class PersonDetailView(ItemMixin, PersonsView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    def item(self, person_id: int):
        """One person of your workspace. Another workspace's id answers 404, like a missing one."""
        return person_get(workspace=self.request.auth.workspace, person_id=person_id)

    @extend_schema(
        summary="Update a person",
        request=PersonsPersonUpdateSerializer,
        responses={200: PersonsPersonSerializer, **error_responses(403)},
    )
    def put(self, request, person_id: int):
        """Change the fields you send; the others stay. The demo person is read-only (403)."""
        workspace = request.auth.workspace
        person = self.item(person_id=person_id)
        data = self.validated(PersonsPersonUpdateSerializer, request.data)
        changes = {key: data[key] for key in ("name",) if key in data}
        if "description" in data:
            changes["description"] = data["description"] or ""
        if "company_id" in data:
            changes["company"] = _company(workspace, data["company_id"])
        person = person_update(
            person=person,
            photo=photo_from_base64(data["photo_base64"]) if "photo_base64" in data else None,
            **changes,
        )
        return Response(PersonsPersonSerializer(person, context=self.ctx).data)

    @extend_schema(summary="Delete a person", responses={204: None, **error_responses(403)})
    def delete(self, request, person_id: int):
        """Delete a person and its voice clones. Videos and other media made with it are kept.

        The demo person cannot be deleted (403).
        """
        person_delete(person=self.item(person_id=person_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _company(workspace, company_id: int | None):
    return None if company_id is None else company_for_workspace(workspace=workspace, company_id=company_id)
