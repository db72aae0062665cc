"""Routes outside the dialects: the landing page, the playground, project docs, media files, and the 404/500 answers."""

import logging
import mimetypes

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import defaults
from django.views.decorators.http import require_GET

from persona_platform.api.dialects import ApiError, dialect_for_path
from persona_platform.middleware import MESSAGES, api_error_response

logger = logging.getLogger(__name__)


# The four dialects as the landing page names them, each with its section of docs/DIALECTS.md
# (anchors as GitHub renders the headings).
LANDING_DIALECTS = [
    {
        "name": "Persons API (twin.actor)",
        "root": "/api/v1/persons",
        "serves": "persons with a photo and a company",
        "section": "Persons",
        "anchor": "persons-twinactor-apiv1persons",
    },
    {
        "name": "TwinTone",
        "root": "/v1/",
        "serves": "personas, speech, replicas, videos, conversations",
        "section": "TwinTone",
        "anchor": "twintone-v1-personas-and-speech",
    },
    {
        "name": "influgen",
        "root": "/api/v1/characters",
        "serves": "characters, reference images, LoRA, voices, talking heads, motion transfer",
        "section": "influgen",
        "anchor": "influgen-apiv1characters-apiv1voices-characters-reference-images-lora-voices",
    },
    {
        "name": "BHuman",
        "root": "/persona/api/",
        "serves": "instances, voices, profile videos, knowledge base, chat",
        "section": "BHuman",
        "anchor": "bhuman-personaapi-personavoice-voiceapiv2-instances-voices-knowledge-chat",
    },
]
# Project documents served read-only at /docs/NAME.md, so that the landing page's links work on any install.
DOCS_DIR = settings.BASE_DIR / "docs"


@require_GET
def landing(request):
    """What a visitor to `/` needs: where the docs, the admin, the health check and the dialects are."""
    context = {
        "swagger_url": reverse("swagger-ui"),
        "redoc_url": reverse("redoc"),
        "schema_url": reverse("schema"),
        "admin_url": reverse("admin:index"),
        "health_url": reverse("healthz"),
        "docs_base": "/docs/",
        "dialects": LANDING_DIALECTS,
    }
    return render(request, "landing.html", context)


@require_GET
def playground(request):
    """Try the platform in a browser. The page calls the public API from the visitor's tab with the key they paste,
    which stays in that tab: this view renders no workspace data, so a staff session only earns links to the admin."""
    staff = request.user.is_authenticated and request.user.is_staff
    context = {
        "staff_name": request.user.get_username() if staff else "",
        "can_add_key": staff and request.user.has_perm("accounts.add_apikey"),
        "login_url": f"{reverse('admin:login')}?next={reverse('playground')}",
        "api_key_add_url": reverse("admin:accounts_apikey_add"),
        "playground_key_url": reverse("playground-key"),
        "swagger_url": reverse("swagger-ui"),
        "docs_base": "/docs/",
    }
    return render(request, "playground.html", context)


@require_GET
def project_doc(request, name: str):
    """One of the project's Markdown documents, as plain text (the URL pattern admits only bare names)."""
    document = DOCS_DIR / f"{name}.md"
    if not document.is_file():
        raise Http404("No such document.")
    response = HttpResponse(document.read_text(encoding="utf-8"), content_type="text/markdown; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def media_file(request, path: str):
    """Serve a stored file from the default storage (embedded mode; S3 URLs point at the bucket)."""
    if not settings.SERVE_MEDIA or path.endswith("/") or ".." in path.split("/") or not default_storage.exists(path):
        raise Http404("No such file.")
    try:
        handle = default_storage.open(path, "rb")
    except (IsADirectoryError, FileNotFoundError):  # a folder (`/media/jobs`), or gone since exists()
        raise Http404("No such file.") from None
    content_type, _ = mimetypes.guess_type(path)
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def handler404(request, exception=None):
    if dialect_for_path(request.path) is not None:
        return api_error_response(request.path, ApiError("NotFound", MESSAGES[404], 404))
    return defaults.page_not_found(request, exception)


def handler500(request):
    if dialect_for_path(request.path) is not None:
        return api_error_response(request.path, ApiError("InternalServerError", MESSAGES[500], 500))
    return defaults.server_error(request)
