"""`manage.py check --deploy`: production must not sign its outputs under the local development CA."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

from media_jobs.provenance import uses_local_ca


@register(Tags.security, deploy=True)
def c2pa_signing_certificate_check(app_configs, **kwargs) -> list[Warning]:
    """Outputs signed under the local CA verify nowhere but here: nobody else trusts that CA."""
    if settings.DEBUG or not uses_local_ca():
        return []
    return [
        Warning(
            "Generated files are signed with the local development C2PA certificate.",
            hint="Set C2PA_SIGNING_CERT and C2PA_SIGNING_KEY (and C2PA_TRUST_ANCHORS) to a certificate chain from "
            "your CA; docs/DEPLOYMENT.md, Provenance.",
            id="media_jobs.W001",
        )
    ]
