from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import ApiKey, Company, CreditEntry, User, Workspace
from accounts.services import api_key_create, api_key_revoke, credits_debit, credits_grant, workspace_create
from accounts.webhook_secrets import webhook_secret_rotate, workspace_webhook_secret
from persona_platform.admin import ReadOnlyInline, ServiceAddAdmin

# The support team's group (made by migration accounts 0003): demo persons, jobs, retry and cancel; no credits,
# no API keys.
SUPPORT_GROUP = "Support"
REVEAL_PARAMETER = "reveal_secret"


def may_set_demo_flag(user) -> bool:
    """Whether `user` may mark a person as its workspace's demo person: superusers and the Support group."""
    return user.is_active and (user.is_superuser or user.groups.filter(name=SUPPORT_GROUP).exists())


def masked_secret(secret: str) -> str:
    """Enough of a secret to tell two apart (its last 4 characters), not enough to use it."""
    return f"{secret[:6]}{'•' * 12}{secret[-4:]}"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class ApiKeyInline(ReadOnlyInline, admin.TabularInline):
    model = ApiKey
    fields = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    show_change_link = True


class CreditEntryInline(ReadOnlyInline, admin.TabularInline):
    model = CreditEntry
    fields = ["created_at", "amount", "balance_after", "reason", "reference", "created_by"]
    ordering = ["-created_at", "-id"]


@admin.register(Workspace)
class WorkspaceAdmin(ServiceAddAdmin):
    list_display = ["id", "name", "owner", "plan", "consent_policy", "credit_balance", "created_at"]
    list_filter = ["plan", "consent_policy", "ai_disclosure_overlay"]
    search_fields = ["name", "owner__email"]
    readonly_fields = ["credit_balance", "created_at"]
    exclude = ["webhook_secret_generation", "webhook_secret_rotated_at"]  # shown by the secret's own field
    autocomplete_fields = ["owner"]
    # A new workspace takes CONSENT_POLICY_DEFAULT and no disclosure label; staff change them on its page.
    add_fields = ["name", "owner", "plan"]
    inlines = [ApiKeyInline, CreditEntryInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The webhook secret is shown masked (templates/admin/accounts/workspace/change_form.html); staff who
        may change the workspace reveal it (`?reveal_secret=1`) and rotate it."""
        workspace = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if workspace is not None:
            current = workspace_webhook_secret(workspace=workspace)
            may_change = self.has_change_permission(request, workspace)
            revealed = may_change and request.GET.get(REVEAL_PARAMETER) == "1"
            extra_context["webhook_secret"] = {
                "shown": current.secret if revealed else masked_secret(current.secret),
                "revealed": revealed,
                "rotated_at": current.rotated_at,
                "may_change": may_change,
                "reveal_parameter": REVEAL_PARAMETER,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        rotate = self.admin_site.admin_view(self.webhook_secret_rotate_view)
        own = [
            path("<int:workspace_id>/webhook-secret/rotate/", rotate, name="accounts_workspace_webhook_secret_rotate")
        ]
        return own + super().get_urls()

    def webhook_secret_rotate_view(self, request, workspace_id: int):
        """GET asks to confirm (the old secret stops verifying at once); POST rotates and shows the new one."""
        workspace = get_object_or_404(Workspace, pk=workspace_id)
        if not self.has_change_permission(request, workspace):
            raise PermissionDenied
        page = reverse("admin:accounts_workspace_change", args=[workspace.pk])
        if request.method == "POST":
            webhook_secret_rotate(workspace=workspace)
            self.log_change(request, workspace, "Rotated the webhook signing secret.")
            self.message_user(
                request,
                "Rotated: deliveries from now on are signed with the new secret only; give it to the customer.",
                level=messages.SUCCESS,
            )
            return redirect(f"{page}?{REVEAL_PARAMETER}=1")
        context = {
            **self.admin_site.each_context(request),
            "title": "Rotate the webhook signing secret?",
            "opts": self.opts,
            "workspace": workspace,
            "change_url": page,
        }
        return TemplateResponse(request, "admin/accounts/workspace/rotate_webhook_secret.html", context)

    def create(self, request, obj, form):
        # New workspaces go through the service so that they get their demo person.
        created = workspace_create(owner=obj.owner, name=obj.name, plan=obj.plan)
        obj.pk = created.pk
        obj.created_at = created.created_at


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "workspace", "website", "created_at"]
    search_fields = ["name", "workspace__name", "workspace__owner__email"]
    list_select_related = ["workspace"]
    autocomplete_fields = ["workspace"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "website":
            kwargs["assume_scheme"] = "https"  # a bare domain means https, as it will in Django 6
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["workspace", "user", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAddAdmin):
    list_display = ["prefix", "name", "workspace", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__email", "workspace__name"]
    list_select_related = ["workspace", "user"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["workspace", "user"]
    actions = ["revoke"]
    fields = ["prefix", "name", "workspace", "user", "created_at", "last_used_at", "revoked_at"]
    add_form, add_fields = ApiKeyAddForm, ["workspace", "user", "name"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["prefix", "workspace", "user", "created_at", "last_used_at", "revoked_at"]

    def create(self, request, obj, form):
        created, raw = api_key_create(workspace=obj.workspace, user=obj.user, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            created.pk,
            created.prefix,
            created.key_hash,
            created.created_at,
        )
        self.message_user(request, f"New key (shown once, copy it now): {raw}", level=messages.WARNING)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:  # through the service, so cached snapshots of the keys are dropped too
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} key(s).")


class CreditEntryForm(forms.ModelForm):
    class Meta:
        model = CreditEntry
        fields = ["workspace", "amount", "reason", "reference"]

    def clean(self):
        data = super().clean()
        workspace, amount = data.get("workspace"), data.get("amount")
        if amount == 0:
            self.add_error("amount", "An entry must move credits: use a positive or a negative amount.")
        elif workspace is not None and amount is not None and workspace.credit_balance + amount < 0:
            self.add_error(
                "amount", f"The workspace has {workspace.credit_balance} credits; the balance cannot go negative."
            )
        return data


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    """The ledger is append-only: staff add grants or corrections; nothing is edited or deleted."""

    form = CreditEntryForm
    list_display = ["created_at", "workspace", "amount", "balance_after", "reason", "reference", "created_by"]
    list_filter = ["created_at"]
    search_fields = ["workspace__name", "reason", "reference"]
    list_select_related = ["workspace", "created_by"]
    autocomplete_fields = ["workspace"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        service = credits_grant if obj.amount > 0 else credits_debit
        # The form checked the balance; the service checks it again under the row lock.
        entry = service(
            workspace=obj.workspace,
            amount=abs(obj.amount),
            reason=obj.reason,
            reference=obj.reference,
            created_by=request.user,
        )
        obj.pk, obj.balance_after, obj.created_at = entry.pk, entry.balance_after, entry.created_at
