"""Talking-head speed on one core: the local engine's render, and speech + render, against an encode-only floor.

Run from the repository root:

    .venv/bin/python bench/talking_head.py

No database, Redis or worker: the engines are called directly, as a job's runner calls them, in one
process pinned to one core (`--core`, default the last one it may use). The thread pools of
numpy/BLAS/OpenMP get one thread before anything imports them, OpenCV gets `cv2.setNumThreads(1)`,
onnxruntime one intra-op thread (see speech_rtf.py), and ffmpeg, a child process, inherits the
pinning and runs the engine's encoder settings (`-threads 1`, `-filter_threads 1`).

Input: scikit-image's astronaut (512x512, the face about 90 px wide) and a script of about 20 s in
Piper's voice, synthesized once for the render paths. Paths, alternated round by round (the order
rotates each round):

- render: `LocalTalkingHead.render_speech(SpeechVideoRequest(photo, audio, ..., face=...))` with the
  face analysed beforehand, as a job passes the analysis stored with the person: speech driver,
  warps, mouth painting, the pipe and ffmpeg (x264 + AAC, faststart) until the MP4 is in place.
- end-to-end: `PiperSpeech.synthesize(script)` then that render on the fresh audio.
- floor: the same encoder (`encode.VideoWriter`, the same command) fed the same number of frames of
  the still photo, with the same audio: all the cost of producing the MP4 without any animation (the
  photo is converted to yuv420p once, as a render converts only its face's region per frame).

Prints a Markdown table of medians (wall seconds, frames per second, real-time factor = wall / audio
seconds, CPU seconds of this process and of its ffmpeg children) and the ratios against the floor,
and the peak resident memory of this process (ru_maxrss) and of the encoder (its VmHWM). Writes JSON to
bench/results/ unless `--no-json`. Options: `--rounds` (7), `--warmup` (1), `--core`, `--preview`
(the preview settings instead), `--framing head_and_shoulders` and `--resolution 720` (the picture a
job may ask for), `--profile` (a cProfile of one render). About a minute.
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
import resource  # noqa: E402
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
TARGET_RTF = 0.5  # end-to-end at least twice as fast as real time
TARGET_RATIO = 3.0  # render within 3x of the floor

SCRIPT = (
    "Every great product starts with a simple question: what would make someone's day a little easier? "
    "Our team spent the last year listening to teachers, shop owners and nurses, and we heard the same "
    "thing again and again. They wanted tools that get out of the way. So we rebuilt the app from the "
    "ground up, made it twice as fast, and cut the number of steps in half."
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs per path")
    parser.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)), help="the CPU to pin to")
    parser.add_argument("--preview", action="store_true", help="measure the preview settings")
    parser.add_argument("--framing", default="photo", choices=("photo", "head_and_shoulders"))
    parser.add_argument("--resolution", type=int, help="the video's height in pixels (e.g. 720)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one render")
    parser.add_argument("--no-json", action="store_true")
    return parser.parse_args()


def track_encoder_memory(peaks: list[float]) -> None:
    """Record each encoder's peak resident memory (VmHWM, MiB) just before its input ends.

    ru_maxrss of the children is no use here: a child forked from this process counts the parent's
    pages it shared before it became ffmpeg.
    """
    from media_jobs.engines.talking_head import encode

    close = encode.VideoWriter.close

    def close_and_record(writer):
        try:
            for line in Path(f"/proc/{writer.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
        return close(writer)

    encode.VideoWriter.close = close_and_record


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run) -> dict:
    """Wall and CPU seconds (this process, and its children that ended meanwhile) of run()."""
    wall, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
    result = run()
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "child_cpu_s": children_cpu() - child,
        **result,
    }


class Paths:
    """The three ways of producing the MP4; each returns the frames and audio seconds it produced."""

    def __init__(self, work_dir: Path, preview: bool, framing: str = "photo", resolution: int | None = None):
        from skimage import data

        from media_jobs.engines import SPEECH_ENGINE, get_engine
        from media_jobs.engines.base import VoiceProfile
        from media_jobs.engines.face import analyze_face
        from media_jobs.engines.talking_head import LocalTalkingHead

        self.work_dir, self.preview = work_dir, preview
        self.framing, self.resolution = framing, resolution
        self.speech_engine, self.voice = get_engine(SPEECH_ENGINE, "piper"), VoiceProfile()
        self.engine = LocalTalkingHead()
        self.photo = data.astronaut()
        self.face = analyze_face(self.photo, embed=False)  # stored with the person, in the job path
        self.speech = self.speech_engine.synthesize(text=SCRIPT, voice=self.voice, out_dir=work_dir)
        self.count = 0

    def _out(self, name: str) -> Path:
        self.count += 1
        return self.work_dir / f"{name}-{self.count}.mp4"

    def _render(self, speech) -> dict:
        from media_jobs.engines.base import SpeechVideoRequest

        out = self._out("render")
        request = SpeechVideoRequest(
            photo=self.photo,
            audio=speech.path,
            phonemes=speech.phonemes,
            out_path=out,
            face=self.face,
            preview=self.preview,
            seed=self.count,
            framing=self.framing,
            resolution=self.resolution,
        )
        video = self.engine.render_speech(request)
        out.unlink()
        return {"frames": video.frames, "audio_s": speech.duration}

    def render(self) -> dict:
        return self._render(self.speech)

    def end_to_end(self) -> dict:
        speech = self.speech_engine.synthesize(text=SCRIPT, voice=self.voice, out_dir=self.work_dir)
        result = self._render(speech)
        speech.path.unlink()
        return result

    def picture(self):
        """The picture the video shows (the framing and resolution asked)."""
        from media_jobs.engines.talking_head import render

        frame, _ = render.frame_photo(
            self.photo, self.face.landmarks, framing=self.framing, resolution=self.resolution, preview=self.preview
        )
        return frame

    def floor(self) -> dict:
        from media_jobs.engines.talking_head.encode import VideoWriter
        from media_jobs.engines.talking_head.speech_driver import frame_count

        out = self._out("floor")
        frame = self.picture()
        frames = frame_count(self.speech.duration)
        height, width = frame.shape[:2]
        with VideoWriter(
            out, width=width, height=height, fps=25, audio=self.speech.path, preview=self.preview
        ) as writer:
            for _ in range(frames):
                writer.write(frame, changed=(0, 0, 0, 0))  # converted to yuv420p once: nothing changes
        out.unlink()
        return {"frames": frames, "audio_s": self.speech.duration}


def summarize(samples: list[dict]) -> dict:
    def median(key):
        return statistics.median(sample[key] for sample in samples)

    rtfs = [sample["wall_s"] / sample["audio_s"] for sample in samples]
    return {
        "audio_s": median("audio_s"),
        "frames": median("frames"),
        "wall_s": median("wall_s"),
        "cpu_s": median("cpu_s"),
        "child_cpu_s": median("child_cpu_s"),
        "fps": statistics.median(sample["frames"] / sample["wall_s"] for sample in samples),
        "rtf": statistics.median(rtfs),
        "rtf_best": min(rtfs),
        "samples": samples,
    }


def machine() -> dict:
    from importlib.metadata import version

    import cv2
    import imageio_ffmpeg
    import numpy

    return {
        "cpu": common.cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "ffmpeg": imageio_ffmpeg.get_ffmpeg_version(),
        "dlib": version("dlib-bin"),
        "piper_tts": version("piper-tts"),
    }


def markdown(results: dict, config: dict) -> str:
    paths = results["paths"]
    floor = paths["floor"]
    lines = [
        f"Pinned to core {config['core']}; {config['rounds']} rounds, medians; "
        f"{'preview' if config['preview'] else 'full'} settings; {paths['render']['frames']:.0f} frames "
        f"of {results['width']}x{results['height']}.",
        "",
        "| path | audio (s) | wall (s) | frames/s | RTF | CPU (s) | ffmpeg CPU (s) | wall vs floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, stats in paths.items():
        lines.append(
            f"| {name} | {stats['audio_s']:.2f} | {stats['wall_s']:.3f} | {stats['fps']:.0f} | {stats['rtf']:.4f} | "
            f"{stats['cpu_s']:.3f} | {stats['child_cpu_s']:.3f} | {stats['wall_s'] / floor['wall_s']:.2f}x |"
        )
    render, e2e = paths["render"], paths["end-to-end"]
    lines += [
        "",
        "| target | measured | met |",
        "|---|---:|---|",
        f"| end-to-end RTF <= {TARGET_RTF} (2x real time) | {e2e['rtf']:.3f} ({1 / e2e['rtf']:.1f}x real time) | "
        f"{'yes' if e2e['rtf'] <= TARGET_RTF else 'no'} |",
        f"| render / floor (wall) <= {TARGET_RATIO}x | {render['wall_s'] / floor['wall_s']:.2f}x | "
        f"{'yes' if render['wall_s'] / floor['wall_s'] <= TARGET_RATIO else 'no'} |",
        "",
        f"Peak resident memory (ru_maxrss): this process {results['maxrss_mib']:.0f} MiB "
        f"({results['maxrss_before_mib']:.0f} MiB before the first render: Python, Django, Piper's voice, dlib's "
        f"models); ffmpeg at most {results['encoder_peak_mib']:.0f} MiB (VmHWM).",
        f"Load average (1 min) before / after: {results['load_before']:.2f} / {results['load_after']:.2f}",
    ]
    return "\n".join(lines)


def profile_render(paths: Paths) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    paths.render()
    profiler.disable()
    out = io.StringIO()
    out.write("cProfile of one render (own time):\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    return out.getvalue()


def mib(kib: int) -> float:
    return kib / 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    args = parse_args()
    os.sched_setaffinity(0, {args.core})
    work_dir = Path(tempfile.mkdtemp(prefix="talking-head-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    limit_onnxruntime_threads(1)

    import cv2
    import django

    cv2.setNumThreads(1)
    django.setup()
    encoder_peaks: list[float] = []
    track_encoder_memory(encoder_peaks)
    started = time.monotonic()
    try:
        paths = Paths(work_dir, args.preview, args.framing, args.resolution)
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        runners = {"render": paths.render, "end-to-end": paths.end_to_end, "floor": paths.floor}
        print(f"Pinned to core {args.core}; warming up…", file=sys.stderr)
        for run in runners.values():
            for _ in range(args.warmup):
                run()
        load_before = os.getloadavg()[0]
        samples = {name: [] for name in runners}
        order = list(runners)
        for number in range(args.rounds):
            rotated = order[number % len(order) :] + order[: number % len(order)]
            for name in rotated:
                samples[name].append(timed(runners[name]))
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)

        frame = paths.picture()
        results = {
            "paths": {name: summarize(runs) for name, runs in samples.items()},
            "width": frame.shape[1],
            "height": frame.shape[0],
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "maxrss_before_mib": mib(maxrss_before),
            "maxrss_mib": mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
            "encoder_peak_mib": max(encoder_peaks, default=0.0),
        }
        results["ratio_render_floor"] = results["paths"]["render"]["wall_s"] / results["paths"]["floor"]["wall_s"]
        results["ratio_e2e_floor"] = results["paths"]["end-to-end"]["wall_s"] / results["paths"]["floor"]["wall_s"]
        config = {
            "core": args.core,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "preview": args.preview,
            "framing": args.framing,
            "resolution": args.resolution,
            "script_words": len(SCRIPT.split()),
            "thread_env": {name: os.environ[name] for name in THREAD_VARIABLES},
        }
        print(markdown(results, config))
        if args.profile:
            print()
            print(profile_render(paths))
        if not args.no_json:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            out = RESULTS_DIR / f"talking_head-{stamp}.json"
            payload = {"when": stamp, "machine": machine(), "config": config, **results}
            out.write_text(json.dumps(payload, indent=2) + "\n")
            print(f"Wrote {out.relative_to(ROOT)}", file=sys.stderr)
        print(f"Done in {time.monotonic() - started:.0f} s.", file=sys.stderr)
        return 0
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
