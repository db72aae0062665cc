"""BHuman Persona: `/persona/api/...` (seed: bhuman-persona-a/-b). Errors are `{"status": "error", "message"}`."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from characters.api.bhuman.serializers import (
    BHumanInstanceCreatedSerializer,
    BHumanInstanceCreateSerializer,
    BHumanInstanceDeleteSerializer,
    BHumanSuccessSerializer,
    BHumanTrainingUrlSerializer,
    BHumanVideoAddedSerializer,
    BHumanVideoAddSerializer,
    BHumanVoiceAddedSerializer,
    BHumanVoiceAddSerializer,
    BHumanVoiceGenerateSerializer,
)
from characters.selectors import person_default, person_get, voice_get
from characters.services.persons import instance_create, person_delete
from characters.services.videos import profile_video_add
from characters.services.voice_clones import training_sample, voice_clone_start
from characters.services.voices import voice_training_audio
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


def bhuman_success(message: str, status_code: int = status.HTTP_200_OK, **fields) -> Response:
    return Response({"status": "success", "message": message, **fields}, status=status_code)


class InstanceView(BHumanView):
    @extend_schema(
        summary="Create an instance",
        request=BHumanInstanceCreateSerializer,
        responses={201: BHumanInstanceCreatedSerializer, **error_responses(400, 403, serializer=BHumanErrorSerializer)},
    )
    def post(self, request):
        """An instance is a persona: `name`, `description` and its `configuration` object."""
        data = self.validated(BHumanInstanceCreateSerializer, request.data)["instance_data"]
        person = instance_create(
            workspace=request.auth.workspace,
            owner=request.user,
            name=data["name"],
            description=data["description"],
            configuration=data["configuration"],
        )
        return bhuman_success("Instance created successfully", status.HTTP_201_CREATED, instance_id=str(person.pk))

    @extend_schema(
        summary="Delete an instance",
        request=BHumanInstanceDeleteSerializer,
        responses={200: BHumanSuccessSerializer, **error_responses(400, 403, serializer=BHumanErrorSerializer)},
    )
    def delete(self, request):
        """Delete the instance named by `instance_id` in the body, with its photo, voices and knowledge."""
        data = self.validated(BHumanInstanceDeleteSerializer, request.data)
        person_delete(person=self.instance(data["instance_id"]))
        return bhuman_success("Instance deleted successfully")


class AdminInstanceView(InstanceView):
    http_method_names = ["post", "options"]


class AdminVoiceView(BHumanView):
    @extend_schema(
        summary="Add a voice profile",
        request=BHumanVoiceAddSerializer,
        responses={
            201: BHumanVoiceAddedSerializer,
            **error_responses(400, 403, 404, 413, serializer=BHumanErrorSerializer),
        },
    )
    def post(self, request):
        """A voice cloned from `sample_audio` (checked now: a real recording of 1 s to 5 min), measured by a
        job; the persona speaks with it once it is ready."""
        data = self.validated(BHumanVoiceAddSerializer, request.data)
        voice_data = data["voice_data"]
        person = self.instance(data.get("instance_id"))
        voice, _ = voice_clone_start(
            workspace=request.auth.workspace,
            person=person,
            name=f"{person.name} ({voice_data['tone']})"[:200],
            samples=[voice_data["sample_audio"]],
            description=f"{voice_data['language']}, {voice_data['tone']}, {voice_data['pitch']} pitch"[:2000],
            voice_settings={key: voice_data[key] for key in ("language", "tone", "pitch")},
            field="voice_data.sample_audio",
        )
        return bhuman_success("Voice profile added successfully", status.HTTP_201_CREATED, voice_id=str(voice.pk))


class VoiceTrainingUrlView(BHumanView):
    @extend_schema(
        summary="Get a voice's training URL",
        responses={200: BHumanTrainingUrlSerializer, **error_responses(404, 409, serializer=BHumanErrorSerializer)},
    )
    def get(self, request, embed_name: int):
        """A reference recording of the voice `embed_name` (a `voice_id`), to pass to
        `POST /voice/api/v2/voice/generate` as a training URL."""
        voice = voice_training_audio(voice=voice_get(workspace=request.auth.workspace, voice_id=embed_name))
        return Response({"training_url": request.build_absolute_uri(voice.training_audio.url)})


class VoiceGenerateView(BHumanView):
    @extend_schema(
        summary="Generate a voice from training URLs",
        request=BHumanVoiceGenerateSerializer,
        responses={201: BHumanVoiceAddedSerializer, **error_responses(400, 404, 413, serializer=BHumanErrorSerializer)},
    )
    def post(self, request):
        """A new voice learned from the recordings at `training_urls`: this platform's own training URLs, or
        public http(s) URLs fetched safely. `names[0]` names it; `use_prosody` is kept with it."""
        data = self.validated(BHumanVoiceGenerateSerializer, request.data)
        person = self.instance(data.get("instance_id"))
        samples = [
            training_sample(workspace=request.auth.workspace, url=url, field=f"training_urls[{index}]")
            for index, url in enumerate(data["training_urls"])
        ]
        voice, _ = voice_clone_start(
            workspace=request.auth.workspace,
            person=person,
            name=(data["names"][0] if data["names"] else f"{person.name} (generated)")[:200],
            samples=samples,
            voice_settings={"use_prosody": data["use_prosody"]},
            field="training_urls",
        )
        return bhuman_success("Voice generated successfully", status.HTTP_201_CREATED, voice_id=str(voice.pk))
