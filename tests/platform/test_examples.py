"""The scripts in examples/ compile and call only routes this server has, with methods it answers.

The live run (every example against a running server) is `examples/run_all.py`; this test keeps the
scripts from drifting from the URL conf without a server. Paths are read from the source with `ast`:
`API = f"{BASE_URL}/..."` gives the prefix, and each `requests.<method>(f"{API}/...")` a route, its
placeholders filled with an id of the right shape.
"""

import ast
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCRIPTS = [
    "persons_person.py",
    "twintone_speech.py",
    "twintone_video.py",
    "influgen_talking_head.py",
    "bhuman_knowledge_chat.py",
]
CHARACTER_ID = "char_01HZX6FQJ5N6E7T2M3A4B5C6D7"  # the seed's example id
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def api_prefix(tree: ast.Module) -> str:
    """The path part of the module's `API = f"{BASE_URL}/..."`."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["API"]:
            base, *rest = node.value.values
            assert isinstance(base, ast.FormattedValue) and ast.unparse(base.value) == "BASE_URL"
            return "".join(part.value for part in rest)
    raise AssertionError("no API = f'{BASE_URL}/...' in the module")


def placeholder(expression: ast.expr) -> str:
    """An id of the shape the route's converter takes: influgen's `char_…`, else a number."""
    return CHARACTER_ID if "character" in ast.unparse(expression) else "1"


def calls(path: Path) -> list[tuple[str, str]]:
    """(METHOD, path) of every `requests.<method>(f"{API}/...")` in the script."""
    tree = ast.parse(path.read_text())
    prefix, found = api_prefix(tree), []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and ast.unparse(node.func.value) == "requests"
            and node.func.attr in HTTP_METHODS
            and isinstance(node.args[0], ast.JoinedStr)
        ):
            continue
        head, *rest = node.args[0].values
        if not (isinstance(head, ast.FormattedValue) and ast.unparse(head.value) == "API"):
            continue
        route = "".join(part.value if isinstance(part, ast.Constant) else placeholder(part.value) for part in rest)
        found.append((node.func.attr.upper(), prefix + route))
    return found


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_example_compiles_and_says_what_it_follows(script):
    source = (EXAMPLES / script).read_text()
    compile(source, script, "exec")
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and "seed" in docstring, f"{script} says which seed section it follows"
    assert len(source.splitlines()) <= 100, f"{script} stays short"


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_example_calls_only_routes_the_server_answers(script):
    routes = calls(EXAMPLES / script)
    assert len(routes) >= 3, f"{script}: the calls were not found: {routes}"
    for method, path in routes:
        try:
            match = resolve(path)
        except Resolver404:
            pytest.fail(f"{script}: {method} {path} resolves to no route")
        view = getattr(match.func, "view_class", None)
        assert view is not None and hasattr(view, method.lower()), f"{script}: {path} does not answer {method}"


def test_the_examples_use_each_vendors_paths():
    routes = {script: {f"{method} {path}" for method, path in calls(EXAMPLES / script)} for script in SCRIPTS}
    assert {"POST /api/v1/persons", "GET /api/v1/persons", "GET /api/v1/persons/1"} <= routes["persons_person.py"]
    assert {"POST /v1/personas", "POST /v1/speech", "GET /v1/speech/1"} <= routes["twintone_speech.py"]
    assert {"POST /v1/replicas", "POST /v1/videos", "GET /v1/videos/1"} <= routes["twintone_video.py"]
    assert {
        "POST /api/v1/characters",
        f"POST /api/v1/characters/{CHARACTER_ID}/reference-images",
        f"POST /api/v1/characters/{CHARACTER_ID}/talking-head/preview",
        "GET /api/v1/talking-head/1",
    } <= routes["influgen_talking_head.py"]
    assert {
        "POST /persona/api/instance",
        "POST /persona/api/kb/store-pages",
        "GET /persona/api/kb/training-data",
        "POST /persona/api/kb/v2/chat",
    } <= routes["bhuman_knowledge_chat.py"]


def test_run_all_runs_every_example_and_the_portrait_is_shipped():
    tree = ast.parse((EXAMPLES / "run_all.py").read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["EXAMPLES"]
    )
    assert listed == SCRIPTS
    assert sorted(path.name for path in EXAMPLES.glob("[!_]*.py") if path.name != "run_all.py") == sorted(SCRIPTS)
    assert (ROOT / "samples" / "portrait.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
