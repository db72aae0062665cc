import secrets

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminFileWidget
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin import may_set_demo_flag
from characters.models import Consent, LoraModel, Person, ProfileVideo, ReferenceImage, SpeakingProfile, Voice
from characters.services.characters import PROFILE_OBJECT_MAX_BYTES
from characters.services.consents import consent_revoke
from characters.services.demo import demo_person_ensure
from characters.services.faces import portrait_face
from characters.services.photos import photo_from_bytes
from characters.services.voice_clones import voice_clone_start, voice_samples_check
from characters.services.voices import voice_settings_errors, voice_training_audio
from media_jobs.models import MediaJob
from persona_platform.admin import ReadableJSONField, ReadOnlyInline, ServiceAddAdmin, media_player
from persona_platform.errors import DomainError


def each_through_service(model_admin: admin.ModelAdmin, request, objects, service) -> int:
    """Run an admin action's service on each object; how many succeeded. What a service refuses (a
    DomainError) is told to staff in one warning, and the others still run."""
    done, refused = 0, []
    for obj in objects:
        try:
            service(obj)
            done += 1
        except DomainError as exc:
            refused.append(exc.message)
    if refused:
        model_admin.message_user(request, " ".join(refused), level=messages.WARNING)
    return done


PROFILE_FIELDS = ["niche", "talking_head_enabled", "appearance", "identity", "personality", "style", "settings"]
RECENT_MEDIA = 4


class PhotoWidget(AdminFileWidget):
    """The current photo shown once, as a picture, above the inputs that replace or clear it."""

    def render(self, name, value, attrs=None, renderer=None):
        inputs = super().render(name, value, attrs, renderer)
        if not value or not getattr(value, "url", None):
            return inputs
        return format_html(
            '<img src="{}" alt="The current photo" class="person-photo" '
            'style="max-height:200px;border-radius:6px;display:block;margin-bottom:6px">{}',
            value.url,
            inputs,
        )


class PersonAdminForm(forms.ModelForm):
    """Photos uploaded by staff pass the same checks as the API's: format, size, bombs, metadata. The
    influgen profile objects are edited as indented JSON, checked as the API checks them."""

    appearance = ReadableJSONField(max_bytes=PROFILE_OBJECT_MAX_BYTES)
    identity = ReadableJSONField(max_bytes=PROFILE_OBJECT_MAX_BYTES)
    personality = ReadableJSONField(max_bytes=PROFILE_OBJECT_MAX_BYTES)
    style = ReadableJSONField(max_bytes=PROFILE_OBJECT_MAX_BYTES)
    settings = ReadableJSONField(max_bytes=PROFILE_OBJECT_MAX_BYTES)
    voice_settings = ReadableJSONField(
        help_text="stability, similarity_boost, style (0 to 1), speed (0.5 to 2), pitch (-12 to 12 semitones), "
        "use_speaker_boost (true or false)."
    )

    class Meta:
        model = Person
        fields = ["workspace", "owner", "name", "description", "photo", "company", "voice", "is_demo", "is_default",
                  *PROFILE_FIELDS, "voice_settings"]  # fmt: skip
        widgets = {"photo": PhotoWidget}

    def clean_voice_settings(self):
        settings = self.cleaned_data["voice_settings"]
        errors = voice_settings_errors(settings)
        if errors:
            raise forms.ValidationError([f"{name}: {messages[0]}" for name, messages in errors.items()])
        return settings

    def clean(self):
        """Only the workspace's demo person may carry the demo flag (one per workspace)."""
        data = super().clean()
        workspace = data.get("workspace")
        if data.get("is_demo") and workspace is not None:
            other = Person.objects.filter(workspace=workspace, is_demo=True).exclude(pk=self.instance.pk).first()
            if other is not None:
                self.add_error(
                    "is_demo", f"Only the workspace's demo person can be marked demo: it is #{other.pk} {other.name}."
                )
        return data

    def clean_photo(self):
        """The photo must show one face, whose analysis is kept with it."""
        upload = self.cleaned_data.get("photo")
        if not upload or not hasattr(upload, "content_type"):
            return upload  # unchanged
        try:
            photo = photo_from_bytes(upload.read(), field="photo")
            self.instance.face = portrait_face(photo)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return SimpleUploadedFile(f"{secrets.token_urlsafe(18)}.{photo.extension}", photo.content)


class VoiceInline(admin.TabularInline):
    model = Voice
    fk_name = "person"
    fields = ["name", "provider", "provider_voice_id", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0


def _thumbnail(field_file) -> str:
    if not field_file:
        return "—"
    return format_html('<img src="{}" alt="" style="height:48px;border-radius:4px">', field_file.url)


class ReferenceImageInline(ReadOnlyInline, admin.TabularInline):
    """Reference images arrive through the API, which checks their face; staff look and delete."""

    model = ReferenceImage
    fields = ["preview", "type", "source_url", "width", "height", "created_at"]
    can_delete = True

    @admin.display(description="Image")
    def preview(self, reference: ReferenceImage):
        return _thumbnail(reference.image)


class LoraInline(ReadOnlyInline, admin.StackedInline):
    """Trained through the API, which takes the credits."""

    model = LoraModel
    fields = [
        "status",
        "base_model",
        "training_steps",
        "lora_rank",
        "trigger_word",
        "job",
        "weights_url",
        "credits_charged",
        "error",
        "started_at",
        "finished_at",
    ]


class ProfileVideoInline(ReadOnlyInline, admin.TabularInline):
    """Videos added to the profile (BHuman `admin/video`, which probes them), with what probing measured."""

    model = ProfileVideo
    fields = ["title", "player", "container", "video_codec", "audio_codec", "duration", "width", "height", "created_at"]
    can_delete = True

    @admin.display(description="Video")
    def player(self, video: ProfileVideo):
        return media_player(video.file, height=120)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Staff see every workspace's persons; demo persons are edited here, never through the API."""

    form = PersonAdminForm
    list_display = [
        "id",
        "thumbnail",
        "name",
        "workspace",
        "company",
        "is_demo",
        "is_default",
        "has_face",
        "has_voice",
        "created_at",
    ]
    list_display_links = ["id", "name"]
    list_filter = ["is_demo", "is_default", "created_at"]
    search_fields = ["name", "description", "workspace__name", "owner__email"]
    list_select_related = ["workspace", "company"]
    autocomplete_fields = ["workspace", "owner", "company", "voice"]
    readonly_fields = [
        "character_id",
        "face_summary",
        "voice_player",
        "recent_media",
        "lora_training_images",
        "workspace_credits",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["workspace", "owner", "name", "description", "photo", "face_summary", "company"]}),
        ("Voice", {"fields": ["voice", "voice_player", "voice_settings"]}),
        ("Character profile", {"fields": PROFILE_FIELDS}),
        ("Demo and default", {"fields": ["is_demo", "is_default"]}),
        ("Media made for this person", {"fields": ["recent_media"]}),
        ("Record", {"fields": ["character_id", "lora_training_images", "workspace_credits", "created_at",
                               "updated_at"]}),
    ]  # fmt: skip
    inlines = [VoiceInline, ReferenceImageInline, LoraInline, ProfileVideoInline]
    actions = ["ensure_demo_persons"]

    def get_readonly_fields(self, request, obj=None):
        """The demo flag is the Support group's and superusers' to set, and only on the workspace's demo person
        (or where the workspace has none): anyone else sees it read-only."""
        fields = list(super().get_readonly_fields(request, obj))
        demo_elsewhere = (
            obj is not None
            and not obj.is_demo
            and Person.objects.filter(workspace_id=obj.workspace_id, is_demo=True).exists()
        )
        if not may_set_demo_flag(request.user) or demo_elsewhere:
            fields.append("is_demo")
        return fields

    @admin.display(description="Voice sample")
    def voice_player(self, person: Person):
        if person.voice is None:
            return "— (no voice: the platform's built-in voice speaks)"
        if not person.voice.training_audio:
            url = reverse("admin:characters_voice_change", args=[person.voice_id])
            return format_html('— (no recording yet: make one on <a href="{}">the voice\'s page</a>)', url)
        return media_player(person.voice.training_audio)

    @admin.display(description="Latest media")
    def recent_media(self, person: Person):
        """The last few files generated for this person, playable here (one query, bounded)."""
        if not person.pk:
            return "—"
        jobs = (
            MediaJob.objects.filter(person=person, status=MediaJob.Status.READY)
            .exclude(result_file="")
            .order_by("-finished_at", "-id")[:RECENT_MEDIA]
        )
        rows = [
            format_html(
                '<div class="recent-media"><a href="{}">{} #{}</a><br>{}</div>',
                reverse("admin:media_jobs_mediajob_change", args=[job.pk]),
                job.get_kind_display(),
                job.pk,
                media_player(job.result_file, height=160),
            )
            for job in jobs
        ]
        if not rows:
            return "— (nothing generated yet)"
        return format_html(
            '<div style="display:flex;gap:16px;flex-wrap:wrap">{}</div>',
            format_html_join("", "{}", ((row,) for row in rows)),
        )

    @admin.display(description="Photo")
    def thumbnail(self, person: Person):
        return _thumbnail(person.photo)

    @admin.display(description="LoRA training images")
    def lora_training_images(self, person: Person) -> int:
        return person.lora_training_images.count() if person.pk else 0

    @admin.display(description="Workspace credits")
    def workspace_credits(self, person: Person):
        """The balance, and the ledger it comes from (on the workspace's page)."""
        if not person.workspace_id:
            return "—"
        url = reverse("admin:accounts_workspace_change", args=[person.workspace_id])
        return format_html(
            '{} credits — <a href="{}#credit_entries-group">ledger</a>', person.workspace.credit_balance, url
        )

    @admin.display(boolean=True, description="Face")
    def has_face(self, person: Person) -> bool:
        return bool(person.face)

    @admin.display(description="Face analysis")
    def face_summary(self, person: Person) -> str:
        if not person.face:
            return "— (analysed when the photo is next used)"
        left, top, right, bottom = person.face["box"]
        return f"{right - left}x{bottom - top} px face at ({left}, {top}); score {person.face['score']}"

    @admin.display(boolean=True)
    def has_voice(self, person: Person) -> bool:
        return person.voice_id is not None

    @admin.action(description="Recreate missing demo persons for the selected persons' workspaces",
                  permissions=["change"])  # fmt: skip
    def ensure_demo_persons(self, request, queryset):
        workspaces = {person.workspace for person in queryset.select_related("workspace")}
        for workspace in workspaces:
            demo_person_ensure(workspace=workspace)
        self.message_user(request, f"Checked {len(workspaces)} workspace(s).")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


class VoiceCloneForm(forms.ModelForm):
    """Adding a voice in the admin clones it from recordings, through the same service as the API."""

    samples = MultipleFileField(help_text="1 to 10 recordings of the speaker, 1 s to 5 min each (WAV, MP3, ...).")

    class Meta:
        model = Voice
        fields = ["workspace", "person", "name"]

    def clean_samples(self):
        samples = [upload.read() for upload in self.cleaned_data["samples"]]
        try:
            voice_samples_check(samples)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return samples


@admin.register(Voice)
class VoiceAdmin(ServiceAddAdmin):
    list_display = ["id", "name", "provider", "provider_voice_id", "person", "workspace", "created_at"]
    list_filter = ["provider"]
    search_fields = ["name", "provider_voice_id", "person__name", "workspace__name"]
    list_select_related = ["person", "workspace"]
    autocomplete_fields = ["workspace", "person"]
    readonly_fields = ["sample_player", "measurements"]
    fields = ["workspace", "person", "name", "provider", "provider_voice_id", "sample_player", "settings",
              "measurements"]  # fmt: skip
    add_form, add_fields = VoiceCloneForm, ["workspace", "person", "name", "samples"]
    actions = ["make_sample_recordings"]

    @admin.display(description="Sample recording")
    def sample_player(self, voice: Voice):
        if not voice.training_audio:
            return "— (none yet: use the action “Make a sample recording” on the voices list)"
        return media_player(voice.training_audio)

    @admin.action(description="Make a sample recording of the selected voices", permissions=["change"])
    def make_sample_recordings(self, request, queryset):
        """The voice reads a fixed text once (BHuman's training URL serves the same file), so staff can listen."""
        done = each_through_service(self, request, queryset[:20], lambda voice: voice_training_audio(voice=voice))
        self.message_user(request, f"{done} voice(s) have a sample recording.")

    def create(self, request, obj, form):
        voice, job = voice_clone_start(
            workspace=obj.workspace, name=obj.name, samples=form.cleaned_data["samples"], person=obj.person
        )
        obj.pk = voice.pk
        self.message_user(request, f"Cloning started (job #{job.pk}); the voice is ready when the job is.")


@admin.register(SpeakingProfile)
class SpeakingProfileAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "workspace", "person", "voice", "speed", "pitch", "created_at"]
    search_fields = ["name", "workspace__name", "person__name"]
    list_select_related = ["workspace", "person", "voice"]
    autocomplete_fields = ["workspace", "person", "voice"]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """Consents with their evidence: staff watch or hear the recording beside what verification measured,
    and revoke a consent (deleting what it allowed). Consents are asked for through the API only."""

    list_display = ["id", "person", "kind", "status", "workspace", "created_at", "verified_at", "revoked_at"]
    list_filter = ["status", "kind"]
    search_fields = ["person__name", "workspace__name", "phrase"]
    list_select_related = ["person", "workspace"]
    fields = ["workspace", "person", "kind", "status", "phrase", "phrase_expires_at", "evidence_player", "reasons",
              "measurements_shown", "job", "requested_by", "created_at", "verified_at", "revoked_at", "revoked_by"]  # fmt: skip
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Evidence")
    def evidence_player(self, consent: Consent):
        return media_player(consent.evidence, height=320)

    @admin.display(description="Measurements")
    def measurements_shown(self, consent: Consent) -> str:
        shown = {key: value for key, value in consent.measurements.items() if key != "speaker_embedding"}
        return format_html_join("", "<div><b>{}</b>: {}</div>", sorted(shown.items())) or "—"

    @admin.action(description="Revoke the selected consents (deletes what they allowed)", permissions=["change"])
    def revoke(self, request, queryset):
        pending = queryset.exclude(status=Consent.Status.REVOKED)[:50]
        done = each_through_service(
            self, request, pending, lambda consent: consent_revoke(consent=consent, user=request.user)
        )
        self.message_user(request, f"{done} consent(s) revoked.")
