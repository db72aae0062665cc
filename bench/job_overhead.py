"""Job overhead with the no-op engine: real Celery workers on Redis, rows in PostgreSQL.

Run from the repository root:

    .venv/bin/python bench/job_overhead.py

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and Redis on 127.0.0.1:6379. The script:

1. flushes Redis database 13 (the broker here), drops and recreates the database `persona_jobbench`
   and runs `manage.py migrate` on it;
2. starts the workers: by default two worker processes, each
   `.venv/bin/celery -A persona_platform worker --pool prefork --concurrency 1` (`--layout 2x1`);
   `--layout 1x2` starts one worker with `--concurrency 2` instead (what a bare
   `celery -A persona_platform worker` gives on this two-core machine); `--layout 2x1,1x2` runs both;
3. warms them up with a few jobs, then measures, through `media_jobs.services.job_create` from this
   process (kind "noop", params {"seconds": 0}; each create commits, and its on_commit sends the task
   to Redis):
   - burst: `--jobs` (500) jobs created back to back;
   - steady: jobs created at a fixed rate (`--rate`, default half the burst throughput) for
     `--steady-seconds` (10) s, so that they do not queue behind each other;
4. reads the rows: enqueue-to-start latency = started_at - created_at (created_at is stamped by the
   INSERT before commit, so the commit and the Redis publish are inside it), run = finished_at -
   started_at; throughput = jobs / (last finished_at - first created_at);
5. prints a Markdown table, writes JSON to bench/results/ (git-ignored) unless `--no-json`, and
   stops the workers, drops the database and flushes Redis database 13, also on failure or Ctrl-C.

`BENCH_PG_SERVER_URL`, `BENCH_JOB_DB_NAME` and `BENCH_JOB_REDIS_URL` point it elsewhere;
`BENCH_JOB_SETTINGS` names another settings module for this process and the workers (a what-if run
with a changed setting; it must be importable, e.g. through PYTHONPATH). The workers,
this process, PostgreSQL and Redis all share the machine's cores. About a minute per layout.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import common  # noqa: E402  bench/common.py: a script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PG_SERVER_URL = os.environ.get("BENCH_PG_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_JOB_DB_NAME", "persona_jobbench")
REDIS_URL = os.environ.get("BENCH_JOB_REDIS_URL", "redis://127.0.0.1:6379/13")
SETTINGS_MODULE = os.environ.get("BENCH_JOB_SETTINGS", "persona_platform.settings")  # for what-if runs
LAYOUTS = {"2x1": (2, 1), "1x2": (1, 2)}  # worker processes x prefork children each


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="2x1", help="2x1 (two workers, concurrency 1), 1x2, or both: 2x1,1x2")
    parser.add_argument("--jobs", type=int, default=500, help="jobs in the burst")
    parser.add_argument("--rate", type=float, default=0.0, help="steady jobs/s; 0 = half the burst throughput")
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=30, help="jobs run before measuring")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    args.layouts = [name.strip() for name in args.layout.split(",") if name.strip()]
    unknown = [name for name in args.layouts if name not in LAYOUTS]
    if unknown or not args.layouts:
        parser.error(f"--layout: use {', '.join(LAYOUTS)} or both, comma-separated (got {args.layout!r})")
    return args


# Setup: environment, Redis, database, workers


def child_env(work_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": f"{PG_SERVER_URL}/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(work_dir),
            "MEDIA_ROOT": str(work_dir / "media"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def admin_execute(*statements: str) -> list:
    return common.admin_execute(PG_SERVER_URL, *statements)


def redis_flush() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def database_recreate(env: dict) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )


def database_drop() -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def workers_start(layout: str, env: dict, log_dir: Path) -> list[tuple[subprocess.Popen, Path]]:
    processes, concurrency = LAYOUTS[layout]
    celery = Path(sys.executable).parent / "celery"
    started = []
    for number in range(1, processes + 1):
        log_path = log_dir / f"worker-{layout}-{number}.log"
        command = [
            str(celery), "-A", "persona_platform", "worker", "--pool", "prefork", "--concurrency", str(concurrency),
            "--hostname", f"bench{number}-{layout}@%h", "--loglevel", "WARNING",
        ]  # fmt: skip
        log = open(log_path, "wb")  # the worker writes to it until it stops
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append((process, log_path))
    return started


def workers_wait(workers: list[tuple[subprocess.Popen, Path]], timeout: float = 60) -> None:
    from persona_platform.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, _ in workers:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited with status {process.returncode} before it was ready")
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= len(workers):
            return
    raise RuntimeError(f"the workers did not answer a ping within {timeout:.0f} s")


def workers_stop(workers: list[tuple[subprocess.Popen, Path]]) -> None:
    for process, _ in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown: the children finish and exit
    for process, _ in workers:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the worker's own session: it and its children
            process.wait(timeout=5)


def worker_logs(workers: list[tuple[subprocess.Popen, Path]]) -> str:
    out = []
    for _, path in workers:
        if path.is_file() and path.stat().st_size:
            out.append(f"--- {path.name} (last lines)")
            out.extend(path.read_text(errors="replace").splitlines()[-20:])
    return "\n".join(out)


# Measurement


def create_jobs(workspace, count: int, rate: float = 0.0) -> tuple[list[int], float]:
    """Create `count` no-op jobs, back to back or at `rate` per second; (ids, seconds spent creating)."""
    from media_jobs.services import job_create

    ids = []
    start = time.perf_counter()
    for number in range(count):
        if rate:
            delay = start + number / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        ids.append(job_create(workspace=workspace, kind="noop", params={"seconds": 0}).pk)
    return ids, time.perf_counter() - start


def wait_done(ids: list[int], timeout: float = 180) -> None:
    from media_jobs.models import MediaJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = MediaJob.objects.filter(pk__in=ids).exclude(status__in=MediaJob.FINAL_STATUSES).count()
        if not pending:
            failed = MediaJob.objects.filter(pk__in=ids).exclude(status=MediaJob.Status.READY).count()
            if failed:
                raise RuntimeError(f"{failed} of {len(ids)} jobs did not end ready")
            return
        time.sleep(0.2)
    raise RuntimeError(f"{pending} of {len(ids)} jobs were still unfinished after {timeout:.0f} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def measure(ids: list[int], create_seconds: float) -> dict:
    from media_jobs.models import MediaJob

    rows = list(MediaJob.objects.filter(pk__in=ids).values_list("created_at", "started_at", "finished_at"))
    latency = [(started - created).total_seconds() * 1000 for created, started, _ in rows]
    run = [(finished - started).total_seconds() * 1000 for _, started, finished in rows]
    span = (max(row[2] for row in rows) - min(row[0] for row in rows)).total_seconds()
    return {
        "jobs": len(rows),
        "create_per_s": len(rows) / create_seconds,
        "throughput_per_s": len(rows) / span,
        "span_s": span,
        "latency_ms": {
            "p50": statistics.median(latency),
            "p90": percentile(latency, 0.90),
            "p99": percentile(latency, 0.99),
            "max": max(latency),
            "min": min(latency),
        },
        "run_ms": {"p50": statistics.median(run), "p99": percentile(run, 0.99)},
    }


def run_layout(layout: str, workspace, args, env: dict, log_dir: Path) -> dict:
    workers = workers_start(layout, env, log_dir)
    try:
        workers_wait(workers)
        ids, _ = create_jobs(workspace, args.warmup)
        wait_done(ids)
        time.sleep(1.0)
        print(f"[{layout}] burst of {args.jobs}…", file=sys.stderr)
        load_before = os.getloadavg()[0]
        ids, seconds = create_jobs(workspace, args.jobs)
        wait_done(ids)
        burst = measure(ids, seconds)
        rate = args.rate or round(burst["throughput_per_s"] / 2)
        count = max(1, round(rate * args.steady_seconds))
        time.sleep(1.0)
        print(f"[{layout}] steady {rate:g} jobs/s for {args.steady_seconds:g} s…", file=sys.stderr)
        ids, seconds = create_jobs(workspace, count, rate=rate)
        wait_done(ids)
        steady = measure(ids, seconds)
        steady["rate"] = rate
        return {"burst": burst, "steady": steady, "load_before": load_before, "load_after": os.getloadavg()[0]}
    except Exception:
        print(worker_logs(workers), file=sys.stderr)
        raise
    finally:
        workers_stop(workers)


# Report


def machine() -> dict:
    cpu = common.cpu_model()
    import celery
    import django
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        redis_version = client.info("server")["redis_version"]
    finally:
        client.close()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "postgresql": admin_execute("SHOW server_version")[0][0],
        "redis": redis_version,
    }


def markdown(results: dict) -> str:
    lines = [
        "| layout | variant | jobs | offered (jobs/s) | throughput (jobs/s) | latency p50 (ms) | p90 (ms) | "
        "p99 (ms) | max (ms) | in-worker run p50 (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for layout, result in results.items():
        processes, concurrency = LAYOUTS[layout]
        label = f"{processes} worker(s) x concurrency {concurrency}"
        for variant in ("burst", "steady"):
            row = result[variant]
            offered = row["rate"] if variant == "steady" else row["create_per_s"]
            lat = row["latency_ms"]
            lines.append(
                f"| {label} | {variant} | {row['jobs']} | {offered:.1f} | {row['throughput_per_s']:.1f} | "
                f"{lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} | "
                f"{row['run_ms']['p50']:.1f} |"
            )
    lines.append("")
    lines.append(
        "Latency: started_at - created_at per job. Burst throughput: jobs / (last finished - first created); "
        "burst 'offered' is the rate this process created them at. In a steady run the throughput is the "
        "offered rate."
    )
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix="job-overhead-"))
    env = child_env(work_dir)
    os.environ.update({key: env[key] for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
    os.environ.update({key: env[key] for key in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "LOG_LEVEL")})
    os.environ.update({key: env[key] for key in ("VAR_DIR", "MEDIA_ROOT")})
    sys.path.insert(0, str(ROOT))

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)  # clean up on kill as on Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    try:
        redis_flush()
        print(f"Creating and migrating {DB_NAME}…", file=sys.stderr)
        database_recreate(env)
        import django

        django.setup()
        from accounts.services import user_get_or_create, workspace_create

        user, _ = user_get_or_create(email="job-bench@example.com")
        workspace = workspace_create(owner=user)
        results = {}
        for layout in args.layouts:
            results[layout] = run_layout(layout, workspace, args, env, work_dir)
        print(markdown(results))
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = RESULTS_DIR / f"job_overhead-{stamp}.json"
            config = {
                "jobs": args.jobs,
                "rate": args.rate,
                "steady_seconds": args.steady_seconds,
                "warmup": args.warmup,
                "redis": REDIS_URL,
                "database": DB_NAME,
            }
            payload = {"when": stamp, "machine": machine(), "config": config, "results": results}
            out.write_text(json.dumps(payload, indent=2) + "\n")
            print(f"Wrote {out.relative_to(ROOT)}", file=sys.stderr)
        print(f"Done in {time.monotonic() - started:.0f} s.", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not have been set up yet
            pass
        for cleanup in (database_drop, redis_flush):
            try:
                cleanup()
            except Exception as exc:  # report it, but let the original outcome stand
                print(f"Clean-up step {cleanup.__name__} failed: {exc}", file=sys.stderr)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
