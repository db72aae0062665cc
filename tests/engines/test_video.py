"""Probing and reading uploaded videos, on small files written here whose content is known."""

import io
import re
import struct
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from media_jobs.engines.audio import decode_to_mono, rms_dbfs
from media_jobs.engines.video import (
    InvalidVideo,
    extract_audio,
    probe_video,
    read_frames,
    resolution_label,
    resolution_matches,
)

SAMPLE_RATE = 48000


def numbered_frame(index: int, width: int, height: int) -> np.ndarray:
    """Brightness 10 * index, with a red block in the top-left corner to show which way is up."""
    frame = np.full((height, width, 3), min(250, 10 * index), dtype=np.uint8)
    frame[: height // 4, : width // 4] = (255, 0, 0)
    return frame


def write_video(
    path: Path,
    *,
    seconds: float = 1.0,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    video_codec: str = "libx264",
    audio_codec: str | None = "aac",
    container: str | None = None,
    rotation: int = 0,
    options: dict | None = None,
) -> Path:
    """A video of numbered frames and, with an audio codec, a 440 Hz tone as long as the video."""
    with av.open(str(path), "w", format=container, options=options or {}) as output:
        video = output.add_stream(video_codec, rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        audio = output.add_stream(audio_codec, rate=SAMPLE_RATE, layout="mono") if audio_codec else None
        for index in range(round(seconds * fps)):
            output.mux(video.encode(av.VideoFrame.from_ndarray(numbered_frame(index, *size), format="rgb24")))
        output.mux(video.encode())
        if audio is not None:
            time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
            samples = (0.3 * np.sin(2 * np.pi * 440 * time)).astype(np.float32)
            chunk = audio.codec_context.frame_size or 1024
            for start in range(0, len(samples), chunk):
                frame = av.AudioFrame.from_ndarray(
                    samples[None, start : start + chunk].copy(), format="flt", layout="mono"
                )
                frame.sample_rate, frame.pts = SAMPLE_RATE, start
                output.mux(audio.encode(frame))
            output.mux(audio.encode())
    return path


@pytest.fixture
def mp4(tmp_path) -> Path:
    return write_video(tmp_path / "clip.mp4")


def test_probe_reads_an_mp4_with_h264_and_aac(mp4):
    info = probe_video(mp4)
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    assert (info.width, info.height, info.fps, info.frames) == (160, 120, 25.0, 25)
    assert info.duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("video_codec", "audio_codec", "container", "suffix", "name"),
    [
        ("libvpx-vp9", "libopus", "webm", "webm", "webm"),
        ("libx264", "aac", "mov", "mov", "mov"),
        ("libx264", "aac", "matroska", "mkv", "mkv"),
        ("mpeg4", None, "avi", "avi", "avi"),
    ],
)
def test_probe_names_other_containers(tmp_path, video_codec, audio_codec, container, suffix, name):
    for codec in (video_codec, audio_codec):
        if codec and codec not in av.codecs_available:
            pytest.skip(f"this PyAV build has no {codec}")
    path = write_video(
        tmp_path / f"clip.{suffix}", seconds=0.6, video_codec=video_codec, audio_codec=audio_codec, container=container
    )
    info = probe_video(path)
    assert info.container == name
    assert info.frames == 15
    assert info.duration == pytest.approx(0.6, abs=0.01)
    assert info.audio_codec == (audio_codec.removeprefix("lib") if audio_codec else None)


def test_a_video_without_sound_has_no_audio_codec_and_no_audio_to_extract(tmp_path):
    path = write_video(tmp_path / "silent.mp4", audio_codec=None)
    assert probe_video(path).audio_codec is None
    assert extract_audio(path, tmp_path / "sound.wav") is None
    assert not (tmp_path / "sound.wav").exists()


def test_duration_comes_from_the_frames_not_from_the_header(tmp_path):
    path = write_video(tmp_path / "clip.webm", video_codec="libvpx-vp9", audio_codec=None, container="webm")
    data = bytearray(path.read_bytes())
    at = data.index(b"\x44\x89")  # Matroska's Duration element: an 8-byte float of milliseconds
    data[at + 3 : at + 11] = struct.pack(">d", 3_600_000.0)
    path.write_bytes(bytes(data))
    assert av.open(str(path)).duration / 1e6 == pytest.approx(3600)  # what the header claims
    info = probe_video(path, max_duration=10)
    assert info.duration == pytest.approx(1.0, abs=0.01)


def test_a_phone_video_is_measured_and_read_upright(tmp_path):
    # Phones store portrait video as landscape pictures plus a display rotation.
    path = write_video(tmp_path / "phone.mp4", size=(160, 96), rotation=90, audio_codec=None)
    info = probe_video(path)
    assert (info.width, info.height) == (96, 160)
    _, first = next(read_frames(path))
    assert first.shape == (160, 96, 3)
    # Turned a quarter counter-clockwise, the top-left red corner lands at the bottom-left.
    assert first[-5, 5, 0] > 200 and first[-5, 5, 1] < 60
    assert first[5, 5, 0] < 60


def test_read_frames_resamples_to_the_asked_rate_and_size(tmp_path):
    path = write_video(tmp_path / "clip.mp4", seconds=1.0, fps=25, size=(320, 240), audio_codec=None)
    frames = list(read_frames(path, fps=10, max_side=80))
    assert [round(t, 3) for t, _ in frames] == [round(k / 10, 3) for k in range(10)]
    assert frames[0][1].shape == (60, 80, 3)
    # Each moment shows the source frame nearest to it: frame index ≈ 2.5 k, brightness 10 * index.
    brightness = np.array([frame[50, 60].mean() for _, frame in frames])
    assert np.all(np.abs(brightness / 10 - 2.5 * np.arange(10)) <= 1.6)
    assert len(list(read_frames(path, fps=25))) == 25
    assert len(list(read_frames(path))) == 25


def test_extract_audio_writes_the_sound_track_as_wav(mp4, tmp_path):
    out = extract_audio(mp4, tmp_path / "sound.wav")
    assert out == tmp_path / "sound.wav"
    with wave.open(str(out)) as wav:
        assert wav.getsampwidth() == 2
        assert wav.getnframes() / wav.getframerate() == pytest.approx(1.0, abs=0.05)
    samples, _ = decode_to_mono(out)
    assert rms_dbfs(samples) == pytest.approx(-13.5, abs=1.5)  # a 0.3 sine


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format="PNG")
    return out.getvalue()


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x00" * 16000)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (png_bytes, "image (PNG)"),
        (wav_bytes, "audio only (WAV)"),
        (lambda: np.random.default_rng(1).bytes(20000), "not a video"),
        (lambda: b"\x00\x00\x00\x20ftypisom" + np.random.default_rng(2).bytes(20000), "damaged"),
        (lambda: b"", "empty"),
    ],
)
def test_probe_refuses_files_that_are_not_videos(tmp_path, content, message):
    path = tmp_path / "upload.mp4"
    path.write_bytes(content())
    with pytest.raises(InvalidVideo, match=re.escape(message)):
        probe_video(path)


def test_probe_refuses_a_file_with_sound_and_no_picture(tmp_path):
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as output:
        audio = output.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for start in range(0, SAMPLE_RATE, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            output.mux(audio.encode(frame))
        output.mux(audio.encode())
    with pytest.raises(InvalidVideo, match="no video track"):
        probe_video(path)


@pytest.mark.parametrize(
    ("faststart", "message"), [(False, "damaged or truncated"), (True, r"truncated: it holds \d+ of its 25 frames")]
)
def test_probe_refuses_a_truncated_mp4(tmp_path, faststart, message):
    # Without faststart the index is at the end and is cut off; with it, the last frames are.
    options = {"movflags": "faststart"} if faststart else None
    path = write_video(tmp_path / "clip.mp4", audio_codec=None, options=options)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(InvalidVideo, match=message):
        probe_video(path)


def test_probe_refuses_videos_over_the_limits(mp4):
    with pytest.raises(InvalidVideo, match="longer than 0.5 seconds"):
        probe_video(mp4, max_duration=0.5)
    with pytest.raises(InvalidVideo, match="largest accepted is 100x100"):
        probe_video(mp4, max_pixels=100 * 100)


@pytest.mark.parametrize(
    ("width", "height", "label"),
    [
        (1920, 1080, "1080p"),
        (1080, 1920, "1080p"),
        (1920, 1088, "1080p"),
        (1280, 720, "720p"),
        (3840, 2160, "4k"),
        (4096, 2160, "4k"),
        (640, 360, "360p"),
        (1000, 1000, "1000p"),
    ],
)
def test_resolution_label(width, height, label):
    assert resolution_label(width, height) == label


@pytest.mark.parametrize(
    ("declared", "width", "height", "matches"),
    [
        ("1080p", 1920, 1080, True),
        ("1080P", 1080, 1920, True),  # portrait: the smaller side decides
        ("1080", 1920, 1088, True),  # encoder padding
        ("1080p", 1280, 720, False),
        ("720p", 1280, 720, True),
        ("4K", 3840, 2160, True),
        ("4k", 1920, 1080, False),
        ("uhd", 4096, 2160, True),
        ("1920x1080", 1920, 1080, True),
        ("1920 x 1080", 1080, 1920, True),
        ("1920x1080", 1280, 720, False),
        ("1280x720", 1920, 1080, False),
        ("hd", 1280, 720, True),
        ("full-hd", 1920, 1080, True),
        ("big", 1920, 1080, False),
        ("", 1920, 1080, False),
    ],
)
def test_resolution_matches(declared, width, height, matches):
    assert resolution_matches(declared, width, height) is matches
