"""The platform's settings, with a URL conf that adds the benchmark's floor views to the real routes."""

from persona_platform.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
