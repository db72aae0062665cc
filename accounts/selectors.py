from django.db.models import QuerySet

from accounts.keys import key_hash, key_is_well_formed
from accounts.models import ApiKey, Company, Workspace
from persona_platform.errors import InvalidInput


def api_key_for_raw_key(*, raw_key: str) -> ApiKey | None:
    """The active key matching a raw key, with its workspace; None for a malformed, unknown or revoked key.

    A malformed key (wrong length, prefix or checksum) is refused without touching the database.
    """
    if not key_is_well_formed(raw_key):
        return None
    return (
        ApiKey.objects.select_related("workspace", "user")
        .filter(key_hash=key_hash(raw_key), revoked_at__isnull=True)
        .first()
    )


def company_for_workspace(*, workspace: Workspace, company_id: int) -> Company:
    """A company of this workspace; any other id is an input error naming the field."""
    company = Company.objects.filter(workspace=workspace, pk=company_id).first()
    if company is None:
        raise InvalidInput(
            f"company_id: no company with id {company_id}.", details={"company_id": ["Unknown company."]}
        )
    return company


def company_list(*, workspace: Workspace) -> QuerySet[Company]:
    return Company.objects.filter(workspace=workspace)
