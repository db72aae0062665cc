"""Pages of the accounts app outside the API: the playground's key for signed-in staff."""

from django.http import JsonResponse
from django.views.decorators.http import require_POST

from accounts.services import playground_key_issue


@require_POST
def playground_key(request):
    """A fresh key for a signed-in staff member's own workspace, handed to the playground's tab (CSRF-checked: the
    staff session is the credential here). Anyone else pastes a key."""
    if not (request.user.is_authenticated and request.user.is_staff):
        return JsonResponse({"message": "Log in as staff to get a playground key, or paste an API key."}, status=403)
    workspace, raw = playground_key_issue(user=request.user)
    return JsonResponse({"key": raw, "workspace": workspace.name}, headers={"Cache-Control": "no-store"})
