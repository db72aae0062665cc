from django.conf import settings
from django.db import models
from ulid import ULID

from accounts.models import Company, Workspace


def new_ulid() -> str:
    return str(ULID())


class Person(models.Model):
    """The persona: a face, a voice and a profile. Every dialect's persona noun is this row.

    Dialects show it under their own ids: the integer key (persons, replicas, instances) or
    `char_` + `ulid` (characters).
    """

    ulid = models.CharField(max_length=26, unique=True, default=new_ulid, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="persons")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="persons")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    photo = models.ImageField(upload_to="persons/photos/", max_length=255, blank=True)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="persons")
    # The voice the person speaks with: one of its own clones or a voice from the workspace library.
    voice = models.ForeignKey(
        "characters.Voice", null=True, blank=True, on_delete=models.SET_NULL, related_name="speaking_persons"
    )
    # What face analysis found in the photo: box, 68 landmarks, identity embedding (see engines.face.Face).
    face = models.JSONField(default=dict, blank=True, editable=False)
    is_demo = models.BooleanField(default=False, help_text="The workspace's read-only demo person.")
    is_default = models.BooleanField(
        default=False, help_text="The persona that calls naming none act on (one per workspace)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="person_workspace_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(is_demo=True), name="one_demo_person_per_workspace"
            ),
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(is_default=True), name="one_default_person_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def character_id(self) -> str:
        return f"char_{self.ulid}"


class Voice(models.Model):
    """A voice: a person's clone (deleted with the person) or, without a person, a library voice."""

    class Provider(models.TextChoices):
        LOCAL = "local", "Local"
        ELEVENLABS = "elevenlabs", "ElevenLabs"
        HUME = "hume", "Hume"
        CHATTERBOX = "chatterbox", "Chatterbox"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="voices")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="voice_clones")
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.LOCAL)
    provider_voice_id = models.CharField(max_length=200)
    # Provider options (ElevenLabs: stability, similarity_boost, style, use_speaker_boost).
    settings = models.JSONField(default=dict, blank=True)
    # What a local clone measured from its samples: median pitch, speaking rate, speaker embedding.
    measurements = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class SpeakingProfile(models.Model):
    """How a persona speaks (TwinTone's "persona"): a voice and the adjustments applied to it.

    `speed` multiplies the voice's pace (1.0 unchanged); `pitch` shifts it in semitones (0 unchanged).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="speaking_profiles")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="speaking_profiles"
    )
    voice = models.ForeignKey(Voice, null=True, blank=True, on_delete=models.SET_NULL, related_name="speaking_profiles")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    speed = models.FloatField(default=1.0)
    pitch = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(speed__gte=0.5, speed__lte=2.0), name="profile_speed_range"),
            models.CheckConstraint(condition=models.Q(pitch__gte=-12, pitch__lte=12), name="profile_pitch_range"),
        ]

    def __str__(self) -> str:
        return self.name


class ProfileVideo(models.Model):
    """A video added to a persona's profile (BHuman `admin/video`), with what probing found in it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="profile_videos")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="profile_videos")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    file = models.FileField(upload_to="persons/videos/", max_length=255)
    container = models.CharField(max_length=32)
    video_codec = models.CharField(max_length=32)
    audio_codec = models.CharField(max_length=32, blank=True)
    duration = models.FloatField(help_text="Seconds, measured.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
