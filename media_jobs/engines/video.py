"""Uploaded videos: what a file really is, its frames and its sound, read with PyAV.

Uploads are untrusted. A file is only handed to a demuxer after its first bytes say it is an MP4/MOV,
a Matroska/WebM or an AVI, and that demuxer is named explicitly: ffmpeg's own probing would also
accept playlists (HLS, concat) that make it open other files. Probing reads packets without
decoding them, so a lying header cannot claim a duration or a frame count the file does not hold,
and it stops as soon as the file is over the limits.
"""

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media_jobs.engines.audio import run_ffmpeg
from media_jobs.engines.base import EngineError

MAX_DURATION_S = 600.0
MAX_PIXELS = 4096 * 4096
MAX_FPS = 240.0  # above this a stream is a flood of tiny frames, not a video
SNIFF_BYTES = 64
FIRST_FRAME_PACKETS = 250

# Names a client may declare for a resolution, by the smaller side of the picture ("p" number).
RESOLUTION_NAMES = {
    "sd": (480,),
    "hd": (720,),
    "fhd": (1080,),
    "fullhd": (1080,),
    "2k": (1080, 1440),  # cinema 2K is 2048x1080, marketing "2K" is 1440p
    "qhd": (1440,),
    "uhd": (2160,),
    "4k": (2160,),
    "8k": (4320,),
}
LABELS = {2160: "4k", 4320: "8k"}
STANDARD_SIDES = (144, 240, 360, 480, 540, 576, 720, 1080, 1440, 2160, 4320)
# Encoders pad to multiples of 16 (1088 for 1080) and editors crop a few pixels: close enough is equal.
SIDE_TOLERANCE = 0.03


class InvalidVideo(EngineError):
    """The file is not a video we can use; the message says why and is safe to show."""


@dataclass(frozen=True)
class VideoInfo:
    container: str  # "mp4", "mov", "webm", "mkv" or "avi"
    video_codec: str
    audio_codec: str | None
    duration: float  # seconds of video, measured from the packets
    width: int  # as displayed (a phone's rotation applied)
    height: int
    fps: float
    frames: int  # video packets counted in the file

    @property
    def resolution(self) -> str:
        return resolution_label(self.width, self.height)


def _sniff(path: Path) -> str:
    """The demuxer for the file's first bytes, or InvalidVideo naming what the file looks like instead."""
    try:
        with open(path, "rb") as file:
            head = file.read(SNIFF_BYTES)
    except OSError as exc:
        raise InvalidVideo("The video file could not be read.") from exc
    if len(head) < 12:
        raise InvalidVideo("The file is empty or too short to be a video.")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"):
            raise InvalidVideo("The file is an image (HEIF/AVIF), not a video.")
        return "mov"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"  # QuickTime files from before the ftyp box
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF"):
        kind = head[8:12]
        if kind == b"AVI ":
            return "avi"
        if kind == b"WAVE":
            raise InvalidVideo("The file is audio only (WAV), not a video.")
        if kind == b"WEBP":
            raise InvalidVideo("The file is an image (WebP), not a video.")
    images = {
        b"\x89PNG": "PNG",
        b"\xff\xd8\xff": "JPEG",
        b"GIF8": "GIF",
        b"BM": "BMP",
        b"II*\x00": "TIFF",
        b"MM\x00*": "TIFF",
    }
    for magic, name in images.items():
        if head.startswith(magic):
            raise InvalidVideo(f"The file is an image ({name}), not a video.")
    if head.startswith((b"ID3", b"fLaC", b"OggS")) or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        raise InvalidVideo("The file is audio only, not a video.")
    raise InvalidVideo("The file is not a video in a supported format (MP4, MOV, WebM, MKV or AVI).")


def _open(path: Path, demuxer: str):
    import av  # heavy: FFmpeg's libraries load on the first video read, not when services import this

    try:
        return av.open(str(path), format=demuxer, metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidVideo("The video file is damaged or truncated and cannot be read.") from exc


def _short_container(container, demuxer: str, video_codec: str, audio_codec: str | None) -> str:
    if demuxer == "mov":
        return "mov" if container.metadata.get("major_brand", "").startswith("qt") else "mp4"
    if demuxer == "matroska":
        webm = video_codec in ("vp8", "vp9", "av1") and audio_codec in (None, "opus", "vorbis")
        return "webm" if webm else "mkv"
    return demuxer


def _display_size(width: int, height: int, rotation: float) -> tuple[int, int]:
    return (height, width) if round(rotation / 90) % 2 else (width, height)


def probe_video(path: Path, *, max_duration: float = MAX_DURATION_S, max_pixels: int = MAX_PIXELS) -> VideoInfo:
    """What the file really holds. Raises InvalidVideo for anything that is not a usable video or is
    over the limits; decodes one frame, and reads the rest of the file only as far as the limits allow."""
    path = Path(path)
    demuxer = _sniff(path)
    with _open(path, demuxer) as container:
        if not container.streams.video:
            raise InvalidVideo("The file has no video track.")
        stream = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        codec = stream.codec_context
        if codec.width <= 0 or codec.height <= 0:
            raise InvalidVideo("The video track has no picture size.")
        if codec.width * codec.height > max_pixels:
            side = int(math.sqrt(max_pixels))
            raise InvalidVideo(f"The video is {codec.width}x{codec.height}; the largest accepted is {side}x{side}.")

        rotation = _first_frame_rotation(container, stream)
        container.seek(0, backward=True, any_frame=False)
        span = _packet_span(container, stream, max_duration=max_duration)
        frames, start, end = span
        duration = end - start
        if frames == 0 or duration <= 0:
            raise InvalidVideo("The video has no frames.")
        if stream.frames and frames < stream.frames:
            # An MP4's index lists every frame; a file cut short holds fewer than it lists.
            raise InvalidVideo(f"The video file is truncated: it holds {frames} of its {stream.frames} frames.")
        if frames > 1 and frames / duration > MAX_FPS:
            raise InvalidVideo(f"The video has {frames / duration:.0f} frames per second; at most {MAX_FPS:g}.")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate and abs(float(rate) * duration - frames) <= 1 else frames / duration
        width, height = _display_size(codec.width, codec.height, rotation)
        video_codec = codec.name
        audio_codec = audio.codec_context.name if audio is not None else None
        container_name = _short_container(container, demuxer, video_codec, audio_codec)
    return VideoInfo(
        container=container_name,
        video_codec=video_codec,
        audio_codec=audio_codec,
        duration=round(duration, 3),
        width=width,
        height=height,
        fps=round(fps, 3),
        frames=frames,
    )


def _first_frame_rotation(container, stream) -> float:
    """Decode the first frame (the file must really hold a picture) and return its display rotation.

    A decoder fed garbage may swallow packet after packet without a picture: it gets a few seconds' worth.
    """
    import av  # heavy: see _open

    try:
        for count, packet in enumerate(container.demux(stream)):
            for frame in packet.decode():
                return float(frame.rotation or 0)
            if count >= FIRST_FRAME_PACKETS:
                break
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo("The video file is damaged or truncated: its first frame cannot be decoded.") from exc
    raise InvalidVideo("The video has no frames that can be decoded.")


def _packet_span(container, stream, *, max_duration: float) -> tuple[int, float, float]:
    """(frames, first time, end time) of the video track from its packets, without decoding them."""
    import av  # heavy: see _open

    max_frames = int(max_duration * MAX_FPS) + 1
    base = float(stream.time_base)
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    frames, times, end = 0, [], -math.inf
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue  # the flush packet at the end
            frames += 1
            if frames > max_frames:
                raise InvalidVideo(f"The video is longer than {max_duration:g} seconds.")
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                continue
            times.append(pts * base)
            end = max(end, times[-1] + (packet.duration or 0) * base)
            if end - times[0] > max_duration + 1:
                raise InvalidVideo(f"The video is longer than {max_duration:g} seconds.")
    except av.FFmpegError as exc:
        raise InvalidVideo("The video file is damaged or truncated and cannot be read.") from exc
    if not times:
        return frames, 0.0, frames / rate  # no timestamps at all: the declared rate is all there is
    times.sort()
    start = times[0]
    if end <= times[-1]:
        # Matroska and others may store no packet durations: the last frame lasts a typical step.
        end = times[-1] + (float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / rate)
    if end - start > max_duration + 1e-3:
        raise InvalidVideo(f"The video is longer than {max_duration:g} seconds.")
    return frames, start, end


def read_frames(
    path: Path, *, fps: float | None = None, max_side: int | None = None, max_duration: float = MAX_DURATION_S
) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds from the start of the file, RGB frame) for the video track, upright.

    With `fps`, frames come at exactly k/fps seconds (the frame shown at that moment), so a 2 s clip
    gives 2*fps frames whatever its own rate (a frame shown at several moments is the same array: do
    not modify it); with `max_side`, frames are scaled down to fit. Stops at `max_duration`. Call
    probe_video first: this trusts the file to be a video.
    """
    import av  # heavy: see _open

    path = Path(path)
    with _open(path, _sniff(path)) as container:
        if not container.streams.video:
            raise InvalidVideo("The file has no video track.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = (container.start_time or 0) / av.time_base
        fallback_rate = float(stream.average_rate or stream.guessed_rate or 25)
        k, held, held_time, held_image = 0, None, 0.0, None
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = frame.time - origin if frame.time is not None else index / fallback_rate
                if time > max_duration:
                    break
                if frame.width * frame.height > MAX_PIXELS:
                    raise InvalidVideo("The video changes to a picture size over the limit.")
                if not fps:
                    yield time, _upright(frame, max_side)
                    continue
                if held is None:
                    held, held_time = frame, time
                # Each output moment shows the frame nearest to it; frames no moment needs are never converted.
                while k / fps < (held_time + time) / 2 and k / fps <= max_duration:
                    held_image = held_image if held_image is not None else _upright(held, max_side)
                    yield k / fps, held_image
                    k += 1
                if frame is not held:
                    held, held_time, held_image = frame, time, None
        except av.FFmpegError as exc:
            raise InvalidVideo("The video file is damaged and could not be decoded to the end.") from exc
        if fps and held is not None:
            end = min(held_time + 1.0 / fallback_rate, max_duration)
            while k / fps < end - 1e-6:
                held_image = held_image if held_image is not None else _upright(held, max_side)
                yield k / fps, held_image
                k += 1


def _upright(frame, max_side: int | None) -> np.ndarray:
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    if scale < 1.0:
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
        image = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    else:
        image = frame.to_ndarray(format="rgb24")
    # The display matrix turns the picture counter-clockwise by `rotation` degrees.
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def extract_audio(path: Path, out_path: Path, *, max_duration: float = MAX_DURATION_S) -> Path | None:
    """The first sound track as 16-bit PCM WAV at out_path, or None when the video has none.

    The sound is placed on the file's timeline (silence fills a late start), so it stays in sync
    with the frames read_frames returns.
    """
    path, out_path = Path(path), Path(out_path)
    demuxer = _sniff(path)
    with _open(path, demuxer) as container:
        if not container.streams.audio:
            return None
    try:
        run_ffmpeg(
            [
                *("-f", demuxer, "-i", str(path)),
                *("-map", "0:a:0", "-vn", "-af", "aresample=async=1:first_pts=0"),
                *("-t", f"{max_duration:g}", "-c:a", "pcm_s16le", str(out_path)),
            ]
        )
    except EngineError as exc:
        if exc.retryable:
            raise
        raise InvalidVideo("The video's sound track is damaged and could not be decoded.") from exc
    return out_path


def _sides(declared: str) -> tuple[tuple[int, ...], tuple[int, int] | None]:
    """The "p" numbers a declared resolution stands for, or its exact (width, height)."""
    text = re.sub(r"[\s_-]", "", declared.strip().lower())
    if match := re.fullmatch(r"(\d{2,5})[x×*](\d{2,5})", text):
        return (), (int(match[1]), int(match[2]))
    if match := re.fullmatch(r"(\d{2,4})[pi]?", text):
        return (int(match[1]),), None
    return RESOLUTION_NAMES.get(text, ()), None


def _close(actual: int, declared: int) -> bool:
    return abs(actual - declared) <= max(8, SIDE_TOLERANCE * declared)


def resolution_label(width: int, height: int) -> str:
    """The usual name for a picture size: "1080p", "720p", "4k"; the smaller side decides, so a
    portrait phone video of 1080x1920 is 1080p too."""
    side = min(width, height)
    nearest = min(STANDARD_SIDES, key=lambda standard: abs(standard - side))
    if _close(side, nearest):
        side = nearest
    return LABELS.get(side, f"{side}p")


def resolution_matches(declared: str, width: int, height: int) -> bool:
    """Whether a client's declared resolution ("1080p", "4K", "1920x1080", "hd") fits the real size.

    A "p" number or a name compares with the smaller side; "WxH" compares both sides, in either
    orientation (rotation metadata makes orientation unreliable across tools). Sides within 3% (or
    8 pixels) count as equal. An unreadable declaration matches nothing.
    """
    sides, exact = _sides(declared)
    if exact is not None:
        return any(_close(width, w) and _close(height, h) for w, h in (exact, exact[::-1]))
    return any(_close(min(width, height), side) for side in sides)
