"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in every app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")

app = Celery("persona_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
