"""The apps depend on each other one way, and hide no imports inside functions.

persona_platform ← accounts ← media_jobs ← characters ← knowledge: an app imports only the apps to
its left. The wiring (root URLs, settings, the Celery and WSGI/ASGI apps) may name every app. The
only imports inside functions are heavy libraries deferred on purpose, each with a comment saying
so, and Django's `AppConfig.ready()` hook. Read from the source with `ast`, so nothing is imported.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["persona_platform", "accounts", "media_jobs", "characters", "knowledge"]
WIRING = {
    "persona_platform/urls.py",
    "persona_platform/settings.py",
    "persona_platform/celery.py",
    "persona_platform/wsgi.py",
    "persona_platform/asgi.py",
}


def production_modules() -> list[Path]:
    return sorted(
        path
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
        if "migrations" not in path.parts and str(path.relative_to(ROOT)) not in WIRING
    )


def imported_modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.module and not node.level else []
    return [alias.name for alias in node.names]


def imports_of(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, str | None]]:
    """(import node, the name of the function it is in, or None at module level) for every import."""
    found = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, function))
            is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            walk(child, child.name if is_function else function)

    walk(ast.parse(path.read_text()), None)
    return found


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in LAYERS else None


def test_the_layers_are_the_project_apps():
    assert all((ROOT / layer / "__init__.py").exists() for layer in LAYERS)
    assert production_modules()


@pytest.mark.parametrize("path", production_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_an_app_imports_only_the_apps_below_it(path):
    own = LAYERS.index(path.relative_to(ROOT).parts[0])
    upward = [
        f"line {node.lineno}: {module}"
        for node, _ in imports_of(path)
        for module in imported_modules(node)
        if (layer := layer_of(module)) is not None and LAYERS.index(layer) > own
    ]
    assert not upward, f"imports an app above {LAYERS[own]}: {upward}"


def _deferred_on_purpose(path: Path, node: ast.Import | ast.ImportFrom, function: str) -> bool:
    """Django's `AppConfig.ready()` hook (signals, tasks, schema extensions), or a library that is not
    the project's with a comment on the line or the line above saying why."""
    if any(layer_of(module) for module in imported_modules(node)):
        return path.name == "apps.py" and function == "ready"
    lines = path.read_text().splitlines()
    above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
    return "#" in lines[node.lineno - 1] or above.startswith("#")


@pytest.mark.parametrize("path", production_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_inside_functions_are_heavy_libraries_deferred_on_purpose(path):
    hidden = [
        f"line {node.lineno}: {', '.join(imported_modules(node)) or 'relative import'}"
        for node, function in imports_of(path)
        if function is not None and not _deferred_on_purpose(path, node, function)
    ]
    assert not hidden, f"imports inside functions without a reason: {hidden}"


# The job row records whose media it made: a foreign key to `characters.Person`, by name.
NAMED_ABOVE_ON_PURPOSE = {("media_jobs/models.py", "characters")}


def test_media_jobs_names_no_app_above_it_even_in_strings():
    """Job kinds and engines are registered in settings (the wiring), not named by media_jobs."""
    above = [layer for layer in LAYERS if LAYERS.index(layer) > LAYERS.index("media_jobs")]
    offenders = {
        (str(path.relative_to(ROOT)), layer)
        for path in (ROOT / "media_jobs").rglob("*.py")
        if "migrations" not in path.parts
        for layer in above
        if f'"{layer}.' in path.read_text()
    }
    assert offenders == NAMED_ABOVE_ON_PURPOSE


@pytest.mark.parametrize("path", production_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_dialect_routes_share_only_the_dialect_base_not_another_apps_routes(path):
    """`<app>/api/` may use persona_platform.api (the dialects' one base view each) but not `<other app>/api/`."""
    own = path.relative_to(ROOT).parts[0]
    sideways = [
        f"line {node.lineno}: {module}"
        for node, _ in imports_of(path)
        for module in imported_modules(node)
        if module.split(".")[1:2] == ["api"] and layer_of(module) not in (None, own, "persona_platform")
    ]
    assert not sideways, f"imports another app's API package: {sideways}"
