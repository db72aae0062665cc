"""BHuman Persona: `/persona/api/...` (seed: bhuman-persona-a/-b). Errors are `{"status": "error", "message"}`."""

from django.db import transaction
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
    BHumanVideoReportSerializer,
    BHumanVoiceAddedSerializer,
    BHumanVoiceAddSerializer,
    BHumanVoiceGenerateSerializer,
)
from characters.selectors import voice_get
from characters.services.persons import instance_create, instance_ensure, person_default_ensure, person_delete
from characters.services.videos import profile_video_add, profile_video_report
from characters.services.voice_clones import training_sample, voice_clone_start
from characters.services.voices import voice_training_audio
from persona_platform.api.dialects.bhuman import BHumanView, bhuman_success, error_responses


class AdminVideoView(BHumanView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    @extend_schema(
        summary="Add a video to a persona's profile",
        request=BHumanVideoAddSerializer,
        responses={201: BHumanVideoAddedSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request):
        """The video is decoded and probed before it is kept: a file that is not a video, or one over the
        size or length limits, is refused (400, 413). A video whose real duration or resolution differs from
        what `video_data` declares is kept: the answer shows the declared and the measured values side by
        side, and `matches_declared`. A workspace without a persona of its own is 409: create one first."""
        person, video_data = self.instance_and_body(BHumanVideoAddSerializer, "video_data")
        video = profile_video_add(person=person, field="video_data.file", **video_data)
        report = BHumanVideoReportSerializer({"video_id": str(video.pk), **profile_video_report(video)}).data
        return bhuman_success("Video added successfully", status.HTTP_201_CREATED, **report)


class InstanceView(BHumanView):
    @extend_schema(
        summary="Create an instance",
        request=BHumanInstanceCreateSerializer,
        responses={201: BHumanInstanceCreatedSerializer, **error_responses(403)},
    )
    def post(self, request):
        """An instance is a persona: `name`, `description` and its `configuration` object."""
        data = self.validated(BHumanInstanceCreateSerializer, request.data)["instance_data"]
        person = instance_create(workspace=request.auth.workspace, owner=request.user, **data)
        return bhuman_success("Instance created successfully", status.HTTP_201_CREATED, instance_id=str(person.pk))

    @extend_schema(
        summary="Delete an instance",
        request=BHumanInstanceDeleteSerializer,
        responses={200: BHumanSuccessSerializer, **error_responses(403, 404)},
    )
    def delete(self, request):
        """Delete the instance named by `instance_id` in the body, with its photo, voices and knowledge."""
        data = self.validated(BHumanInstanceDeleteSerializer, request.data)
        person_delete(person=self.instance(data))
        return bhuman_success("Instance deleted successfully")


class AdminInstanceView(InstanceView):
    http_method_names = ["post", "options"]


class AdminVoiceView(BHumanView):
    large_body = True  # media or documents: API_MAX_BODY_BYTES, not API_MAX_JSON_BODY_BYTES

    @extend_schema(
        summary="Add a voice profile",
        request=BHumanVoiceAddSerializer,
        responses={201: BHumanVoiceAddedSerializer, **error_responses(403, 404)},
    )
    def post(self, request):
        """A voice cloned from `sample_audio` (checked now: a real recording of 1 s to 5 min), measured by a
        job; the persona speaks with it once it is ready. Without `instance_id` it is the default persona's
        voice; a workspace without one gets its first persona, named after the workspace."""
        data = self.validated(BHumanVoiceAddSerializer, request.data)
        voice_data = data["voice_data"]
        with transaction.atomic():  # a refused recording leaves no first persona behind
            person = instance_ensure(
                workspace=request.auth.workspace, owner=request.user, instance_id=data.get("instance_id")
            )
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
        responses={200: BHumanTrainingUrlSerializer, **error_responses(404, 409)},
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
        responses={201: BHumanVoiceAddedSerializer, **error_responses(404)},
    )
    def post(self, request):
        """A new voice learned from the recordings at `training_urls`: this platform's own training URLs, or
        public http(s) URLs fetched safely. `names[0]` names it; `use_prosody` is kept with it."""
        data = self.validated(BHumanVoiceGenerateSerializer, request.data)
        # A named instance is looked up before anything is fetched; a first persona is made only for
        # recordings that were fetched.
        named = self.instance(data) if "instance_id" in data else None
        samples = [
            training_sample(workspace=request.auth.workspace, url=url, field=f"training_urls[{index}]")
            for index, url in enumerate(data["training_urls"])
        ]
        with transaction.atomic():  # a refused recording leaves no first persona behind
            person = named or person_default_ensure(workspace=request.auth.workspace, owner=request.user)
            voice, _ = voice_clone_start(
                workspace=request.auth.workspace,
                person=person,
                name=(data["names"][0] if data["names"] else f"{person.name} (generated)")[:200],
                samples=samples,
                voice_settings={"use_prosody": data["use_prosody"]},
                field="training_urls",
            )
        return bhuman_success("Voice generated successfully", status.HTTP_201_CREATED, voice_id=str(voice.pk))
