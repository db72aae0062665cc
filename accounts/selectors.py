from django.db.models import QuerySet

from accounts.models import ApiKey, Company, Workspace
from persona_platform.errors import NotFound


def api_key_by_hash(*, key_hash: str) -> ApiKey | None:
    """The active key with this hash, its workspace and user joined; None if unknown or revoked."""
    return ApiKey.objects.select_related("workspace", "user").filter(key_hash=key_hash, revoked_at__isnull=True).first()


def company_for_workspace(*, workspace: Workspace, company_id: int) -> Company:
    """A company of this workspace; any other id names nothing the caller can see: a 404 naming the field,
    as for every id in a body (docs/DIALECTS.md)."""
    company = Company.objects.filter(workspace=workspace, pk=company_id).first()
    if company is None:
        raise NotFound(f"company_id: no company with id {company_id}.", details={"company_id": ["Unknown company."]})
    return company


def company_list(*, workspace: Workspace) -> QuerySet[Company]:
    return Company.objects.filter(workspace=workspace)
