"""Reliability probes against the whole runtime (`manage.py serve`): slow sockets, killed workers, a broker
outage and a storm of bad requests, with the recovery times and the 5xx count.

Run from the repository root:

    .venv/bin/python bench/reliability.py

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and `redis-server` on PATH. The script:

1. starts a private Redis (`redis-server --port <free port> --save "" --appendonly no`), so that it can
   stop and restart the broker without touching a shared one; drops and recreates the PostgreSQL
   database `persona_reliabilitybench`, migrates it and creates an agency API key with `createapikey`;
2. starts `manage.py serve --port <free port>` (front door, gunicorn, a Celery worker, beat) with its
   VAR_DIR and MEDIA_ROOT in a temporary folder, HEARTBEAT_SECONDS=1, HEARTBEAT_STALE_SECONDS=10,
   JOB_SWEEP_SECONDS=5 and API_RATE_LIMIT=1000000/minute, and waits for `/healthz` to answer 200;
3. runs the probes (each waits for a healthy server first):
   A. `/healthz` latency, sequential requests, in alternating rounds without load (the floor) and with 30
      slow sockets that each send a header line every 2 s and never finish (one the front door cuts off
      with 408 is counted and replaced, so 30 stay open);
   B. a video job made through the TwinTone API; the worker pool child running it is SIGKILLed; time from
      the kill to the job `ready`, and that it ended ready once (attempts, one new result file);
   C. the same, SIGKILLing the worker's main process and all its children (the supervisor restarts it);
      also the time until the new worker's heartbeat makes `/healthz` report the worker `ok`;
   D. a broker outage: with both pool children busy on a video and 3 speech jobs waiting in the broker's
      queue, the private Redis is stopped; 5 speech jobs are created through the API (201 expected,
      left queued); Redis is restarted on the same port, empty; time until each group of jobs (created
      during the outage, waiting in the queue, running) is `ready`, and jobs lost or stuck;
   E. a storm of mixed requests (lists, /healthz, bad JSON, huge page numbers, deeply nested JSON,
      unknown ids, no key, a media folder) from several threads; 5xx counted by route;
4. prints a Markdown table and writes JSON to bench/results/reliability-<time>.json (git-ignored)
   unless `--no-json`; stops serve (SIGINT), stops Redis, drops the database and deletes the temporary
   folder, also on failure or Ctrl-C.

Every request the script makes is counted. A 503 from `/healthz` while the worker or the broker is down
on purpose (probes C and D) is the health check doing its job and is reported apart; any other 5xx is a
failure. A job not `ready` within `--recovery-timeout` (120 s) after its fault counts as stuck.

`BENCH_PG_SERVER_URL` and `BENCH_RELIABILITY_DB_NAME` point it at another server or database; `--skip`
leaves probes out (e.g. `--skip A,E`); `--set NAME=VALUE` gives serve another setting (a what-if run,
e.g. `--set JOB_REDISPATCH_SECONDS=30`). Two to five minutes on two cores (probe D waits out the
recovery timeout when a job is stuck).
"""

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import common  # noqa: E402  bench/common.py: a script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PG_SERVER_URL = os.environ.get("BENCH_PG_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_RELIABILITY_DB_NAME", "persona_reliabilitybench")
PROBES = "ABCDE"
RECOVERY_TARGET_S = 60.0
SLOW_P99_TARGET = 2.0  # /healthz p99 with the slow sockets open, against the floor's: they must cost it nothing
HEADER_TIMEOUT_S = 10  # HTTP_HEADER_TIMEOUT_SECONDS, the front door's header deadline (the default)
SERVER_SETTINGS = {
    "HEARTBEAT_SECONDS": "1",  # a heartbeat a second, so a dead or restarted worker shows within seconds
    "HEARTBEAT_STALE_SECONDS": "10",
    "JOB_SWEEP_SECONDS": "5",  # the stale-job sweep every 5 s instead of 30
    "CELERY_CONCURRENCY": "2",  # serve's default: two pool children
    "API_RATE_LIMIT": "1000000/minute",  # the storm must meet the handlers, not 429s
    "HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
    "DEBUG": "false",
    "PYTHONUNBUFFERED": "1",
}
SCRIPT_SENTENCE = "Thank you for waiting while we get everything ready for you today. "


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthz-requests", type=int, default=100, help="/healthz requests per batch (100)")
    parser.add_argument("--rounds", type=int, default=3, help="probe A: floor and slow batches, alternating (3)")
    parser.add_argument(
        "--pace",
        type=float,
        default=0.12,
        help="probe A: pause between /healthz requests (s); a batch must outlast "
        f"the {HEADER_TIMEOUT_S} s header deadline for the 408s to show",
    )
    parser.add_argument("--slow-sockets", type=int, default=30)
    parser.add_argument("--slow-interval", type=float, default=2.0, help="seconds between a slow socket's lines")
    parser.add_argument("--script-chars", type=int, default=1400, help="probes B and C: the video's script length")
    parser.add_argument("--speech-jobs", type=int, default=5, help="probe D: jobs created while Redis is down")
    parser.add_argument("--queued-jobs", type=int, default=3, help="probe D: jobs in the queue when Redis stops")
    parser.add_argument("--outage-seconds", type=float, default=15.0, help="probe D: how long Redis stays down")
    parser.add_argument("--recovery-timeout", type=float, default=120.0, help="a job not ready by then is stuck")
    parser.add_argument("--storm-requests", type=int, default=5000)
    parser.add_argument("--storm-threads", type=int, default=6)
    parser.add_argument("--skip", default="", help="probes to leave out, e.g. A,E")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="an extra environment value for serve"
    )
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    if any("=" not in pair for pair in args.set):
        parser.error("--set takes NAME=VALUE")
    args.skip = {name.strip().upper() for name in args.skip.split(",") if name.strip()}
    if args.skip - set(PROBES):
        parser.error(f"--skip: probes are {', '.join(PROBES)}")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Every child of `pid`, whichever of its threads started it (billiard restarts pool children from a
    thread of the worker's main process, and /proc lists children per thread)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.update(int(child) for child in (task / "children").read_text().split())
    return sorted(found)


def quantiles(samples: list[float]) -> dict:
    """p50, p99 and max of latencies in seconds, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "max_ms": max(samples) * 1000}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """predicate()'s first truthy answer; RuntimeError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# Every request the probes make goes through `Tally.request`, so that none escapes the 5xx count.


@dataclass
class Tally:
    port: int = 0
    key: str = ""
    counts: Counter = field(default_factory=Counter)  # (probe, route, status) -> requests; status 0: no answer
    fault: str = ""  # the deliberate fault in progress (worker, broker), when a /healthz 503 is expected
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, probe: str, route: str, status: int) -> None:
        if status == 503 and route == "GET /healthz" and self.fault:
            route = f"GET /healthz ({self.fault} down)"
        with self.lock:
            self.counts[(probe, route, status)] += 1

    def request(self, probe: str, method: str, path: str, body=None, *, key: bool = True):
        """(status, parsed JSON or raw bytes, seconds) on a connection of its own; counted by path, query left out."""
        headers = {"x-api-key": self.key} if key else {}
        if body is not None and not isinstance(body, bytes):
            body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        asked = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.record(probe, f"{method} {path.split('?')[0]}", 0)
            raise
        finally:
            conn.close()
        seconds = time.perf_counter() - asked
        self.record(probe, f"{method} {path.split('?')[0]}", status)
        try:
            return status, json.loads(raw), seconds
        except ValueError:
            return status, raw, seconds

    def health(self, probe: str) -> tuple[int, dict]:
        try:
            status, body, _ = self.request(probe, "GET", "/healthz", key=False)
        except (OSError, http.client.HTTPException):
            return 0, {}
        return status, body if isinstance(body, dict) else {}

    def summary(self) -> dict:
        """Requests tried, and the 5xx (or no answer) apart from the expected ones: a /healthz 503 during a
        deliberate fault, and the connections refused while serve was still starting."""
        starting = sum(n for (probe, _, status), n in self.counts.items() if probe == "setup" and status == 0)
        expected = sum(n for (_, route, status), n in self.counts.items() if status >= 500 and "down)" in route)
        failures = Counter()
        for (probe, route, status), n in self.counts.items():
            if (status >= 500 or (status == 0 and probe != "setup")) and "down)" not in route:
                failures[f"{probe}: {route} -> {status or 'no answer'}"] += n
        return {
            "requests": sum(self.counts.values()) - starting,
            "refused_while_starting": starting,
            "healthz_503_during_faults": expected,
            "unexpected": dict(failures),
        }


# The platform under test: private Redis, a private database, `manage.py serve`


class Redis:
    """A private redis-server on its own port, without persistence: a restart loses every message."""

    def __init__(self, port: int, log_path: Path):
        self.port, self.log_path, self.process = port, log_path, None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
        with self.log_path.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.answers, 10, "redis-server to answer", interval=0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def version(self) -> str:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        return next((part.split("=", 1)[1] for part in out.split() if part.startswith("v=")), out.strip())


class Database:
    """The bench's own PostgreSQL database, and a connection that reads job rows as the probes go."""

    def __init__(self):
        self.url, self.conn = f"{PG_SERVER_URL}/{DB_NAME}", None

    def recreate(self) -> None:
        common.admin_execute(PG_SERVER_URL, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        common.admin_execute(PG_SERVER_URL, f'CREATE DATABASE "{DB_NAME}"')

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        common.admin_execute(PG_SERVER_URL, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    def rows(self, sql: str, *params) -> list[tuple]:
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.url, autocommit=True)
        return self.conn.execute(sql, params).fetchall()

    def job(self, job_id: int) -> dict:
        columns = ("status", "attempts", "claimed_by", "result_file", "started_at", "finished_at", "dispatched_at",
                   "error")  # fmt: skip
        sql = f"SELECT {', '.join(columns)} FROM media_jobs_mediajob WHERE id = %s"
        found = self.rows(sql, job_id)
        return dict(zip(columns, found[0], strict=True)) if found else {}

    def statuses(self, ids: list[int]) -> dict[int, str]:
        return dict(self.rows("SELECT id, status FROM media_jobs_mediajob WHERE id = ANY(%s)", ids))

    def heartbeat_pid(self, name: str) -> int | None:
        found = self.rows("SELECT detail FROM media_jobs_heartbeat WHERE name = %s", name)
        detail = found[0][0] if found else ""
        pid = detail.rpartition(":")[2]
        return int(pid) if pid.isdigit() else None


class Serve:
    """`manage.py serve` in its own session, and the children it supervises."""

    def __init__(self, env: dict, port: int, log_path: Path):
        self.env, self.port, self.log_path, self.process = env, port, log_path, None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def child(self, name: str) -> int | None:
        """The pid of the child running `name` (gunicorn, frontdoor, worker, beat), None while it is down."""
        for pid in children_of(self.process.pid):
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if name in args or any(arg.endswith(f"/{name}") for arg in args):
                return pid
        return None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # serve stops its children and waits for them (15 s grace)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_lines(self, needle: str) -> list[str]:
        if not self.log_path.is_file():
            return []
        return [line.strip() for line in self.log_path.read_text(errors="replace").splitlines() if needle in line]

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Platform:
    serve: Serve
    redis: Redis
    db: Database
    tally: Tally
    media: Path
    concurrency: str
    replica_id: str = ""

    def wait_healthy(self, probe: str, timeout: float = 120) -> None:
        def healthy():
            status, body = self.tally.health(probe)
            return status == 200 and body.get("worker") == "ok" and body.get("beat") == "ok"

        wait_for(healthy, timeout, "/healthz to answer 200 with the worker and beat ok", interval=0.5)

    def videos(self) -> set[str]:
        return {str(path) for path in (self.media / "jobs").rglob("*.mp4")}


# Probe A: /healthz under slow sockets


class SlowSockets:
    """`count` clients that each send a request line, then one header line every `interval` s, and never
    finish. One that the front door answers or closes is counted and replaced at once."""

    def __init__(self, port: int, count: int, interval: float):
        self.port, self.count, self.interval = port, count, interval
        self.stop_event = threading.Event()
        self.outcomes: Counter = Counter()
        self.cut_after: list[float] = []  # seconds from opening to the 408
        self.opened = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self) -> tuple[socket.socket, float]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(b"POST /api/v1/persons HTTP/1.1\r\nHost: bench\r\n")
        sock.setblocking(False)
        self.opened += 1
        return sock, time.monotonic()

    def run(self) -> None:
        live = dict(self.open_one() for _ in range(self.count))
        line, next_line = 0, time.monotonic() + self.interval
        try:
            while not self.stop_event.is_set():
                readable, _, _ = select.select(list(live), [], [], 0.1)
                gone = []
                for sock in readable:
                    try:
                        answer = sock.recv(4096)
                    except OSError:
                        answer = b""
                    if answer.startswith(b"HTTP/1.1 408"):
                        self.outcomes["408"] += 1
                        self.cut_after.append(time.monotonic() - live[sock])
                    else:
                        self.outcomes[answer[:12].decode(errors="replace") or "closed"] += 1
                    gone.append(sock)
                if time.monotonic() >= next_line:
                    line += 1
                    for sock in live:
                        if sock in gone:
                            continue
                        try:
                            sock.send(b"X-Slow-%d: 1\r\n" % line)
                        except OSError:
                            self.outcomes["send failed"] += 1
                            gone.append(sock)
                    next_line += self.interval
                for sock in gone:
                    del live[sock]
                    sock.close()
                    new, opened_at = self.open_one()
                    live[new] = opened_at
        finally:
            ended = time.monotonic()
            for sock, opened_at in live.items():
                if ended - opened_at > HEADER_TIMEOUT_S + 2:  # past its deadline and still not answered
                    self.outcomes["overdue"] += 1
                sock.close()

    def __enter__(self):
        self.thread.start()
        time.sleep(0.5)  # every socket connected and its first line sent
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=10)


def healthz_batch(platform: Platform, requests: int, pace: float) -> list[float]:
    timings = []
    for _ in range(requests):
        status, _, seconds = platform.tally.request("A", "GET", "/healthz", key=False)
        if status != 200:
            raise RuntimeError(f"/healthz answered {status} during probe A")
        timings.append(seconds)
        time.sleep(pace)
    return timings


def probe_slow_sockets(platform: Platform, args) -> dict:
    floor, slow, rounds = [], [], []
    sockets_seen: Counter = Counter()
    cut_after, opened = [], 0
    healthz_batch(platform, 10, 0.05)  # warm-up
    for number in range(1, args.rounds + 1):
        floor_round = healthz_batch(platform, args.healthz_requests, args.pace)
        with SlowSockets(platform.serve.port, args.slow_sockets, args.slow_interval) as pool:
            slow_round = healthz_batch(platform, args.healthz_requests, args.pace)
        sockets_seen.update(pool.outcomes)
        cut_after += pool.cut_after
        opened += pool.opened
        floor += floor_round
        slow += slow_round
        rounds.append({"floor": quantiles(floor_round), "slow": quantiles(slow_round), "408": pool.outcomes["408"]})
        log(
            f"A round {number}: floor p99 {rounds[-1]['floor']['p99_ms']:.1f} ms, with slow sockets "
            f"{rounds[-1]['slow']['p99_ms']:.1f} ms, {pool.outcomes['408']} cut off with 408"
        )
    result = {"floor": quantiles(floor), "slow": quantiles(slow), "rounds": rounds}
    result["ratio_p50"] = result["slow"]["p50_ms"] / result["floor"]["p50_ms"]
    result["ratio_p99"] = result["slow"]["p99_ms"] / result["floor"]["p99_ms"]
    result["slow_sockets"] = {
        "open_at_once": args.slow_sockets,
        "opened": opened,
        "outcomes": dict(sockets_seen),
        "cut_off_408": sockets_seen["408"],
        "overdue": sockets_seen["overdue"],
        "cut_after_s_median": statistics.median(cut_after) if cut_after else None,
    }
    return result


# Probes B and C: a worker pool child, then the whole worker, SIGKILLed mid-video


def video_start(platform: Platform, probe: str, args) -> int:
    if not platform.replica_id:
        import django

        django.setup()
        from tests.factories import image_bytes

        photo = base64.b64encode(image_bytes(portrait=True)).decode()
        status, body, _ = platform.tally.request(probe, "POST", "/v1/replicas", {"name": "Ada", "photo": photo})
        if status != 201:
            raise RuntimeError(f"POST /v1/replicas answered {status}: {body}")
        platform.replica_id = body["id"]
    script = (SCRIPT_SENTENCE * (args.script_chars // len(SCRIPT_SENTENCE) + 1))[: args.script_chars]
    status, body, _ = platform.tally.request(
        probe, "POST", "/v1/videos", {"replica_id": platform.replica_id, "script": script.strip()}
    )
    if status != 201:
        raise RuntimeError(f"POST /v1/videos answered {status}: {body}")
    return int(body["id"])


def wait_running(platform: Platform, probe: str, job_id: int) -> int:
    """The pid of the process that has claimed the job, once the API also says `processing`."""
    row = wait_for(
        lambda: (row := platform.db.job(job_id))["status"] == "processing" and row["claimed_by"] and row,
        90,
        f"job {job_id} to be claimed",
    )
    status, body, _ = platform.tally.request(probe, "GET", f"/v1/videos/{job_id}")
    if status != 200 or body.get("status") != "processing":
        raise RuntimeError(f"GET /v1/videos/{job_id} answered {status} {body}")
    time.sleep(1.0)  # well into the render
    return int(row["claimed_by"].rpartition(":")[2])


def wait_final(platform: Platform, job_id: int, timeout: float) -> tuple[dict, float | None]:
    """(the row, seconds until it was final) or (the row, None) when it was not within `timeout`."""
    started = time.monotonic()
    try:
        row = wait_for(
            lambda: (row := platform.db.job(job_id))["status"] in ("ready", "failed", "canceled") and row,
            timeout,
            f"job {job_id} to end",
            interval=0.1,
        )
    except RuntimeError:
        return platform.db.job(job_id), None
    return row, time.monotonic() - started


def job_outcome(platform: Platform, probe: str, job_id: int, row: dict, before: set[str], killed_at: float) -> dict:
    status, body, _ = platform.tally.request(probe, "GET", f"/v1/videos/{job_id}")
    new_files = sorted(platform.videos() - before)
    outcome = {
        "job_id": job_id,
        "status": row["status"],
        "api_status": body.get("status") if isinstance(body, dict) else status,
        "attempts": row["attempts"],
        "error": row["error"],
        "new_result_files": len(new_files),
        "result_file_exists": bool(row["result_file"]) and (platform.media / row["result_file"]).is_file(),
    }
    if row["started_at"] is not None and row["finished_at"] is not None:
        outcome["kill_to_reclaim_s"] = row["started_at"].timestamp() - killed_at
        outcome["second_run_s"] = (row["finished_at"] - row["started_at"]).total_seconds()
    outcome["ready_once"] = (
        outcome["status"] == "ready" and outcome["attempts"] == 2 and outcome["new_result_files"] == 1
    ) and outcome["result_file_exists"]
    return outcome


def probe_pool_child_kill(platform: Platform, args) -> dict:
    before = platform.videos()
    job_id = video_start(platform, "B", args)
    pid = wait_running(platform, "B", job_id)
    worker = platform.serve.child("worker")
    if pid == worker or pid not in children_of(worker):
        raise RuntimeError(f"job {job_id} is held by pid {pid}, not a pool child of the worker {worker}")
    log(f"B: killing pool child {pid} (worker {worker}) running video {job_id}")
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    row, seconds = wait_final(platform, job_id, args.recovery_timeout)
    result = {"kill_to_ready_s": seconds, **job_outcome(platform, "B", job_id, row, before, killed_at)}
    result["worker_main_survived"] = platform.serve.child("worker") == worker
    return result


def probe_worker_kill(platform: Platform, args) -> dict:
    before = platform.videos()
    job_id = video_start(platform, "C", args)
    wait_running(platform, "C", job_id)
    worker = platform.serve.child("worker")
    victims = [worker, *children_of(worker)]
    log(f"C: killing the worker {worker} and its children {victims[1:]} mid-video {job_id}")
    platform.tally.fault = "worker"
    killed_at, killed_mono = time.time(), time.monotonic()
    for pid in victims:  # the main process and its pool, as a lost machine would
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    restarted_s = healthy_s = None
    health_503 = 0
    ready_s = None
    deadline = killed_mono + args.recovery_timeout
    while time.monotonic() < deadline and (healthy_s is None or ready_s is None):
        now = time.monotonic() - killed_mono
        new = platform.serve.child("worker")
        if restarted_s is None and new not in (None, worker):
            restarted_s = now
        if healthy_s is None:
            status, body = platform.tally.health("C")
            health_503 += status == 503
            beat_pid = platform.db.heartbeat_pid("worker")
            if status == 200 and body.get("worker") == "ok" and beat_pid not in (None, worker):
                healthy_s = now
        if ready_s is None and platform.db.job(job_id)["status"] in ("ready", "failed", "canceled"):
            ready_s = now
        time.sleep(0.2)
    platform.tally.fault = ""
    row = platform.db.job(job_id)
    result = {"kill_to_ready_s": ready_s, **job_outcome(platform, "C", job_id, row, before, killed_at)}
    result.update(
        kill_to_worker_restarted_s=restarted_s,
        kill_to_worker_healthy_s=healthy_s,
        healthz_503_while_down=health_503,
        killed=victims,
        new_worker=platform.serve.child("worker"),
    )
    return result


# Probe D: the broker stopped while jobs are created


def speech_start(platform: Platform, persona_id: str, text: str, name: str) -> tuple[int | None, int, float]:
    """(job id or None, status, seconds) of one POST /v1/speech."""
    body_in = {"persona_id": persona_id, "text": text, "name": name}
    status, body, seconds = platform.tally.request("D", "POST", "/v1/speech", body_in)
    return (int(body["id"]) if status == 201 else None), status, seconds


def job_group(platform: Platform, asked: int, ids: list[int], ready_s: float | None) -> dict:
    states = platform.db.statuses(ids)
    return {
        "jobs": asked,
        "restart_to_all_ready_s": ready_s,
        "lost": asked - len(ids) + sum(job_id not in states for job_id in ids),  # no 201, or no row
        "stuck": sum(states.get(job_id) in ("queued", "processing") for job_id in ids),
        "failed": sum(states.get(job_id) in ("failed", "canceled") for job_id in ids),
        "states": {str(job_id): states.get(job_id) for job_id in ids},
    }


def probe_broker_outage(platform: Platform, args) -> dict:
    status, body, _ = platform.tally.request("D", "POST", "/v1/personas", {"name": "Narrator"})
    if status != 201:
        raise RuntimeError(f"POST /v1/personas answered {status}: {body}")
    persona_id = body["id"]
    # Jobs already in the broker's queue when it goes: every pool child busy with a video, speech behind them.
    blockers = [video_start(platform, "D", args) for _ in range(int(platform.concurrency))]
    for job_id in blockers:
        wait_running(platform, "D", job_id)
    waiting = []
    for number in range(1, args.queued_jobs + 1):
        text = f"Message number {number}, sent to the broker just before it went away."
        job_id, status, _ = speech_start(platform, persona_id, text, f"queued {number}")
        if job_id is None:
            raise RuntimeError(f"POST /v1/speech answered {status} with the broker up")
        waiting.append(job_id)
    wait_for(
        lambda: all(
            (row := platform.db.job(job_id))["dispatched_at"] and row["status"] == "queued" for job_id in waiting
        ),
        10,
        "the speech jobs to wait in the broker's queue",
    )
    log(f"D: videos {blockers} running, speech {waiting} waiting in the queue; stopping Redis")
    platform.tally.fault = "broker"
    stopped_at = time.monotonic()
    platform.redis.stop()
    created, answers = [], []
    for number in range(1, args.speech_jobs + 1):
        text = f"Message number {number}, written while the broker was away. It waits, and then it is spoken."
        job_id, status, seconds = speech_start(platform, persona_id, text, f"outage {number}")
        answers.append({"status": status, "seconds": round(seconds, 3)})
        if job_id is not None:
            created.append(job_id)
    api_words = [platform.tally.request("D", "GET", f"/v1/speech/{job_id}")[1].get("status") for job_id in created]
    reads = [platform.tally.request("D", "GET", "/api/v1/persons")[0] for _ in range(5)]
    health_status, health = platform.tally.health("D")
    undispatched = sum(platform.db.job(job_id)["dispatched_at"] is None for job_id in created)
    time.sleep(max(0.0, args.outage_seconds - (time.monotonic() - stopped_at)))
    log(f"D: restarting Redis after {time.monotonic() - stopped_at:.1f} s")
    platform.redis.start()
    restarted = time.monotonic()
    groups = {"created_during": created, "queued_before": waiting, "running_before": blockers}
    ready_s: dict[str, float | None] = dict.fromkeys(groups)
    healthy_s = None
    while time.monotonic() - restarted < args.recovery_timeout and (None in ready_s.values() or healthy_s is None):
        for group, ids in groups.items():
            if ready_s[group] is None and set(platform.db.statuses(ids).values()) == {"ready"}:
                ready_s[group] = time.monotonic() - restarted
        if healthy_s is None and platform.tally.health("D")[0] == 200:
            healthy_s = time.monotonic() - restarted
        time.sleep(0.2)
    platform.tally.fault = ""
    asked = {"created_during": args.speech_jobs, "queued_before": len(waiting), "running_before": len(blockers)}
    return {
        "post_statuses": [answer["status"] for answer in answers],
        "post_seconds": [answer["seconds"] for answer in answers],
        "api_status_words": api_words,
        "reads_during_outage": reads,
        "healthz_during_outage": {"status": health_status, "broker": health.get("broker")},
        "undispatched_during_outage": undispatched,
        "outage_s": restarted - stopped_at,
        "restart_to_healthz_200_s": healthy_s,
        **{group: job_group(platform, asked[group], ids, ready_s[group]) for group, ids in groups.items()},
    }


# Probe E: a storm of mixed requests


def storm_routes() -> list[tuple[str, str, str, bytes | None, bool]]:
    """(route, method, path, body, with key)."""
    huge = "99999999999999999999"
    nested = b"[" * 5000 + b"]" * 5000
    return [
        ("GET /api/v1/persons", "GET", "/api/v1/persons", None, True),
        ("GET /healthz", "GET", "/healthz", None, False),
        ("POST /v1/personas (bad JSON)", "POST", "/v1/personas", b'{"name": "Ada", ', True),
        ("GET /api/v1/persons?page=huge", "GET", f"/api/v1/persons?page={huge}", None, True),
        ("GET /v1/replicas?page=huge", "GET", f"/v1/replicas?page={huge}", None, True),
        ("GET /persona/api/kb/training-data?page=-1", "GET", "/persona/api/kb/training-data?page=-1", None, True),
        ("POST /v1/personas (nested 5000 deep)", "POST", "/v1/personas", nested, True),
        ("GET /v1/videos/<unknown id>", "GET", "/v1/videos/999999999", None, True),
        ("GET /v1/replicas/<malformed id>", "GET", "/v1/replicas/not-an-id", None, True),
        ("GET /api/v1/characters/<id too big>", "GET", f"/api/v1/characters/{huge}", None, True),
        ("GET /v1/speech?status=bogus", "GET", "/v1/speech?status=bogus", None, True),
        ("GET /api/v1/persons (no key)", "GET", "/api/v1/persons", None, False),
        ("GET /media/jobs/", "GET", "/media/jobs/", None, False),
    ]


def probe_storm(platform: Platform, args) -> dict:
    routes = storm_routes()
    per_thread = args.storm_requests // args.storm_threads
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    merge = threading.Lock()

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", platform.serve.port, timeout=30)
        mine_lat, mine_status = defaultdict(list), defaultdict(Counter)
        for number in range(per_thread):
            route, method, path, body, with_key = routes[(offset + number) % len(routes)]
            headers = {"x-api-key": platform.tally.key} if with_key else {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            asked = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()  # the next request opens a new connection
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
            mine_lat[route].append(time.perf_counter() - asked)
            mine_status[route][status] += 1
            platform.tally.record("E", route, status)
        conn.close()
        with merge:
            for route, values in mine_lat.items():
                latencies[route] += values
                statuses[route].update(mine_status[route])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.storm_threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    by_route = {
        route: {
            "statuses": {str(code): n for code, n in sorted(statuses[route].items())},
            "5xx": sum(n for code, n in statuses[route].items() if code >= 500),
            "no_answer": statuses[route][0],
            "p50_ms": statistics.median(latencies[route]) * 1000,
        }
        for route, *_ in routes
    }
    tried = sum(sum(counter.values()) for counter in statuses.values())
    return {
        "requests": tried,
        "seconds": elapsed,
        "per_s": tried / elapsed,
        "5xx": sum(row["5xx"] for row in by_route.values()),
        "no_answer": sum(row["no_answer"] for row in by_route.values()),
        "routes": by_route,
    }


# Report


def machine(redis: Redis) -> dict:
    import celery
    import django
    import gunicorn
    import h11
    import kombu
    import psycopg
    import rest_framework

    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "cpu": common.cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "drf": rest_framework.VERSION,
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "gunicorn": gunicorn.__version__,
        "h11": h11.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": common.admin_execute(PG_SERVER_URL, "SHOW server_version")[0][0],
        "redis_server": redis.version(),
    }


def seconds_text(value: float | None) -> str:
    return "not within the timeout" if value is None else f"{value:.1f} s"


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def within(value: float | None) -> bool:
    return value is not None and value <= RECOVERY_TARGET_S


def markdown(results: dict) -> str:
    rows = []
    if a := results.get("A"):
        floor, slow, pool = a["floor"], a["slow"], a["slow_sockets"]
        rows += [
            ("A", "/healthz p50 / p99 / max, no load (floor)",
             f"{floor['p50_ms']:.1f} / {floor['p99_ms']:.1f} / {floor['max_ms']:.1f} ms ({floor['n']} requests)", "", ""),
            ("A", f"/healthz p50 / p99 / max, {pool['open_at_once']} slow sockets open",
             f"{slow['p50_ms']:.1f} / {slow['p99_ms']:.1f} / {slow['max_ms']:.1f} ms ({slow['n']} requests)", "", ""),
            ("A", "ratio slow / floor, p50 and p99", f"{a['ratio_p50']:.2f}x / {a['ratio_p99']:.2f}x",
             f"p99 <= {SLOW_P99_TARGET:g}x", verdict(a["ratio_p99"] <= SLOW_P99_TARGET)),
            ("A", "slow sockets cut off with 408 / still open past the deadline",
             f"{pool['cut_off_408']} / {pool['overdue']} of {pool['opened']} opened "
             f"(408 after {pool['cut_after_s_median'] or 0:.1f} s, median)",
             f"every one, after {HEADER_TIMEOUT_S} s", verdict(pool["overdue"] == 0 and pool["cut_off_408"] > 0)),
        ]  # fmt: skip
    for name, label in (("B", "pool child"), ("C", "whole worker")):
        if probe := results.get(name):
            rows += [
                (name, f"{label} SIGKILLed: kill -> video ready", seconds_text(probe["kill_to_ready_s"]),
                 f"<= {RECOVERY_TARGET_S:g} s", verdict(within(probe["kill_to_ready_s"]))),
                (name, "of which: kill -> claimed again, second run",
                 f"{probe.get('kill_to_reclaim_s', float('nan')):.1f} s, {probe.get('second_run_s', float('nan')):.1f} s",
                 "", ""),
                (name, "job ended: status, attempts, new result files",
                 f"{probe['status']}, {probe['attempts']}, {probe['new_result_files']}", "ready, 2, 1",
                 verdict(probe["ready_once"])),
            ]  # fmt: skip
    if c := results.get("C"):
        rows += [
            ("C", "kill -> supervisor started a new worker", seconds_text(c["kill_to_worker_restarted_s"]), "", ""),
            ("C", "kill -> /healthz worker ok (new worker's heartbeat)", seconds_text(c["kill_to_worker_healthy_s"]),
             f"<= {RECOVERY_TARGET_S:g} s", verdict(within(c["kill_to_worker_healthy_s"]))),
        ]  # fmt: skip
    if d := results.get("D"):
        codes = Counter(d["post_statuses"])
        during, before, running = d["created_during"], d["queued_before"], d["running_before"]
        rows += [
            ("D", f"POST /v1/speech with Redis down ({during['jobs']} jobs)",
             ", ".join(f"{n} x {code}" for code, n in sorted(codes.items())), "all 201",
             verdict(set(codes) == {201})),
            ("D", "meanwhile: API status, /healthz, GET /api/v1/persons",
             f"{', '.join(sorted(set(map(str, d['api_status_words']))))}; {d['healthz_during_outage']['status']} "
             f"(broker {d['healthz_during_outage']['broker']}); {', '.join(map(str, sorted(set(d['reads_during_outage']))))}",
             "processing; 503; 200", ""),
            ("D", "restart -> /healthz 200", seconds_text(d["restart_to_healthz_200_s"]), "", ""),
        ]  # fmt: skip
        for label, group in (
            (f"{during['jobs']} jobs created during the {d['outage_s']:.0f} s outage", during),
            (f"{before['jobs']} jobs waiting in the queue when Redis stopped", before),
            (f"{running['jobs']} jobs running when Redis stopped", running),
        ):
            rows += [
                ("D", f"{label}: restart -> all ready", seconds_text(group["restart_to_all_ready_s"]),
                 f"<= {RECOVERY_TARGET_S:g} s", verdict(within(group["restart_to_all_ready_s"]))),
                ("D", f"{label}: lost / stuck / failed", f"{group['lost']} / {group['stuck']} / {group['failed']}",
                 "0 / 0 / 0", verdict(group["lost"] == group["stuck"] == group["failed"] == 0)),
            ]  # fmt: skip
    if e := results.get("E"):
        bad = [f"{route}: {row['5xx']}" for route, row in e["routes"].items() if row["5xx"] or row["no_answer"]]
        rows += [
            ("E", f"storm: requests from {results['config']['storm_threads']} threads",
             f"{e['requests']} in {e['seconds']:.0f} s ({e['per_s']:.0f}/s)", "", ""),
            ("E", "storm: 5xx / no answer", f"{e['5xx']} / {e['no_answer']}" + (f" ({'; '.join(bad)})" if bad else ""),
             "0 / 0", verdict(e["5xx"] == e["no_answer"] == 0)),
        ]  # fmt: skip
    total = results["requests"]
    unexpected = sum(total["unexpected"].values())
    rows.append(
        ("all", "requests tried / 5xx or no answer (outside /healthz 503s during probes C, D)",
         f"{total['requests']} / {unexpected}" + (f" ({total['unexpected']})" if unexpected else ""), "0",
         verdict(unexpected == 0)),
    )  # fmt: skip
    rows.append(("all", "/healthz 503 while the worker or broker was down on purpose",
                 str(total["healthz_503_during_faults"]), "", ""))  # fmt: skip
    lines = ["| probe | figure | value | target | met |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


# Main


NOTED = {"starting it again": "supervisor_restarts", "reaped stale jobs": "sweep_log"}
PROBE_RUNNERS = {
    "A": ("slow sockets", probe_slow_sockets),
    "B": ("pool child kill", probe_pool_child_kill),
    "C": ("whole worker kill", probe_worker_kill),
    "D": ("broker outage", probe_broker_outage),
    "E": ("request storm", probe_storm),
}


def server_env(work_dir: Path, redis_port: int, db: Database, extra: list[str]) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CELERY_", "AWS_"))}
    env.update(SERVER_SETTINGS)
    env.update(pair.split("=", 1) for pair in extra)
    env.update(
        DJANGO_SETTINGS_MODULE="persona_platform.settings",
        DATABASE_URL=db.url,
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
        VAR_DIR=str(work_dir / "var"),
        MEDIA_ROOT=str(work_dir / "var" / "media"),
    )
    return env


def main() -> int:
    args = parse_args()
    begun = time.monotonic()
    sys.path.insert(0, str(ROOT))
    work_dir = Path(tempfile.mkdtemp(prefix="reliability-"))
    redis = Redis(free_port(), work_dir / "redis.log")
    db = Database()
    env = server_env(work_dir, redis.port, db, args.set)
    os.environ.update({key: env[key] for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
    os.environ.update({key: env[key] for key in ("CELERY_BROKER_URL", "VAR_DIR", "MEDIA_ROOT")})
    serve = Serve(env, free_port(), work_dir / "serve.log")
    tally = Tally(port=serve.port)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)  # clean up on kill as on Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work_dir, ignore_errors=True)
        cleanup.callback(quietly, db.drop)
        cleanup.callback(quietly, redis.stop)
        cleanup.callback(quietly, serve.stop)
        cleanup.callback(signal.signal, signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        log(f"Starting Redis on port {redis.port}; recreating and migrating {DB_NAME}…")
        redis.start()
        db.recreate()
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=600)
        made = subprocess.run(
            [*manage, "createapikey", "--email", "reliability@example.com", "--plan", "agency"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        tally.key = made.stdout.strip().splitlines()[-1]
        log(f"Starting manage.py serve on port {serve.port}…")
        serve.start()
        platform = Platform(serve, redis, db, tally, Path(env["MEDIA_ROOT"]), env["CELERY_CONCURRENCY"])
        results: dict = {
            "config": {key: value for key, value in vars(args).items() if key != "skip"}
            | {
                "skipped": sorted(args.skip),
                "server_env": {**SERVER_SETTINGS, **dict(pair.split("=", 1) for pair in args.set)},
                "database": DB_NAME,
            },
            "load_average_before": os.getloadavg(),
        }
        try:
            platform.wait_healthy("setup")
            results["startup_s"] = time.monotonic() - begun
            for name, (title, run) in PROBE_RUNNERS.items():
                if name in args.skip:
                    continue
                platform.wait_healthy(name)
                log(f"Probe {name}: {title}…")
                probe_started, seen = time.monotonic(), {needle: len(serve.log_lines(needle)) for needle in NOTED}
                results[name] = run(platform, args)
                results[name]["probe_s"] = time.monotonic() - probe_started
                for needle, key in NOTED.items():  # what the supervisor and the sweep said meanwhile
                    results[name][key] = serve.log_lines(needle)[seen[needle] :]
        except BaseException:
            log(f"Failed; serve's log (last lines):\n{serve.log_tail()}")
            raise
        results["load_average_after"] = os.getloadavg()
        results["requests"] = tally.summary()
        results["requests"]["by_probe_route_status"] = [
            [probe, route, status, n] for (probe, route, status), n in sorted(tally.counts.items())
        ]
        print(markdown(results))
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = RESULTS_DIR / f"reliability-{stamp}.json"
            payload = {"when": stamp, "machine": machine(redis), **results}
            out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
            log(f"Wrote {out.relative_to(ROOT)}")
        log(f"Done in {time.monotonic() - begun:.0f} s.")
    return 0


def quietly(step) -> None:
    """Run a clean-up step; report its failure without hiding the run's own outcome."""
    try:
        step()
    except Exception as exc:
        print(f"Clean-up step {getattr(step, '__qualname__', step)} failed: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
