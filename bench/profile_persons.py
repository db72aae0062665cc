"""Where a persons request spends its time, measured inside one process (no HTTP, no concurrency).

Run from the repository root:

    .venv/bin/python bench/profile_persons.py

Same database, Redis, settings and seed data as `bench/persons_load.py`. Requests go straight into
Django's WSGI handler (the object gunicorn calls), one at a time, so the numbers are CPU and
round-trip cost per request. It prints, for list and create, the mean time of the endpoint and its
floor, the time inside each layer of the endpoint (timed by wrapping the functions), the SQL each
request runs, and a cProfile of the endpoint sorted by own time.
"""

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Timers:
    """Wraps functions so that every call adds its wall time to a named total."""

    def __init__(self):
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.enabled = False

    def wrap(self, owner, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        if isinstance(original, property):
            getter = original.fget

            def timed_get(instance):
                return self._timed(label, getter, instance)

            setattr(owner, attribute, property(timed_get))
            return
        descriptor = owner.__dict__.get(attribute) if isinstance(owner, type) else None

        @functools.wraps(original)  # keeps attributes such as csrf_exempt
        def timed(*args, **kwargs):
            return self._timed(label, original, *args, **kwargs)

        if isinstance(descriptor, staticmethod):
            timed = staticmethod(timed)
        setattr(owner, attribute, timed)

    def _timed(self, label, function, *args, **kwargs):
        if not self.enabled:
            return function(*args, **kwargs)
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            self.totals[label] += time.perf_counter() - start
            self.calls[label] += 1

    def reset(self) -> None:
        self.totals.clear()
        self.calls.clear()


def wsgi_caller(handler):
    """A function that sends one request to the WSGI handler and returns (status, body)."""
    from wsgiref.util import setup_testing_defaults

    def call(method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1:8000",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        setup_testing_defaults(environ)
        status: list[str] = []
        chunks = handler(environ, lambda line, _headers, _exc=None: status.append(line))
        payload = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0]), payload

    return call


def mean_ms(call, request: tuple, count: int, expect: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        status, body = call(*request)
        if status != expect:
            raise RuntimeError(f"{request[0]} {request[1]} answered {status}: {body[:300]!r}")
    return (time.perf_counter() - start) / count * 1000


def queries_of(call, request: tuple) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call(*request)
    return [query["sql"][:150] for query in captured.captured_queries]


def install_timers(timers: Timers) -> None:
    """Before the first request, so that the URL conf picks up the wrapped floor views."""
    from django.core.handlers.base import BaseHandler
    from django.db.backends.postgresql.base import DatabaseWrapper
    from django.db.backends.utils import CursorWrapper
    from django.db.models.query import QuerySet
    from django.db.models.sql.compiler import SQLCompiler
    from rest_framework.renderers import JSONRenderer
    from rest_framework.serializers import ListSerializer, Serializer
    from rest_framework.views import APIView

    import accounts.authentication as authentication
    import characters.api.persons.views as person_views
    import persona_platform.api.fields as fields
    from accounts.authentication import ApiKeyAuthentication
    from bench import floor_views
    from persona_platform.api.dialects import DialectView
    from persona_platform.api.gate import RedisGate
    from persona_platform.api.throttling import ApiKeyRateThrottle

    wrap = timers.wrap
    wrap(BaseHandler, "get_response", "whole request (middleware + URL routing + view)")
    wrap(APIView, "dispatch", "  DRF dispatch (the view, auth, throttle, rendering)")
    wrap(APIView, "initialize_request", "    DRF Request wrapping")
    wrap(APIView, "initial", "    DRF initial (auth + permissions + throttle)")
    wrap(ApiKeyAuthentication, "authenticate", "      authentication")
    wrap(authentication, "key_is_well_formed", "        key checksum")
    wrap(authentication, "key_hash", "        key HMAC")
    wrap(RedisGate, "check", "        cache round trip (snapshot + rate count + touch)")
    wrap(authentication, "api_key_from_snapshot", "        key rebuilt from its snapshot")
    wrap(authentication, "api_key_by_hash", "        key lookup (SELECT key/workspace/user, cache miss)")
    wrap(authentication, "api_key_touch", "        last_used_at touch")
    wrap(ApiKeyRateThrottle, "allow_request", "      throttle")
    wrap(DialectView, "query", "    filter query-param serializer")
    wrap(DialectView, "validated", "    request body serializer")
    wrap(person_views, "paginate", "    paginate (page serializer + COUNT + SELECT)")
    wrap(QuerySet, "count", "      COUNT(*) query")
    wrap(person_views, "photo_from_base64", "    photo decode + re-encode")
    wrap(person_views, "person_create", "    person_create (lock + file + INSERT)")
    wrap(ListSerializer, "to_representation", "    list serialization (serializer classes)")
    wrap(fields.AbsoluteFileUrlField, "to_representation", "      photo_url (storage url + absolute uri)")
    wrap(Serializer, "data", "    serializer .data")
    wrap(APIView, "finalize_response", "    finalize_response")
    wrap(JSONRenderer, "render", "  JSON rendering")
    wrap(floor_views, "person_list", "  floor list view")
    wrap(floor_views, "person_create", "  floor create view")
    wrap(floor_views, "_photo_url", "    photo_url (storage url + absolute uri)")
    wrap(QuerySet, "_fetch_all", "any SELECT: compile + round trip + model instances")
    wrap(SQLCompiler, "as_sql", "any SELECT: ORM compiling")
    wrap(CursorWrapper, "execute", "any SQL: execute round trip")
    wrap(DatabaseWrapper, "is_usable", "connection health check (SELECT 1, per request)")


def profile_top(call, request: tuple, count: int, lines: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        call(*request)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per measurement (default 400)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per layer (default 5)")
    parser.add_argument("--profile-lines", type=int, default=30, help="cProfile rows to print (default 30)")
    parser.add_argument("--skip-create", action="store_true", help="profile the list only")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))  # run as a script, the path starts at bench/
    from bench import persons_load as bench

    work_dir = Path(tempfile.mkdtemp(prefix="persona-profile-"))
    env = bench.server_env(work_dir / "media")
    os.environ.update(env)
    try:
        bench.database_recreate()
        import subprocess

        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        fixture = bench.seed(bench.sample_jpeg())
        from django.core.handlers.wsgi import WSGIHandler

        call = wsgi_caller(WSGIHandler())
        timers = Timers()
        install_timers(timers)

        list_headers = {"Authorization": f"Bearer {fixture.list_key}"}
        create_headers = {"Authorization": f"Bearer {fixture.create_key}", "Content-Type": "application/json"}
        create_body = json.dumps(
            {"name": "Profiled", "description": "Created by the profiler.", "photo_base64": fixture.photo_base64}
        ).encode()
        pairs = [
            (
                "list",
                ("GET", f"/bench/floor/workspaces/{fixture.list_workspace_id}/persons", list_headers),
                ("GET", "/api/v1/persons", list_headers),
                200,
            )
        ]
        if not args.skip_create:
            floor_path = f"/bench/floor/workspaces/{fixture.create_workspace_id}/owners/{fixture.create_owner_id}"
            pairs.append(
                (
                    "create",
                    ("POST", f"{floor_path}/persons", create_headers, create_body),
                    ("POST", "/api/v1/persons", create_headers, create_body),
                    201,
                )
            )
        for label, floor, real, expect in pairs:
            mean_ms(call, floor, 50, expect)
            mean_ms(call, real, 50, expect)
            floor_ms, real_ms = [], []
            for _ in range(args.repeats):
                floor_ms.append(mean_ms(call, floor, args.requests, expect))
                real_ms.append(mean_ms(call, real, args.requests, expect))
            floor_best, real_best = min(floor_ms), min(real_ms)
            print(f"## {label}\n")
            print(f"floor    {floor_best:.3f} ms/request (best of {args.repeats} x {args.requests}, no timers)")
            print(f"endpoint {real_best:.3f} ms/request; ratio {real_best / floor_best:.2f}x\n")

            best: list[dict[str, float]] = [{}, {}]
            calls: list[dict[str, int]] = [{}, {}]
            for _ in range(args.repeats):  # alternate, keep each layer's best: the least disturbed figure
                for index, request in enumerate((floor, real)):
                    timers.reset()
                    timers.enabled = True
                    mean_ms(call, request, args.requests, expect)
                    timers.enabled = False
                    for name, total in timers.totals.items():
                        per_request = total / args.requests
                        best[index][name] = min(best[index].get(name, per_request), per_request)
                        calls[index][name] = timers.calls[name]
            for index, request in enumerate((floor, real)):
                print(
                    f"{request[0]} {request[1]}: time per request inside each layer, best of {args.repeats} x "
                    f"{args.requests} (nested rows are included in their parents)"
                )
                for name, per_request in best[index].items():
                    per_call = calls[index][name] / args.requests
                    print(f"  {per_request * 1e6:9.1f} us  ({per_call:g} calls)  {name}")
                print()

            for request in (floor, real):
                sql = queries_of(call, request)
                print(f"SQL of one {request[0]} {request[1]} ({len(sql)} queries):")
                for statement in sql:
                    print(f"  {statement}")
                print()

            print(f"cProfile of {args.requests} x {real[0]} {real[1]}:\n")
            print(profile_top(call, real, args.requests, args.profile_lines))
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        bench.database_drop()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
