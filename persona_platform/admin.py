"""What the apps' admin pages share: inlines that only show rows, and add pages that create through a service."""

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from persona_platform.api.fields import json_has_nul


class ReadOnlyInline:
    """Mixed into an inline whose rows are made elsewhere (by the API, a service or a job): staff read them
    here, and neither add nor (unless `can_delete` says so) delete any. Every field in `fields` is read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ServiceAddAdmin(admin.ModelAdmin):
    """A model whose rows the admin adds through the app's service, as the API does; changes save as usual.

    The add page may have its own form and fields (`add_form`, `add_fields`), as Django's UserAdmin does.
    """

    add_form: type[forms.ModelForm] | None = None
    add_fields: list[str] | None = None

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None and self.add_fields is not None:
            return self.add_fields
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            self.create(request, obj, form)

    def create(self, request, obj, form) -> None:
        """Create the row through the service, and copy onto `obj` what the next page needs (its pk)."""
        raise NotImplementedError


# The "View site" link: the landing page, which names the API docs, the admin and the dialects.
admin.site.site_url = "/"

AUDIO_EXTENSIONS = {"wav", "mp3", "ogg", "oga", "opus", "m4a", "flac", "aac"}
VIDEO_EXTENSIONS = {"mp4", "webm", "mov", "m4v"}
IMAGE_EXTENSIONS = {"jpg", "jpeg", "png", "webp", "gif"}


def media_player(field_file, *, height: int = 240) -> str:
    """An HTML5 player for a stored file, chosen by its extension: staff listen to or watch what a job
    made instead of downloading it. A file of another type is a link; no file is a dash."""
    if not field_file:
        return "—"
    url = field_file.url
    extension = field_file.name.rsplit(".", 1)[-1].lower()
    if extension in AUDIO_EXTENSIONS:
        return format_html('<audio controls preload="metadata" src="{}"></audio>', url)
    if extension in VIDEO_EXTENSIONS:
        return format_html(
            '<video controls preload="metadata" src="{}" style="max-height:{}px;max-width:100%"></video>', url, height
        )
    if extension in IMAGE_EXTENSIONS:
        return format_html('<img src="{}" alt="" style="max-height:{}px;border-radius:4px">', url, height)
    return format_html('<a href="{}">{}</a>', url, field_file.name.rsplit("/", 1)[-1])


class ReadableJSONField(forms.JSONField):
    """A JSON object edited as indented text (the default widget shows one long line), checked on save:
    an object only, at most `max_bytes` of JSON, no NUL (jsonb cannot store it). Empty means `{}`."""

    def __init__(self, *, max_bytes: int = 10_000, **kwargs):
        self.max_bytes = max_bytes
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 5, "cols": 60, "spellcheck": "false", "class": "json-object"})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value if value is not None else {}, indent=2, ensure_ascii=False)

    def clean(self, value):
        data = super().clean(value)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise forms.ValidationError('Must be a JSON object, such as {"key": "value"}.')
        if len(json.dumps(data)) > self.max_bytes:
            raise forms.ValidationError(f"Must be at most {self.max_bytes // 1000} kB of JSON.")
        if json_has_nul(data):
            raise forms.ValidationError("Null characters are not allowed.")
        return data
