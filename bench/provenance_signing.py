"""C2PA signing cost: what signing adds to each generated file, and to a 60 s video job.

Run from the repository root:

    .venv/bin/python bench/provenance_signing.py

No database, Redis or worker: `media_jobs.provenance.sign` is called as `job_execute` calls it, on the
files the engines make, in one process pinned to one core (`--core`, default the last one it may use),
with numpy/BLAS/OpenMP, OpenCV and onnxruntime on one thread each (as bench/talking_head.py). The local
development certificate is made in a temporary VAR_DIR (ES256, as `make run` makes it); the c2pa library
is loaded and warmed before timing, as a worker's start-up check (`signing_check`) does.

Files, all made here by the real engines or libraries:

- wav: Piper speaking a ~5 s sentence (22.05 kHz mono);
- mp4: a talking head of a ~4 s sentence on scikit-image's astronaut (512x512, H.264 + AAC);
- jpeg: the astronaut scaled to 1024x1024, quality 90;
- mp4-60s: a talking head of a ~60 s script, the output of a 60 s video job.

Each round signs every file once, in an order that rotates each round; each signing starts from a fresh
copy of the unsigned file (the copy is not timed) and covers what `sign()` does in a job: read the file,
build and sign the manifest, write the signed copy, verify it (c2pa's verify-after-sign), replace the file.
The 60 s job (Piper synthesis, then the render) runs once, timed the same way; its share is the signing
time over the job's time. Prints Markdown tables (median, p95, max per file; the job's share), writes JSON
to bench/results/ unless `--no-json`. Options: `--rounds` (40), `--warmup` (3), `--core`. About a minute.
"""

import argparse
import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
for _name in THREAD_VARIABLES:  # before numpy (and anything importing it) loads
    os.environ[_name] = "1"

import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import common  # noqa: E402  bench/common.py: a script's own folder is first on sys.path
from speech_rtf import limit_onnxruntime_threads  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
TARGET_P95_MS = 20.0  # per file
TARGET_JOB_SHARE = 0.02  # of a 60 s video job's time

SHORT_SENTENCE = "Thanks for joining us today. Here is a quick look at what we have been building, and why it matters."
VIDEO_SENTENCE = "Hello there, and welcome to the studio. Let's get started."
# About 60 s in Piper's voice (the talking-head benchmark's script, three times and a closing line).
LONG_SCRIPT = " ".join(
    [
        "Every great product starts with a simple question: what would make someone's day a little easier?",
        "Our team spent the last year listening to teachers, shop owners and nurses, and we heard the same",
        "thing again and again. They wanted tools that get out of the way. So we rebuilt the app from the",
        "ground up, made it twice as fast, and cut the number of steps in half.",
    ]
    * 3
    + ["Thank you for watching, and see you next time."]
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="signings per file (at least 30 for a p95)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed signings per file first")
    parser.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)), help="the CPU to pin to")
    parser.add_argument("--no-json", action="store_true")
    return parser.parse_args()


def p95(values: list[float]) -> float:
    """The 95th percentile, interpolated between the two nearest ranks."""
    return statistics.quantiles(values, n=100, method="inclusive")[94]


class Outputs:
    """The generated files to sign, and the 60 s video job timed once."""

    def __init__(self, work_dir: Path):
        from PIL import Image
        from skimage import data

        from media_jobs.engines import SPEECH_ENGINE, get_engine
        from media_jobs.engines.base import VoiceProfile
        from media_jobs.engines.face import analyze_face
        from media_jobs.engines.talking_head import LocalTalkingHead

        self.work_dir = work_dir
        self.speaker, self.voice = get_engine(SPEECH_ENGINE, "piper"), VoiceProfile()
        self.engine = LocalTalkingHead()
        self.photo = data.astronaut()
        self.face = analyze_face(self.photo, embed=False)  # stored with the person, in the job path
        speech = self.speaker.synthesize(text=SHORT_SENTENCE, voice=self.voice, out_dir=work_dir)
        self.files = {"wav": speech.path}
        self.seconds = {"wav": speech.duration}
        video, seconds = self._talking_head(VIDEO_SENTENCE, "short")
        self.files["mp4"], self.seconds["mp4"] = video, seconds
        jpeg = work_dir / "still.jpg"
        Image.fromarray(self.photo).resize((1024, 1024), Image.LANCZOS).save(jpeg, "JPEG", quality=90)
        self.files["jpeg"], self.seconds["jpeg"] = jpeg, 0.0
        started = time.perf_counter()
        video, seconds = self._talking_head(LONG_SCRIPT, "long")
        self.job_seconds = time.perf_counter() - started  # speech and render, as the job's runner does them
        self.files["mp4-60s"], self.seconds["mp4-60s"] = video, seconds

    def _talking_head(self, script: str, name: str) -> tuple[Path, float]:
        from media_jobs.engines.base import SpeechVideoRequest

        speech = self.speaker.synthesize(text=script, voice=self.voice, out_dir=self.work_dir)
        request = SpeechVideoRequest(
            photo=self.photo,
            audio=speech.path,
            phonemes=speech.phonemes,
            out_path=self.work_dir / f"{name}.mp4",
            face=self.face,
            seed=1,
        )
        video = self.engine.render_speech(request)
        return video.path, video.duration


def sign_once(source: Path, scratch: Path, claim) -> float:
    """Seconds to sign a fresh copy of `source`, as a job signs its output."""
    from media_jobs.provenance import sign

    target = scratch / f"output{source.suffix}"
    shutil.copyfile(source, target)
    started = time.perf_counter()
    sign(target, fmt=source.suffix.lstrip("."), claim=claim)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def machine() -> dict:
    from importlib.metadata import version

    return {
        "cpu": common.cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "c2pa_python": version("c2pa-python"),
        "cryptography": version("cryptography"),
    }


def markdown(results: dict, config: dict) -> str:
    lines = [
        f"Pinned to core {config['core']}; {config['rounds']} signings per file after {config['warmup']} warm-up "
        f"signings, the order rotating each round; ES256, the local development certificate.",
        "",
        "| file | size (KiB) | media (s) | median (ms) | p95 (ms) | max (ms) | p95 <= 20 ms |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, stats in results["files"].items():
        lines.append(
            f"| {name} | {stats['kib']:.0f} | {stats['media_s']:.1f} | {stats['median_ms']:.2f} | "
            f"{stats['p95_ms']:.2f} | {stats['max_ms']:.2f} | {'yes' if stats['p95_ms'] <= TARGET_P95_MS else 'no'} |"
        )
    job = results["job"]
    lines += [
        "",
        "| 60 s video job | seconds | share of the job |",
        "|---|---:|---:|",
        f"| speech + render ({job['media_s']:.1f} s of video) | {job['job_s']:.2f} | |",
        f"| signing its MP4, median | {job['sign_median_s']:.4f} | {job['share_median']:.3%} |",
        f"| signing its MP4, p95 | {job['sign_p95_s']:.4f} | {job['share_p95']:.3%} |",
        "",
        f"Target: p95 <= {TARGET_P95_MS:g} ms per file; at most {TARGET_JOB_SHARE:.0%} of a 60 s video job: "
        f"{'met' if results['met'] else 'NOT met'}.",
        f"Loading the c2pa library: {results['library_ms']:.0f} ms once per process, at start-up (`signing_check`), "
        "not in a job.",
        f"Load average (1 min) before / after: {results['load_before']:.2f} / {results['load_after']:.2f}",
    ]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    if args.rounds < 30:
        raise SystemExit("--rounds must be at least 30 for a p95")
    os.sched_setaffinity(0, {args.core})
    work_dir = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    os.environ["VAR_DIR"] = str(work_dir / "var")  # a fresh local development certificate
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    limit_onnxruntime_threads(1)

    import cv2
    import django

    cv2.setNumThreads(1)
    started = time.perf_counter()
    import c2pa  # noqa: F401  the native library, loaded once per process

    library_ms = (time.perf_counter() - started) * 1000
    django.setup()  # media_jobs' ready() runs signing_check: the certificate made, one signature

    from media_jobs.provenance import ProvenanceClaim

    claim = ProvenanceClaim(
        persona_id=1,
        persona_name="Nova Demo",
        engine="local talking head",
        consent={"voice": "verified", "face": "verified"},
        audio_origin="piper speech",
    )
    try:
        print(f"Pinned to core {args.core}; making the files (the 60 s job renders once)…", file=sys.stderr)
        outputs = Outputs(work_dir)
        scratch = work_dir / "scratch"
        scratch.mkdir()
        names = list(outputs.files)
        for name in names:
            for _ in range(args.warmup):
                sign_once(outputs.files[name], scratch, claim)
        load_before = os.getloadavg()[0]
        samples: dict[str, list[float]] = {name: [] for name in names}
        for number in range(args.rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                samples[name].append(sign_once(outputs.files[name], scratch, claim))
        files = {
            name: {
                "kib": outputs.files[name].stat().st_size / 1024,
                "media_s": outputs.seconds[name],
                "median_ms": statistics.median(runs) * 1000,
                "p95_ms": p95(runs) * 1000,
                "max_ms": max(runs) * 1000,
                "samples_s": runs,
            }
            for name, runs in samples.items()
        }
        long_runs = samples["mp4-60s"]
        job_s = outputs.job_seconds + statistics.median(long_runs)
        job = {
            "media_s": outputs.seconds["mp4-60s"],
            "job_s": outputs.job_seconds,
            "sign_median_s": statistics.median(long_runs),
            "sign_p95_s": p95(long_runs),
            "share_median": statistics.median(long_runs) / job_s,
            "share_p95": p95(long_runs) / (outputs.job_seconds + p95(long_runs)),
        }
        results = {
            "files": files,
            "job": job,
            "met": all(stats["p95_ms"] <= TARGET_P95_MS for stats in files.values())
            and job["share_p95"] <= TARGET_JOB_SHARE,
            "library_ms": library_ms,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        }
        config = {
            "core": args.core,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "thread_env": {name: os.environ[name] for name in THREAD_VARIABLES},
        }
        print(markdown(results, config))
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = RESULTS_DIR / f"provenance-signing-{stamp}.json"
            out.write_text(json.dumps({"config": config, "machine": machine(), "results": results}, indent=2))
            print(f"\nraw numbers: {out.relative_to(ROOT)}", file=sys.stderr)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
