from django.conf import settings
from django.db import models
from ulid import ULID

from accounts.models import Company, Workspace
from persona_platform.ids import character_public_id


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
    # influgen's character profile: free-form nested objects a client defines, kept as sent.
    niche = models.CharField(max_length=100, blank=True)
    appearance = models.JSONField(default=dict, blank=True)
    identity = models.JSONField(default=dict, blank=True)
    personality = models.JSONField(default=dict, blank=True)
    style = models.JSONField(default=dict, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    talking_head_enabled = models.BooleanField(default=False)
    follower_count = models.PositiveIntegerField(default=0)
    # How the persona's voice is used (stability, similarity_boost, style, use_speaker_boost, speed, pitch).
    voice_settings = models.JSONField(default=dict, blank=True)
    # The mean identity embedding of the photo and reference images: who this character is.
    identity_embedding = models.JSONField(default=list, blank=True, editable=False)
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
        return character_public_id(self.ulid)


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
    description = models.TextField(blank=True, max_length=2000)
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.LOCAL)
    provider_voice_id = models.CharField(max_length=200)
    # Provider options (ElevenLabs: stability, similarity_boost, style, use_speaker_boost).
    settings = models.JSONField(default=dict, blank=True)
    # What a local clone measured from its samples: median pitch, speaking rate, speaker embedding.
    measurements = models.JSONField(default=dict, blank=True)
    # A reference recording of the voice, for BHuman's "training URL" (made on first request).
    training_audio = models.FileField(upload_to="voices/training/", max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_built_in(self) -> bool:
        """The local voice every workspace has (an unsaved row, see characters.services.voices)."""
        return self.pk is None

    @property
    def is_ready(self) -> bool:
        """A clone can speak once its job has measured it (local) or the provider has named it."""
        return self.is_built_in or bool(self.provider_voice_id or self.measurements)


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
    # What the client said; kept beside the measured values, which are the ones that count.
    declared_duration = models.FloatField(null=True, blank=True, help_text="Seconds, as the client declared.")
    declared_resolution = models.CharField(max_length=20, blank=True, help_text="As the client declared it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class FaceImage(models.Model):
    """A stored picture that must show one face, with what face analysis found in it."""

    face = models.JSONField(default=dict, blank=True, editable=False)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


class ReferenceImage(FaceImage):
    """A picture of the character (influgen reference image); each shows one face, analysed on arrival."""

    class Type(models.TextChoices):
        PRIMARY = "primary", "Primary"
        FACE = "face", "Face close-up"
        PROFILE = "profile", "Profile"
        FULL_BODY = "full_body", "Full body"
        EXPRESSION = "expression", "Expression"
        OTHER = "other", "Other"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="reference_images")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="reference_images")
    image = models.ImageField(upload_to="persons/references/", max_length=255)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.OTHER)
    source_url = models.URLField(max_length=2000, blank=True, help_text="Where it was fetched from, if a URL.")

    def __str__(self) -> str:
        return f"{self.type} image of {self.person_id}"


class LoraModel(models.Model):
    """A character's LoRA identity model, trained by a provider from its training images."""

    class Status(models.TextChoices):
        NONE = "none", "None"
        PENDING = "pending", "Pending"
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="lora")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NONE)
    base_model = models.CharField(max_length=100, blank=True)
    training_steps = models.PositiveIntegerField(null=True, blank=True)
    lora_rank = models.PositiveIntegerField(null=True, blank=True)
    trigger_word = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey(
        "media_jobs.MediaJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="lora_models"
    )
    provider = models.CharField(max_length=32, blank=True)
    provider_request_id = models.CharField(max_length=200, blank=True)
    weights_url = models.URLField(max_length=2000, blank=True)
    config_url = models.URLField(max_length=2000, blank=True)
    credits_charged = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"LoRA of {self.person_id} ({self.status})"


class LoraTrainingImage(FaceImage):
    """One image a LoRA learns the character's face from; it must show one face."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="lora_training_images")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="lora_training_images")
    image = models.ImageField(upload_to="persons/lora/", max_length=255)

    def __str__(self) -> str:
        return f"training image {self.pk} of {self.person_id}"


class Consent(models.Model):
    """A person's recorded yes to the use of their voice, face or both: a phrase to read aloud, the
    recording of them reading it, and what verification found in it (docs/CONSENT.md)."""

    class Kind(models.TextChoices):
        VOICE = "voice", "Voice"
        FACE = "face", "Face"
        BOTH = "both", "Voice and face"

    class Status(models.TextChoices):
        AWAITING_EVIDENCE = "awaiting_evidence", "Awaiting evidence"
        VERIFYING = "verifying", "Verifying"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consents")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_EVIDENCE)
    phrase = models.CharField(max_length=200, help_text="What the person reads aloud in the recording.")
    phrase_expires_at = models.DateTimeField()
    evidence = models.FileField(upload_to="consents/evidence/", max_length=255, blank=True)
    evidence_content_type = models.CharField(max_length=100, blank=True)
    job = models.ForeignKey(
        "media_jobs.MediaJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="consents"
    )
    # Why a recording was rejected, in words the person can act on; and what each check measured.
    reasons = models.JSONField(default=list, blank=True)
    measurements = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["person", "status"], name="consent_person_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} consent of {self.person_id} ({self.status})"

    def covers(self, kind: str) -> bool:
        return self.kind in (kind, self.Kind.BOTH)
