"""What the apps' admin pages share: inlines that only show rows, and add pages that create through a service."""

from django import forms
from django.contrib import admin


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
