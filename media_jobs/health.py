"""`GET /healthz`: the database, the broker, the media storage, signs of life from the worker and beat, and what
generated files are signed with.

It lives with the jobs because most of what it reports is the background machinery's.
"""

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from media_jobs.heartbeats import COMPONENTS, liveness, oldest_queued_seconds
from media_jobs.provenance import CONFIGURED_CERTIFICATE, LOCAL_CERTIFICATE, signing_source
from persona_platform.celery import app as celery_app

logger = logging.getLogger(__name__)
STARTED_AT = timezone.now()  # this process's start: a worker not yet heard from is `starting` for a while


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_storage() -> str:
    default_storage.exists("healthz-probe")
    return "ok"


CHECKS = {"database": _check_database, "broker": _check_broker, "storage": _check_storage}


class HealthProvenanceSerializer(serializers.Serializer):
    signing = serializers.ChoiceField(
        choices=[LOCAL_CERTIFICATE, CONFIGURED_CERTIFICATE],
        help_text="What generated files' C2PA manifests are signed with: the certificate C2PA_SIGNING_CERT names, "
        "or the local development certificate made under VAR_DIR when it is unset.",
    )


class HealthLiveProcessSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Where browsers reach it (LIVE_PUBLIC_URL).")
    sessions = serializers.IntegerField()
    max_sessions = serializers.IntegerField()


class HealthLiveSerializer(serializers.Serializer):
    processes = HealthLiveProcessSerializer(many=True)
    sessions = serializers.IntegerField(help_text="Live sessions held by all of them together.")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error"])
    database = serializers.CharField(help_text="`ok` or `error: <kind>`")
    broker = serializers.CharField(help_text="`ok` or `error: <kind>`")
    storage = serializers.CharField(help_text="`ok` or `error: <kind>`")
    worker = serializers.CharField(help_text="`ok`, `starting`, `silent for <N> s` or `never seen`")
    beat = serializers.CharField(help_text="`ok`, `starting`, `silent for <N> s` or `never seen`")
    oldest_queued_seconds = serializers.FloatField(
        allow_null=True, help_text="How long the oldest queued job has waited; null when none waits."
    )
    provenance = HealthProvenanceSerializer()
    live = HealthLiveSerializer(
        help_text="The live-conversation processes heard from in the last few seconds and the sessions they hold."
    )


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="Health",
        tags=["Platform"],
        operation_id="platform_healthz",
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request):
        """200 when the database, the broker and the media storage answer and the worker and beat have been
        heard from lately (a heartbeat every few seconds); 503 naming the part that is not well. Also
        how long the oldest queued job has waited, and whether generated files are signed with a configured
        certificate or the local development one.

        Needs no key: load balancers and orchestrators call it.
        """
        body: dict = {"status": "ok"}
        for name, check in CHECKS.items():
            try:
                body[name] = check()
            except Exception as exc:  # a health check reports every failure instead of raising it
                logger.warning("healthz: %s failed: %s", name, exc)
                body[name] = f"error: {type(exc).__name__}"
                body["status"] = "error"
        try:
            body.update(liveness(started_at=STARTED_AT))
            body["oldest_queued_seconds"] = oldest_queued_seconds()
        except Exception as exc:  # the database is down: already reported above
            logger.warning("healthz: heartbeats unreadable: %s", exc)
            body.update({name: "unknown" for name in COMPONENTS}, oldest_queued_seconds=None)
        if settings.HEALTH_REQUIRES_WORKERS and any(body[name] not in ("ok", "starting") for name in COMPONENTS):
            body["status"] = "error"
        body["provenance"] = {"signing": signing_source()}
        for name, path in settings.HEALTH_REPORTS.items():  # reports of the apps above this one (settings name them)
            try:
                body[name] = import_string(path)()
            except Exception as exc:  # the database is down: already reported above
                logger.warning("healthz: %s unreadable: %s", name, exc)
                body[name] = None
        return Response(body, status=200 if body["status"] == "ok" else 503)
