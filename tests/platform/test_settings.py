"""Settings parse strictly: a typo stops start-up instead of silently meaning something else."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def check_with(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import persona_platform.settings"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "ture", "is not a boolean"),
        ("CONN_MAX_AGE", "sixty", "is not an integer"),
        ("API_RATE_LIMIT", "10/fortnight", "must look like 600/minute"),
    ],
)
def test_a_malformed_value_stops_start_up(name, value, message):
    result = check_with(**{name: value})

    assert result.returncode != 0
    assert message in result.stderr


def test_valid_values_load():
    assert check_with(DEBUG="false", API_RATE_LIMIT="5/second", CONN_MAX_AGE="0").returncode == 0


@pytest.mark.parametrize("name", ["SECRET_KEY", "CELERY_BROKER_URL", "API_KEY_HASH_SECRET"])
def test_a_secret_or_broker_set_but_empty_stops_start_up_with_one_line(name):
    result = check_with(**{name: ""})

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {name} is set but empty: give it a value or remove the line."
    )


SETTINGS_DUMP = """
import json, sys
import environ
if sys.argv[1]:
    environ.Env.read_env(sys.argv[1])  # what settings.py does with a .env in the checkout
import persona_platform.settings as module
print(json.dumps({name: repr(getattr(module, name)) for name in dir(module) if name.isupper()}))
"""


def settings_loaded(env_file: str, cwd: Path) -> dict:
    """Every setting, loaded with none of the variables the example names set by the caller."""
    named = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    env = {k: v for k, v in os.environ.items() if k not in named}
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_DUMP, env_file],
        cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_env_example_copied_as_is_changes_no_setting(tmp_path):
    env_file = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env_file)

    with_example = settings_loaded(str(env_file), tmp_path)
    without = settings_loaded("", tmp_path)

    assert {k: v for k, v in with_example.items() if v != without.get(k)} == {}
    assert len(with_example) > 100
