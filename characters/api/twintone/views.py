"""TwinTone personas and replicas: `/v1/personas`, `/v1/replicas` (seed: twintone-video-agents-v1)."""

import inspect

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.models import Workspace
from characters.api.timings import SpeechIncludeQuerySerializer, timings_included
from characters.api.twintone.serializers import (
    TwinToneJobCreatedSerializer,
    TwinToneJobListQuerySerializer,
    TwinToneJobRenamedSerializer,
    TwinToneJobRenameSerializer,
    TwinTonePersonaCreateSerializer,
    TwinTonePersonaPageSerializer,
    TwinTonePersonaSerializer,
    TwinTonePersonaSummarySerializer,
    TwinTonePersonaUpdatedSerializer,
    TwinTonePersonaUpdateSerializer,
    TwinToneReplicaCreateSerializer,
    TwinToneReplicaPageSerializer,
    TwinToneReplicaRenameSerializer,
    TwinToneReplicaSerializer,
    TwinToneReplicaUpdatedSerializer,
    TwinToneSpeechCreateSerializer,
    TwinToneSpeechPageSerializer,
    TwinToneSpeechSerializer,
    TwinToneVideoCreateSerializer,
    TwinToneVideoPageSerializer,
    TwinToneVideoSerializer,
)
from characters.selectors import (
    person_get,
    person_in_body,
    person_list,
    speaking_profile_get,
    speaking_profile_in_body,
    speaking_profile_list,
)
from characters.services.consent_policy import new_likeness_require_policy
from characters.services.media import SPEECH, VIDEO, profile_speech_start, talking_head_start
from characters.services.persons import person_create, person_delete, person_update
from characters.services.photos import photo_from_bytes
from characters.services.videos import photo_from_video
from characters.services.voices import speaking_profile_create, speaking_profile_delete, speaking_profile_update
from media_jobs.models import MediaJob
from media_jobs.selectors import job_get, job_list
from media_jobs.services import job_delete, job_rename
from persona_platform.api.dialects.base import ItemMixin, Location, PagedListMixin, item_schema, list_schema
from persona_platform.api.dialects.twintone import TwinToneView
from persona_platform.api.parsers import BoundedJSONParser
from persona_platform.api.schema import error_responses


@list_schema("List personas", TwinTonePersonaPageSerializer)
class PersonaListView(PagedListMixin, TwinToneView):
    created_location = Location("twintone:persona-detail", {"persona_id": "id"})

    def rows(self, query):
        """Your workspace's personas (speaking profiles), newest first, with `page` and `limit`."""
        return speaking_profile_list(workspace=self.request.auth.workspace)

    @extend_schema(
        summary="Create a persona",
        request=TwinTonePersonaCreateSerializer,
        responses={201: TwinTonePersonaSummarySerializer, **error_responses(404)},  # 404: `replica_id` names none
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
            else person_in_body(
                workspace=request.auth.workspace, raw_id=data["replica_id"], field="replica_id", noun="replica"
            ),
        )
        return Response(TwinTonePersonaSummarySerializer(profile).data, status=status.HTTP_201_CREATED)


class PersonaDetailView(TwinToneView):
    @extend_schema(summary="Get a persona", responses={200: TwinTonePersonaSerializer})
    def get(self, request, persona_id: int):
        """One persona with its voice settings."""
        profile = speaking_profile_get(workspace=request.auth.workspace, profile_id=persona_id)
        return Response(TwinTonePersonaSerializer(profile).data)

    @extend_schema(
        summary="Update a persona",
        request=TwinTonePersonaUpdateSerializer,
        responses={200: TwinTonePersonaUpdatedSerializer},
    )
    def patch(self, request, persona_id: int):
        """Change the name, description or voice settings you send; the rest stays."""
        profile = speaking_profile_get(workspace=request.auth.workspace, profile_id=persona_id)
        data = self.validated(TwinTonePersonaUpdateSerializer, request.data)
        changes = {key: data[key] for key in ("name", "description") if key in data}
        changes.update(data.get("voice_settings", {}))
        profile = speaking_profile_update(profile=profile, **changes)
        return Response(TwinTonePersonaUpdatedSerializer(profile).data)

    @extend_schema(summary="Delete a persona", responses={204: None})
    def delete(self, request, persona_id: int):
        """Delete a persona. Speech generated with it is kept."""
        speaking_profile_delete(profile=speaking_profile_get(workspace=request.auth.workspace, profile_id=persona_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@list_schema("List replicas", TwinToneReplicaPageSerializer)
class ReplicaListView(PagedListMixin, TwinToneView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES
    created_location = Location("twintone:replica-detail", {"replica_id": "id"})
    parser_classes = [BoundedJSONParser, MultiPartParser]

    def rows(self, query):
        """Your workspace's replicas (the personas videos animate), newest first, with `page` and `limit`."""
        return person_list(workspace=self.request.auth.workspace)

    @extend_schema(
        summary="Create a replica",
        request={
            "application/json": TwinToneReplicaCreateSerializer,
            "multipart/form-data": TwinToneReplicaCreateSerializer,
        },
        responses={201: TwinToneReplicaSerializer, **error_responses(403)},
    )
    def post(self, request):
        """A replica from a `name` and either a `photo` (one face) or a short `training_video`, sent as
        multipart files or as base64 in JSON. A photo without a face, or with several, is refused. A
        workspace whose consent policy is `enforce` makes replicas through `POST /api/v1/persons` and
        `POST /api/v1/consents` instead (403 here)."""
        data = self.validated(TwinToneReplicaCreateSerializer, request.data)
        new_likeness_require_policy(workspace=request.auth.workspace, what="A replica")
        if "photo" in data:
            photo = photo_from_bytes(data["photo"], field="photo")
        else:
            photo = photo_from_video(data["training_video"], field="training_video")
        person = person_create(workspace=request.auth.workspace, owner=request.user, name=data["name"], photo=photo)
        return Response(TwinToneReplicaSerializer(person, context=self.ctx).data, status=status.HTTP_201_CREATED)


@item_schema("Get a replica", TwinToneReplicaSerializer)
class ReplicaDetailView(ItemMixin, TwinToneView):
    def item(self, replica_id: int):
        """One replica."""
        return person_get(workspace=self.request.auth.workspace, person_id=replica_id)

    @extend_schema(
        summary="Rename a replica",
        request=TwinToneReplicaRenameSerializer,
        responses={200: TwinToneReplicaUpdatedSerializer, **error_responses(403)},
    )
    def patch(self, request, replica_id: int):
        """Change the replica's name (the demo replica is read-only)."""
        person = self.item(replica_id=replica_id)
        data = self.validated(TwinToneReplicaRenameSerializer, request.data)
        person = person_update(person=person, name=data["name"])
        return Response(TwinToneReplicaUpdatedSerializer(person, context=self.ctx).data)

    @extend_schema(summary="Delete a replica", responses={204: None, **error_responses(403)})
    def delete(self, request, replica_id: int):
        """Delete the replica, its photo and its voice clones; videos made with it are kept."""
        person_delete(person=self.item(replica_id=replica_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TwinToneJobListView(PagedListMixin, TwinToneView):
    """The workspace's jobs of the view's kind, newest first, and where a new one is started (`post`)."""

    kind: str
    list_query = TwinToneJobListQuerySerializer

    def rows(self, query):
        statuses = self.dialect.job_statuses_for(query["status"]) if "status" in query else None
        return job_list(workspace=self.request.auth.workspace, kind=self.kind, statuses=statuses)

    create_serializer: type  # set by job_create_schema

    def start(self, workspace: Workspace, **data) -> MediaJob:
        """Queue the job the validated body asks for (a subclass names the persona it finds in the body)."""
        raise NotImplementedError

    def post(self, request):
        job = self.start(request.auth.workspace, **self.validated(self.create_serializer, request.data))
        return Response(TwinToneJobCreatedSerializer(job, context=self.ctx).data, status=status.HTTP_201_CREATED)


class TwinToneJobDetailView(TwinToneView):
    """One job of the view's kind, named by the path's `id_kwarg`: read it, rename it, delete it."""

    kind: str
    item_serializer: type  # set by job_detail_schema
    id_kwarg: str

    def job(self, path: dict) -> MediaJob:
        return job_get(workspace=self.request.auth.workspace, kind=self.kind, job_id=path[self.id_kwarg])

    def get(self, request, **path):
        return Response(self.item_serializer(self.job(path), context=self.ctx).data)

    def patch(self, request, **path):
        job = self.job(path)
        data = self.validated(TwinToneJobRenameSerializer, request.data)
        return Response(TwinToneJobRenamedSerializer(job_rename(job=job, name=data["name"]), context=self.ctx).data)

    def delete(self, request, **path):
        job_delete(job=self.job(path))
        return Response(status=status.HTTP_204_NO_CONTENT)


def job_list_schema(*, summary: str, page: type, what: str):
    """A job list route's GET, documented for one kind."""
    description = f"{what}, newest first, with `page`, `limit` and `status` (processing, ready, failed)."
    return list_schema(summary, page, description=description)


def job_create_schema(summary: str, request: type):
    """Makes `request` a job list route's body and documents its POST with the docstring of `start()`:
    `TwinToneJobCreatedSerializer` out; 404 when the body's `persona_id` or `replica_id` names nothing the
    caller can see."""

    def document(view: type) -> type:
        view.create_serializer = request
        post = extend_schema(
            summary=summary,
            description=inspect.cleandoc(view.start.__doc__ or ""),
            request=request,
            responses={201: TwinToneJobCreatedSerializer, **error_responses(404)},
        )
        return extend_schema_view(post=post)(view)

    return document


def job_detail_schema(noun: str, item_serializer: type, *, file: str):
    """The three operations of a job's detail route, documented for one kind (`noun`: "video"; the GET
    with the view's docstring); the view answers in `item_serializer`."""
    rename = extend_schema(
        summary=f"Rename a {noun}",
        description=f"Change the {noun}'s name.",
        request=TwinToneJobRenameSerializer,
        responses={200: TwinToneJobRenamedSerializer},
    )
    delete = extend_schema(
        summary=f"Delete a {noun}",
        description=f"Delete the {noun} and its {file} (a running one is canceled).",
        responses={204: None},
    )

    def document(view: type) -> type:
        view.item_serializer = item_serializer
        get = extend_schema(summary=f"Get a {noun}", description=view.__doc__, responses={200: item_serializer})
        return extend_schema_view(get=get, patch=rename, delete=delete)(view)

    return document


@job_create_schema("Generate speech", TwinToneSpeechCreateSerializer)
@job_list_schema(summary="List speech generations", page=TwinToneSpeechPageSerializer, what="Your speech generations")
class SpeechListView(TwinToneJobListView):
    kind = SPEECH
    created_location = Location("twintone:speech-detail", {"speech_id": "id"})

    def start(self, workspace: Workspace, *, persona_id: str, **data) -> MediaJob:
        """Start generating speech in the persona's voice. Answers at once with `processing`; poll
        `GET /v1/speech/{id}` (or pass `callback_url`) until it is `ready` with its `url`, or `failed` with `error`."""
        profile = speaking_profile_in_body(workspace=workspace, raw_id=persona_id)
        return profile_speech_start(profile=profile, **data)


@job_detail_schema("speech generation", TwinToneSpeechSerializer, file="audio file")
class SpeechDetailView(TwinToneJobDetailView):
    """The generation's state; `url` of the audio once `ready`, `error` once `failed`. With
    `?include=timings`, also `timings` (an extension): each phoneme with its start and end in seconds."""

    kind, id_kwarg = SPEECH, "speech_id"

    @extend_schema(parameters=[SpeechIncludeQuerySerializer])
    def get(self, request, **path):
        include = timings_included(self.query(SpeechIncludeQuerySerializer))
        return Response(self.item_serializer(self.job(path), context={**self.ctx, **include}).data)


VIDEO_RESOLUTION = 720  # TwinTone videos are 720p where the replica's photo is at least that tall


@job_create_schema("Generate a video", TwinToneVideoCreateSerializer)
@job_list_schema(summary="List videos", page=TwinToneVideoPageSerializer, what="Your generated videos")
class VideoListView(TwinToneJobListView):
    kind = VIDEO
    created_location = Location("twintone:video-detail", {"video_id": "id"})

    def start(self, workspace: Workspace, *, replica_id: str, **data) -> MediaJob:
        """Make the replica say the script: speech in its voice, then its photo lip-synced to it, as an
        H.264/AAC MP4 at 25 fps, 720p where the replica's photo is at least 720 pixels tall. Answers at once with `processing`; poll `GET /v1/videos/{id}` (or pass
        `callback_url`) until it is `ready` with its `url`, or `failed` with `error`."""
        person = person_in_body(workspace=workspace, raw_id=replica_id, field="replica_id", noun="replica")
        return talking_head_start(person=person, kind=VIDEO, resolution=VIDEO_RESOLUTION, **data)


@job_detail_schema("video", TwinToneVideoSerializer, file="file")
class VideoDetailView(TwinToneJobDetailView):
    """The video's state; its `url` once `ready`, `error` once `failed`."""

    kind, id_kwarg = VIDEO, "video_id"
