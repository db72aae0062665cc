"""The floor: the same database work and JSON as the persons endpoints, with no framework around it.

Plain Django function views: no DRF, no authentication, no throttling, no serializer classes. The
workspace (and, for create, the owner) come from the URL. What a real endpoint costs above these
views is what its framework layers cost.
"""

import base64
import io
import json

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from PIL import Image, ImageOps

from accounts.models import Workspace
from characters.models import Person
from media_jobs.engines.face import analyze_face
from persona_platform.dates import iso_utc
from persona_platform.media import random_name

LIST_LIMIT = 100


def _photo_url(request, person: Person) -> str | None:
    return request.build_absolute_uri(person.photo.url) if person.photo else None


def person_list(request, workspace_id: int):
    """`GET /api/v1/persons`'s query and items: newest first, the voice joined, the first 100."""
    persons = (
        Person.objects.filter(workspace_id=workspace_id)
        .select_related("voice")
        .order_by("-created_at", "-id")[:LIST_LIMIT]
    )
    items = [
        {
            "id": person.id,
            "name": person.name,
            "description": person.description,
            "photo_url": _photo_url(request, person),
            "has_voice": person.voice_id is not None,
            "voice_provider": person.voice.provider if person.voice_id is not None else None,
            "created_at": iso_utc(person.created_at),
        }
        for person in persons
    ]
    return JsonResponse(items, safe=False)


@csrf_exempt
def person_create(request, workspace_id: int, owner_id: int):
    """`POST /api/v1/persons`'s work: decode the photo, re-encode it, analyse its face, lock the
    workspace, store file and row."""
    data = json.loads(request.body)
    with Image.open(io.BytesIO(base64.b64decode(data["photo_base64"]))) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
    face = analyze_face(np.asarray(upright.convert("RGB"))).to_json()
    out = io.BytesIO()
    upright.convert("RGB").save(out, format="JPEG", quality=92, optimize=True)
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace_id).first()
        person = Person(
            workspace_id=workspace_id,
            owner_id=owner_id,
            name=data["name"],
            description=data.get("description") or "",
            face=face,
        )
        person.photo.name = default_storage.save(random_name("persons/photos", "jpg"), ContentFile(out.getvalue()))
        person.save()
    body = {
        "id": person.id,
        "name": person.name,
        "description": person.description,
        "photo_url": _photo_url(request, person),
        "has_voice": False,
        "voice_provider": None,
        "voice_id": None,
        "company_id": None,
        "user_id": person.owner_id,
        "created_at": iso_utc(person.created_at),
        "updated_at": iso_utc(person.updated_at),
    }
    return JsonResponse(body, status=201)
