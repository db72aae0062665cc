from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.keys import key_generate, key_hash, key_visible_prefix
from accounts.models import ApiKey, CreditEntry, Plan, User, Workspace
from accounts.signals import workspace_created
from persona_platform.errors import InvalidInput, NotEnoughCredits


def user_get_or_create(*, email: str) -> tuple[User, bool]:
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    return User.objects.create_user(email=email), True


@transaction.atomic
def workspace_create(*, owner: User, name: str = "", plan: str = Plan.FREE) -> Workspace:
    """A new tenant. Apps that furnish new workspaces (the demo person) listen for `workspace_created`."""
    if plan not in Plan.values:
        raise InvalidInput(f"plan: must be one of {', '.join(Plan.values)}.")
    workspace = Workspace.objects.create(owner=owner, name=name or f"{owner.email}'s workspace", plan=plan)
    workspace_created.send(sender=Workspace, workspace=workspace)
    return workspace


def workspace_for_owner(*, owner: User, plan: str = Plan.FREE) -> tuple[Workspace, bool]:
    """The user's first workspace, created (with its demo person) when the user has none."""
    workspace = owner.owned_workspaces.order_by("pk").first()
    if workspace is not None:
        return workspace, False
    return workspace_create(owner=owner, plan=plan), True


def api_key_create(*, workspace: Workspace, user: User, name: str = "default") -> tuple[ApiKey, str]:
    """A new key and its raw value; the raw value exists only in this return value."""
    raw = key_generate()
    api_key = ApiKey.objects.create(
        workspace=workspace, user=user, name=name or "default", prefix=key_visible_prefix(raw), key_hash=key_hash(raw)
    )
    return api_key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


PLAYGROUND_KEY_NAME = "Playground"


@transaction.atomic
def playground_key_issue(*, user: User) -> tuple[Workspace, str]:
    """A key for a signed-in staff member to try the playground with, in their own workspace (made if they have
    none). Their previous playground key is revoked: a key the page lost with its tab stops working."""
    workspace, _ = workspace_for_owner(owner=user)
    for earlier in ApiKey.objects.filter(workspace=workspace, user=user, name=PLAYGROUND_KEY_NAME, revoked_at=None):
        api_key_revoke(api_key=earlier)
    _, raw = api_key_create(workspace=workspace, user=user, name=PLAYGROUND_KEY_NAME)
    return workspace, raw


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use. Callers decide how often: authentication does it at most once a minute per key."""
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())


def _ledger_append(workspace: Workspace, amount: int, **details) -> CreditEntry:
    """Lock the workspace row, move its balance by `amount` and append the entry (`details`: its reason,
    reference and author), all in the caller's transaction."""
    held = Workspace.objects.select_for_update().get(pk=workspace.pk).credit_balance
    if held + amount < 0:
        raise NotEnoughCredits(
            f"This needs {-amount} credits and the workspace has {held}.",
            details={"required": -amount, "balance": held},
        )
    Workspace.objects.filter(pk=workspace.pk).update(credit_balance=F("credit_balance") + amount)
    entry = CreditEntry.objects.create(workspace_id=workspace.pk, amount=amount, balance_after=held + amount, **details)
    workspace.credit_balance = entry.balance_after
    return entry


def _positive(amount: int, *, what: str) -> int:
    if amount <= 0:
        raise InvalidInput(f"amount: {what} must be a positive number of credits.")
    return amount


@transaction.atomic
def credits_grant(
    *, workspace: Workspace, amount: int, reason: str, reference: str = "", created_by: User | None = None
) -> CreditEntry:
    return _ledger_append(
        workspace, _positive(amount, what="a grant"), reason=reason, reference=reference, created_by=created_by
    )


@transaction.atomic
def credits_debit(
    *, workspace: Workspace, amount: int, reason: str, reference: str = "", created_by: User | None = None
) -> CreditEntry:
    """Take credits or raise NotEnoughCredits; concurrent debits serialize on the workspace row."""
    return _ledger_append(
        workspace, -_positive(amount, what="a debit"), reason=reason, reference=reference, created_by=created_by
    )


@transaction.atomic
def account_bootstrap(
    *, email: str, plan: str | None = None, credits: int = 0, key_name: str = "default"
) -> tuple[ApiKey, str]:
    """What `createapikey` does: user and workspace when missing, optional plan and credits, a new key."""
    user, _ = user_get_or_create(email=email)
    workspace, created = workspace_for_owner(owner=user, plan=plan or Plan.FREE)
    if plan and not created and workspace.plan != plan:
        if plan not in Plan.values:
            raise InvalidInput(f"plan: must be one of {', '.join(Plan.values)}.")
        workspace.plan = plan
        workspace.save(update_fields=["plan"])
    if credits:
        credits_grant(workspace=workspace, amount=credits, reason="Granted by createapikey")
    return api_key_create(workspace=workspace, user=user, name=key_name)
