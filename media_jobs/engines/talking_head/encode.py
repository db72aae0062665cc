"""H.264/AAC MP4 from raw RGB frames: the one encoder setting that renders and benchmarks share.

Frames go to the ffmpeg binary that imageio-ffmpeg ships through a pipe, so no frame touches the
disk; the audio file is ffmpeg's second input. They travel as yuv420p (Yuv420Frames), half the bytes
of RGB, converted here only where a frame changed: a talking head changes its face's region, never
the rest. ffmpeg writes a hidden part file next to the target, which replaces the target only once
ffmpeg has succeeded: a failed render never leaves a half-written video where the caller expects one.
"""

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from media_jobs.engines.audio import ffmpeg_exe
from media_jobs.engines.base import EngineError

PRESET = "veryfast"
PREVIEW_PRESET = "superfast"  # ultrafast drops CABAC: files twice as large, for 30% less time
# x264's film-grain tuning keeps the skin's fine texture that its defaults smooth away as noise (its
# deadzones and deblocking take the small coefficients): at CRF 18 the MP4 keeps 0.83-0.90x of the
# photo's high-frequency energy in the face where CRF 20 untuned kept 0.57-0.72x, for about 2.5x the
# bitrate (0.6-1.2 Mbit/s at 512x512; docs/VIDEO.md). Previews are small and fast, not faithful.
TUNE = "grain"
CRF = 18
# A large frame (a 720p head and shoulders is 0.52 Mpx; the 512x512 photo 0.26) is encoded with lighter motion
# search: sub-pixel refinement at its cheapest, no weighted prediction (a talking head has no fades), a short
# rate-control lookahead. x264 spends about a sixth less time on it for a tenth more bitrate, and the face keeps
# as much of its detail (docs/VIDEO.md, "2x real time"): at 720p the encoder is a third of the whole job.
LARGE_FRAME_PIXELS = 400_000
LARGE_FRAME_X264 = "subme=1:weightp=0:rc-lookahead=5"
PREVIEW_CRF = 28
AUDIO_BITRATE = "96k"
AUDIO_RATE = 48_000  # what players and editors expect of video; speech arrives at the voice's rate
# One thread per encoder: workers run jobs side by side, one per core, so threads would only compete.
THREADS = 1
STDERR_TAIL = 800
# RGB to BT.601 limited-range Cb and Cr (what ffmpeg's own rgb24 to yuv420p conversion gives, and what players
# assume of an untagged H.264 stream), as a 2x4 matrix for cv2.transform (the last column the offset).
RGB_TO_CBCR = (
    np.array([[-37.797, -74.203, 112.0, 128.0 * 255.0], [112.0, -93.786, -18.214, 128.0 * 255.0]]) / 255.0
).astype(np.float32)


class Yuv420Frames:
    """A frame's yuv420p planes, kept from frame to frame and converted again only inside the box that changed.

    Luma is cv2's BT.601 limited-range conversion; each chroma sample is the 2x2 pixels' mean converted (cv2's
    I420 conversion takes the block's top-left pixel alone, which aliases colour edges; ffmpeg filters about as
    a 2x2 mean does). Both are computed per 2x2 block, so a box widened to even rows and columns gives the
    planes exactly what converting the whole frame gives.
    """

    def __init__(self, *, width: int, height: int):
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even dimensions, not {width}x{height}")
        self.width, self.height = width, height
        self.buffer = np.empty(width * height * 3 // 2, dtype=np.uint8)
        luma, quarter = width * height, width * height // 4
        self.y = self.buffer[:luma].reshape(height, width)
        self.u = self.buffer[luma : luma + quarter].reshape(height // 2, width // 2)
        self.v = self.buffer[luma + quarter :].reshape(height // 2, width // 2)
        self.filled = False

    def update(self, frame: np.ndarray, changed: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The planes (one flat buffer, reused) of `frame` (height x width x 3 RGB, uint8), converting only the
        box `changed` (x0, y0, x1, y1) widened to even edges: the caller vouches that the frame is the last
        one given outside it. The first frame, or one without a box, is converted whole."""
        import cv2  # heavy: OpenCV loads when a worker first renders, not when the engine is imported

        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self.width}x{self.height} RGB uint8 frame, not {frame.shape} {frame.dtype}")
        if changed is None or not self.filled:
            changed = (0, 0, self.width, self.height)
        x0, y0 = max(0, changed[0]) // 2 * 2, max(0, changed[1]) // 2 * 2
        x1, y1 = min(self.width, changed[2] + changed[2] % 2), min(self.height, changed[3] + changed[3] % 2)
        self.filled = True
        if x1 <= x0 or y1 <= y0:
            return self.buffer
        region = frame[y0:y1, x0:x1]
        self.y[y0:y1, x0:x1] = cv2.cvtColor(region, cv2.COLOR_RGB2YUV_I420)[: y1 - y0]
        means = cv2.resize(region, ((x1 - x0) // 2, (y1 - y0) // 2), interpolation=cv2.INTER_AREA)  # exact 2x2
        chroma = cv2.transform(means, RGB_TO_CBCR)
        self.u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = chroma[..., 0]
        self.v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = chroma[..., 1]
        return self.buffer


class VideoWriter:
    """Feeds frames to ffmpeg; `close()` publishes the MP4, `abort()` (or an exception) removes it.

    Use as a context manager: leaving the block normally closes, leaving it by an exception aborts.
    """

    def __init__(
        self,
        out_path: Path,
        *,
        width: int,
        height: int,
        fps: int,
        audio: Path | None,
        preview: bool = False,
        threads: int = THREADS,
    ):
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even dimensions, not {width}x{height}")
        self.out_path = Path(out_path)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self.part_path = self.out_path.with_name(f".{self.out_path.name}.part")
        self.width, self.height, self.fps = width, height, fps
        self.planes = Yuv420Frames(width=width, height=height)
        self.frames = 0
        cmd = self._command(audio=audio, preview=preview, threads=threads)
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        except OSError as exc:
            self._stderr.close()
            raise EngineError(f"ffmpeg could not start: {exc}") from exc
        assert self._process.stdin is not None  # stdin=PIPE
        self._stdin = self._process.stdin

    def _command(self, *, audio: Path | None, preview: bool, threads: int) -> list[str]:
        """ffmpeg reading this writer's yuv420p frames on stdin and writing an MP4 to its part file."""
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-threads", str(threads)]
        cmd += ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{self.width}x{self.height}", "-r", str(self.fps)]
        cmd += ["-i", "pipe:0"]
        large = not preview and self.width * self.height >= LARGE_FRAME_PIXELS
        if audio is not None:
            cmd += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0"]
        cmd += [
            "-filter_threads",
            str(threads),
            "-c:v",
            "libx264",
            "-preset",
            PREVIEW_PRESET if preview else PRESET,
            "-crf",
            str(PREVIEW_CRF if preview else CRF),
            *(() if preview else ("-tune", TUNE)),
            *(("-x264-params", LARGE_FRAME_X264) if large else ()),
            "-pix_fmt",
            "yuv420p",
            "-r",
            str(self.fps),
            "-threads",
            str(threads),
        ]
        if audio is not None:
            cmd += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_RATE)]
        cmd += ["-movflags", "+faststart", "-f", "mp4", str(self.part_path)]
        return cmd

    @property
    def pid(self) -> int:
        """ffmpeg's process id (benchmarks read its memory from /proc)."""
        return self._process.pid

    def write(self, frame: np.ndarray, changed: tuple[int, int, int, int] | None = None) -> None:
        """One RGB frame of the size given (height x width x 3, uint8). `changed` (x0, y0, x1, y1): where it
        differs from the frame written before, which saves converting the rest (see Yuv420Frames.update)."""
        planes = self.planes.update(frame, changed)
        try:
            self._stdin.write(planes.data)
        except (BrokenPipeError, ValueError):
            self._fail("ffmpeg stopped reading frames")
        self.frames += 1

    def close(self) -> Path:
        try:
            self._stdin.close()
        except BrokenPipeError:
            pass
        if self._process.wait() != 0:
            self._fail(f"ffmpeg failed (exit {self._process.returncode})")
        self._stderr.close()
        os.replace(self.part_path, self.out_path)
        return self.out_path

    def abort(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        try:
            self._stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self._process.wait()
        self._stderr.close()
        self.part_path.unlink(missing_ok=True)

    def _fail(self, what: str) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._stderr.seek(0)
        detail = self._stderr.read().decode(errors="replace").strip()[-STDERR_TAIL:]
        self.abort()
        raise EngineError(f"{what}: {detail}" if detail else f"{what}.")

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
