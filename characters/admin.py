import secrets

from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import format_html

from characters.models import LoraModel, Person, ProfileVideo, ReferenceImage, SpeakingProfile, Voice
from characters.services.demo import demo_person_ensure
from characters.services.faces import portrait_face
from characters.services.photos import photo_from_bytes
from characters.services.voice_clones import voice_clone_start, voice_samples_check
from persona_platform.admin import ReadOnlyInline, ServiceAddAdmin
from persona_platform.errors import DomainError


class PersonAdminForm(forms.ModelForm):
    """Photos uploaded by staff pass the same checks as the API's: format, size, bombs, metadata."""

    class Meta:
        model = Person
        fields = ["workspace", "owner", "name", "description", "photo", "company", "voice", "is_demo", "is_default"]

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
    fields = ["title", "file", "container", "video_codec", "audio_codec", "duration", "width", "height", "created_at"]
    can_delete = True


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
        "thumbnail",
        "character_id",
        "face_summary",
        "lora_training_images",
        "workspace_credits",
        "created_at",
        "updated_at",
    ]
    inlines = [VoiceInline, ReferenceImageInline, LoraInline, ProfileVideoInline]
    actions = ["ensure_demo_persons"]

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

    @admin.action(description="Recreate missing demo persons for the selected persons' workspaces")
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
    readonly_fields = ["measurements"]
    fields = ["workspace", "person", "name", "provider", "provider_voice_id", "settings", "measurements"]
    add_form, add_fields = VoiceCloneForm, ["workspace", "person", "name", "samples"]

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
