"""`{% jobs_dashboard %}`: the operators' summary on the admin's front page (templates/admin/index.html)."""

from django import template

from media_jobs.dashboard import jobs_dashboard

register = template.Library()


@register.inclusion_tag("admin/media_jobs/dashboard.html", takes_context=True)
def jobs_dashboard_panel(context) -> dict:
    """Shown to staff who may see jobs (superusers, the Support group); nothing is queried for the others."""
    request = context.get("request")
    if request is None or not request.user.has_perm("media_jobs.view_mediajob"):
        return {"dashboard": None}
    return {"dashboard": jobs_dashboard(), "can_see_webhooks": request.user.has_perm("media_jobs.view_webhookdelivery")}
