"""Load test of the persons list and create endpoints against PostgreSQL, gunicorn and Redis.

Run from the repository root:

    .venv/bin/python bench/persons_load.py

It recreates a dedicated database, migrates it, seeds a workspace of 50 persons, starts gunicorn
with `bench.settings` (the real URL conf plus the floor views of `bench/floor_views.py`), then drives
each endpoint and its floor in alternating rounds from N keep-alive client threads. It prints a
Markdown table of medians over the rounds and writes the raw numbers as JSON to bench/results/.
The server is stopped and the database dropped however the run ends.
"""

import argparse
import base64
import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import common  # noqa: E402  bench/common.py: a script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

PG_SERVER_URL = os.environ.get("BENCH_PG_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB_NAME", "persona_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SEED_PERSONS = 49  # plus the workspace's demo person: the list answers 50 items
TARGET_RATIO = 1.5


# Setup: database, seed data, server


def server_env(media_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": f"{PG_SERVER_URL}/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "API_RATE_LIMIT": "1000000/minute",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(media_dir.parent),
            "MEDIA_ROOT": str(media_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def admin_execute(*statements: str) -> list:
    return common.admin_execute(PG_SERVER_URL, *statements)


def database_recreate() -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')


def database_drop() -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def sample_jpeg(size: int = 256) -> bytes:
    """A deterministic portrait (a person's photo must show one face): the face of scikit-image's
    astronaut, a public-domain NASA photo."""
    from PIL import Image
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.astronaut()[0:256, 92:348]).resize((size, size)).save(out, format="JPEG", quality=85)
    return out.getvalue()


@dataclass
class Fixture:
    list_key: str
    list_workspace_id: int
    create_key: str
    create_workspace_id: int
    create_owner_id: int
    photo_base64: str


def seed(photo: bytes) -> Fixture:
    """Two agency workspaces: one of 50 persons to list, one that the create rounds fill."""
    import django

    django.setup()
    from django.db import connections

    from accounts.services import account_bootstrap
    from characters.models import Person, Voice
    from characters.services.persons import person_create
    from characters.services.photos import photo_from_bytes

    list_key, list_raw = account_bootstrap(email="bench-list@example.com", plan="agency", key_name="bench")
    workspace, owner = list_key.workspace, list_key.user
    clean = photo_from_bytes(photo)
    for number in range(1, SEED_PERSONS + 1):
        person = person_create(
            workspace=workspace,
            owner=owner,
            name=f"Bench Person {number}",
            description=f"Seeded person number {number} for the load benchmark.",
            photo=clean,
        )
        if number % 2 == 0:  # half of them speak with a voice, so the join returns rows both ways
            voice = Voice.objects.create(
                workspace=workspace, person=person, name=f"Voice {number}", provider_voice_id=f"bench-{number}"
            )
            Person.objects.filter(pk=person.pk).update(voice=voice)
    create_key, create_raw = account_bootstrap(email="bench-create@example.com", plan="agency", key_name="bench")
    fixture = Fixture(
        list_key=list_raw,
        list_workspace_id=workspace.pk,
        create_key=create_raw,
        create_workspace_id=create_key.workspace_id,
        create_owner_id=create_key.user_id,
        photo_base64=base64.b64encode(photo).decode(),
    )
    connections.close_all()
    return fixture


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(args, env: dict, log_path: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn),
        "persona_platform.wsgi:application",
        f"--bind=127.0.0.1:{args.port}",
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        "--worker-class=gthread",
        "--keep-alive=30",
        "--graceful-timeout=5",
        "--timeout=60",
    ]
    log = open(log_path, "wb")  # the server writes to it until it stops
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def server_wait(process: subprocess.Popen, port: int, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode} before answering")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {path} within {timeout:.0f} s")


def server_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


# Load generation


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    expect: int
    headers: dict
    body: bytes | None = None


@dataclass
class Segment:
    """One target driven for a fixed time: every latency, the wall time, the failures."""

    latencies: list = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def drive(target: Target, port: int, clients: int, seconds: float) -> Segment:
    """`clients` threads, one keep-alive connection each, requesting back to back for `seconds`."""
    segment = Segment()
    lock = threading.Lock()
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(clients)]
    for conn in connections:
        conn.connect()
    ready = threading.Barrier(clients + 1)
    deadline_box: list[float] = []
    ends: list[float] = []

    def client(conn: http.client.HTTPConnection) -> None:
        latencies, errors, first_error = [], 0, ""
        ready.wait()
        deadline = deadline_box[0]
        now = time.perf_counter()
        while now < deadline:
            try:
                conn.request(target.method, target.path, body=target.body, headers=target.headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # http.client reconnects on the next request
                status, payload = None, repr(exc).encode()
            end = time.perf_counter()
            if status == target.expect:
                latencies.append(end - now)
            else:
                errors += 1
                first_error = first_error or f"{status}: {payload[:300].decode(errors='replace')}"
            now = end
        with lock:
            segment.latencies.extend(latencies)
            segment.errors += errors
            segment.first_error = segment.first_error or first_error
            ends.append(now)

    threads = [threading.Thread(target=client, args=(conn,), daemon=True) for conn in connections]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline_box.append(start + seconds)
    ready.wait()
    for thread in threads:
        thread.join()
    segment.elapsed = max(ends) - start
    for conn in connections:
        conn.close()
    return segment


def fetch_json(port: int, path: str, headers: dict) -> object:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
    return json.loads(body)


def check_floor_parity(port: int, floor: Target, real: Target) -> int:
    """The floor must answer exactly what the endpoint answers, or the comparison means nothing."""
    floor_items = fetch_json(port, floor.path, floor.headers)
    real_items = fetch_json(port, real.path, real.headers)
    if floor_items != real_items:
        raise RuntimeError("The floor list and GET /api/v1/persons answer different bodies.")
    return len(real_items)


def run_pair(floor: Target, real: Target, port: int, args) -> dict[str, list[Segment]]:
    """Warm both up, then alternate them (floor first in even rounds, endpoint first in odd ones)."""
    for target in (floor, real):
        drive(target, port, args.clients, args.warmup)
    rounds: dict[str, list[Segment]] = {floor.name: [], real.name: []}
    for number in range(args.rounds):
        order = (floor, real) if number % 2 == 0 else (real, floor)
        for target in order:
            segment = drive(target, port, args.clients, args.seconds)
            if segment.errors:
                raise RuntimeError(f"{target.name}: {segment.errors} failed requests, first: {segment.first_error}")
            rounds[target.name].append(segment)
            print(
                f"  round {number + 1}/{args.rounds} {target.name:<22} {segment.rps:8.1f} req/s  "
                f"p50 {segment.percentile(0.5) * 1000:6.2f} ms  p99 {segment.percentile(0.99) * 1000:6.2f} ms",
                file=sys.stderr,
            )
    return rounds


# Report


def summarize(segments: list[Segment]) -> dict:
    return {
        "rps": statistics.median(s.rps for s in segments),
        "p50_ms": statistics.median(s.percentile(0.5) for s in segments) * 1000,
        "p99_ms": statistics.median(s.percentile(0.99) for s in segments) * 1000,
        "requests": sum(len(s.latencies) for s in segments),
        "rounds": [
            {
                "rps": s.rps,
                "p50_ms": s.percentile(0.5) * 1000,
                "p99_ms": s.percentile(0.99) * 1000,
                "requests": len(s.latencies),
                "seconds": s.elapsed,
            }
            for s in segments
        ],
    }


def ratios(floor: dict, real: dict) -> dict:
    return {
        "cost_ratio": floor["rps"] / real["rps"],
        "p50_ratio": real["p50_ms"] / floor["p50_ms"],
        "cost_ratio_per_round": [f["rps"] / r["rps"] for f, r in zip(floor["rounds"], real["rounds"], strict=True)],
    }


def machine() -> dict:
    cpu = common.cpu_model()
    import django
    import gunicorn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": admin_execute("SHOW server_version")[0][0],
    }


def markdown(results: dict, config: dict) -> str:
    lines = [
        f"Server: gunicorn gthread, {config['workers']} worker(s) x {config['threads']} threads; "
        f"{config['clients']} keep-alive clients; {config['rounds']} rounds of {config['seconds']:g} s per "
        f"target (after {config['warmup']:g} s warm-up); medians over rounds. 1-minute load average "
        f"{results['load_average_before']:.2f} before, {results['load_average_after']:.2f} after.",
        "",
        "| Target | req/s | p50 (ms) | p99 (ms) | requests |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in results["targets"].items():
        lines.append(f"| {name} | {row['rps']:.1f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['requests']} |")
    lines += [
        "",
        "| Comparison | cost per request (floor req/s / endpoint req/s) | p50 ratio | target | met |",
        "|---|---:|---:|---:|---|",
    ]
    for name, row in results["ratios"].items():
        target = row.get("target")
        met = "" if target is None else ("yes" if row["cost_ratio"] <= target else "no")
        target_text = "" if target is None else f"<= {target:g}x"
        lines.append(f"| {name} | {row['cost_ratio']:.2f}x | {row['p50_ratio']:.2f}x | {target_text} | {met} |")
    return "\n".join(lines)


# Main


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per comparison (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per target per round (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--skip-create", action="store_true", help="measure the list comparison only")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.port = args.port or free_port()
    sys.path.insert(0, str(ROOT))  # run as a script, the path starts at bench/
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the cleanup below still runs
    work_dir = Path(tempfile.mkdtemp(prefix="persona-bench-"))
    env = server_env(work_dir / "media")
    os.environ.update(env)
    log_path = work_dir / "gunicorn.log"
    server = None
    started = time.monotonic()
    try:
        print(f"Recreating database {DB_NAME} and migrating…", file=sys.stderr)
        database_recreate()
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        fixture = seed(sample_jpeg())
        print(f"Starting gunicorn on port {args.port}…", file=sys.stderr)
        server = server_start(args, env, log_path)

        list_headers = {"Authorization": f"Bearer {fixture.list_key}", "Accept": "application/json"}
        create_headers = {
            "Authorization": f"Bearer {fixture.create_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        create_body = json.dumps(
            {"name": "Load Test", "description": "Created by the load benchmark.", "photo_base64": fixture.photo_base64}
        ).encode()
        floor_list = Target(
            "floor list", "GET", f"/bench/floor/workspaces/{fixture.list_workspace_id}/persons", 200, list_headers
        )
        real_list = Target("GET /api/v1/persons", "GET", "/api/v1/persons", 200, list_headers)
        floor_create = Target(
            "floor create",
            "POST",
            f"/bench/floor/workspaces/{fixture.create_workspace_id}/owners/{fixture.create_owner_id}/persons",
            201,
            create_headers,
            create_body,
        )
        real_create = Target("POST /api/v1/persons", "POST", "/api/v1/persons", 201, create_headers, create_body)

        server_wait(server, args.port, floor_list.path)
        items = check_floor_parity(args.port, floor_list, real_list)
        print(f"Listing {items} persons; floor and endpoint bodies are identical.", file=sys.stderr)

        pairs = [("list", floor_list, real_list, TARGET_RATIO)]
        if not args.skip_create:
            pairs.append(("create", floor_create, real_create, None))
        results = {"targets": {}, "ratios": {}, "load_average_before": os.getloadavg()[0]}
        for label, floor, real, target in pairs:
            print(f"Measuring {label}…", file=sys.stderr)
            rounds = run_pair(floor, real, args.port, args)
            results["targets"][floor.name] = summarize(rounds[floor.name])
            results["targets"][real.name] = summarize(rounds[real.name])
            row = ratios(results["targets"][floor.name], results["targets"][real.name])
            results["ratios"][f"{real.name} vs {floor.name}"] = {**row, "target": target}

        results["load_average_after"] = os.getloadavg()[0]
        config = {
            "clients": args.clients,
            "rounds": args.rounds,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "workers": args.workers,
            "threads": args.threads,
            "listed_items": items,
        }
        report = markdown(results, config)
        print(report)
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = RESULTS_DIR / f"persons_load-{stamp}.json"
            payload = {"when": stamp, "machine": machine(), "config": config, **results}
            out.write_text(json.dumps(payload, indent=2) + "\n")
            print(f"Wrote {out.relative_to(ROOT)}", file=sys.stderr)
        print(f"Done in {time.monotonic() - started:.0f} s.", file=sys.stderr)
        return 0
    except Exception:
        if log_path.is_file() and log_path.stat().st_size:
            print("gunicorn log (last lines):", file=sys.stderr)
            print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        if server is not None:
            server_stop(server)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not have been set up yet
            pass
        try:
            database_drop()
        except Exception as exc:  # report it, but let the original outcome stand
            print(f"Could not drop database {DB_NAME}: {exc}", file=sys.stderr)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
