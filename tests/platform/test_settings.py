"""Settings parse strictly: a typo stops start-up instead of silently meaning something else."""

import os
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
