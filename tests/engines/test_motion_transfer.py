"""Motion transfer on videos made here: a face whose mouth opens on a known pattern drives another photo."""

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage import data

from media_jobs.engines.audio import decode_to_mono, median_pitch_hz
from media_jobs.engines.base import EngineError, MotionTransferRequest
from media_jobs.engines.face import analyze_face, find_face, landmarks_in_box
from media_jobs.engines.talking_head import quality
from media_jobs.engines.talking_head.transfer import transfer_motion
from media_jobs.engines.talking_head.video_driver import NoFaceInVideo, motion_from_video
from media_jobs.engines.video import InvalidVideo, extract_audio, probe_video, read_frames

FPS = 25
FRAMES = 75
TONE_HZ = 220.0
SAMPLE_RATE = 48000
TIMES = np.arange(FRAMES) / FPS
# Two bursts of speech-like opening: wide in the first 1.5 s, two-thirds as wide after; shut between.
JAW = (np.clip(1.2 * np.sin(2 * np.pi * 1.3 * TIMES), 0, 1) * np.where(TIMES > 1.5, 0.6, 1.0)).astype(np.float32)
ROLL_CCW = 3.0 * np.sin(2 * TIMES)  # degrees, counter-clockwise on screen
SHIFT_X = 8.0 * np.sin(3 * TIMES)  # pixels


def driver_portrait(side: int = 384) -> np.ndarray:
    return cv2.resize(data.astronaut()[20:276, 96:352], (side, side), interpolation=cv2.INTER_CUBIC)


def open_mouth(image: np.ndarray, landmarks: np.ndarray, jaw: float) -> np.ndarray:
    """Drop the lower lip and chin by jaw x 40% of the mouth's width and show a dark mouth in the gap."""
    height, width = image.shape[:2]
    mouth_width = float(np.linalg.norm(landmarks[54] - landmarks[48]))
    centre = float(landmarks[[48, 54], 0].mean())
    lips = float(landmarks[[62, 66], 1].mean())
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    drop = jaw * 0.4 * mouth_width * np.clip(1 - ((xs - centre) / (0.95 * mouth_width)) ** 2, 0, 1)
    fade = np.clip(1 - (ys - lips - drop) / (landmarks[8, 1] + 0.6 * mouth_width - lips), 0, 1)
    source_y = np.where(ys > lips, ys - drop * fade, ys).astype(np.float32)
    out = cv2.remap(image, xs, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    out[(ys > lips) & (ys < lips + drop) & (np.abs(xs - centre) < 0.45 * mouth_width)] = (60, 20, 25)
    return out


def write_video(path: Path, frames: list[np.ndarray], audio: np.ndarray | None = None) -> Path:
    with av.open(str(path), "w") as output:
        video = output.add_stream("libx264", rate=FPS, options={"crf": "18", "preset": "veryfast"})
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        sound = output.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio is not None else None
        for frame in frames:
            output.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(video.encode())
        if sound is not None:
            for start in range(0, len(audio), 1024):
                chunk = av.AudioFrame.from_ndarray(audio[None, start : start + 1024], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                output.mux(sound.encode(chunk))
            output.mux(sound.encode())
    return path


@pytest.fixture(scope="module")
def driving_video(tmp_path_factory) -> Path:
    """3 s of the astronaut opening and closing her mouth on JAW, rocking her head a little, over a
    220 Hz tone as loud as her mouth is open."""
    portrait = driver_portrait()
    landmarks = analyze_face(portrait, embed=False).landmarks
    frames = []
    for jaw, roll, shift in zip(JAW, ROLL_CCW, SHIFT_X, strict=True):
        moved = cv2.getRotationMatrix2D((192, 192), float(roll), 1.0)
        moved[0, 2] += shift
        frames.append(cv2.warpAffine(open_mouth(portrait, landmarks, float(jaw)), moved, (384, 384)))
    time = np.arange(FRAMES * SAMPLE_RATE // FPS) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * TONE_HZ * time) * (0.2 + 0.8 * np.interp(time, TIMES, JAW))
    return write_video(tmp_path_factory.mktemp("driver") / "driver.mp4", frames, tone.astype(np.float32))


def other_photo() -> np.ndarray:
    """Another picture of a face: the astronaut mirrored, larger, recoloured, in an oval on a green gradient."""
    face = cv2.resize(data.astronaut()[0:330, 60:390][:, ::-1], None, fx=1.2, fy=1.2, interpolation=cv2.INTER_CUBIC)
    face = np.clip(face * np.array([0.85, 1.0, 1.2]), 0, 255)
    height, width = 480, 520
    rows, cols = np.mgrid[0:height, 0:width]
    canvas = np.stack([40 + 0.2 * cols, 90 + 0.2 * rows, np.full_like(cols, 60)], axis=-1).astype(np.float32)
    mask = np.zeros(face.shape[:2], np.float32)
    cv2.ellipse(mask, (face.shape[1] // 2, face.shape[0] // 2 - 20), (166, 198), 0, 0, 360, 1, -1)
    mask = cv2.GaussianBlur(mask, (31, 31), 0)[..., None]
    top, left = 60, 70
    region = canvas[top : top + face.shape[0], left : left + face.shape[1]]
    h, w = region.shape[:2]
    region[:] = region * (1 - mask[:h, :w]) + face[:h, :w] * mask[:h, :w]
    return canvas.astype(np.uint8)


def mouth_opening(video: Path) -> np.ndarray:
    """Per frame: the gap between the inner lips over the mouth's width, from dlib's landmarks."""
    frames = [frame for _, frame in read_frames(video)]
    box = find_face(frames[0]).box
    return np.array([mouth_opening_of(landmarks_in_box(frame, box)) for frame in frames])


def mouth_opening_of(points: np.ndarray) -> float:
    gap = np.linalg.norm(points[[61, 62, 63]] - points[[67, 66, 65]], axis=1).mean()
    return float(gap / np.linalg.norm(points[54] - points[48]))


@pytest.fixture(scope="module")
def transferred(driving_video, tmp_path_factory):
    """The driving video transferred onto other_photo(), with the progress it reported."""
    reports: list[float] = []
    out = tmp_path_factory.mktemp("transfer") / "transfer.mp4"
    request = MotionTransferRequest(photo=other_photo(), driving_video=driving_video, out_path=out)
    return transfer_motion(request, progress=reports.append), reports


def test_the_driver_reads_the_mouth_and_head_of_the_driving_video(driving_video):
    motion = motion_from_video(driving_video)
    assert (motion.fps, motion.frames) == (25, FRAMES)
    assert np.corrcoef(motion.jaw_open, JAW)[0, 1] > 0.9
    # Shut is 0 though the astronaut's smile parts her lips a little (her own rest), wide open near 1.
    assert motion.jaw_open[JAW == 0].mean() < 0.05
    assert motion.jaw_open[JAW == 1].mean() > 0.7
    # Counter-clockwise on screen is a negative roll; the eyes never close.
    assert np.corrcoef(motion.head_roll, -ROLL_CCW)[0, 1] > 0.9
    assert np.abs(motion.head_roll + ROLL_CCW - np.median(motion.head_roll + ROLL_CCW)).max() < 1.0
    assert np.corrcoef(motion.head_dx, SHIFT_X)[0, 1] > 0.7
    assert max(motion.left_eye_closed.max(), motion.right_eye_closed.max()) < 0.2


def test_transfer_opens_the_photos_mouth_with_the_drivers_and_keeps_its_sound(transferred, tmp_path):
    rendered, reports = transferred
    out = rendered.path
    assert (out.name, rendered.fps, rendered.frames) == ("transfer.mp4", 25, FRAMES)
    info = probe_video(out)
    assert (info.fps, info.frames, info.audio_codec) == (25.0, FRAMES, "aac")
    assert info.duration == pytest.approx(3.0, abs=0.01)
    assert np.corrcoef(mouth_opening(out), JAW)[0, 1] > 0.6
    # The sound is the driving video's: as long as it, and its tone.
    samples, rate = decode_to_mono(extract_audio(out, tmp_path / "sound.wav"))
    assert len(samples) / rate == pytest.approx(3.0, abs=0.06)
    assert median_pitch_hz(samples, rate) == pytest.approx(TONE_HZ, rel=0.03)
    assert reports == sorted(reports) and reports[-1] == 1.0


def test_the_photos_mouth_opens_as_far_as_the_drivers_and_shuts_when_it_shuts(driving_video, transferred):
    """Both read back by dlib from the MP4s, in mouth widths: the photo's renderer parts its lips less than
    FaceMotion's nominal gap, and its mouth followed the driver's at 0.74-0.78x before it was measured."""
    driver, replica = mouth_opening(driving_video), mouth_opening(transferred[0].path)
    shut, wide = JAW == 0, JAW > 0.95
    rest = mouth_opening_of(find_face(other_photo()).landmarks)
    # 1.16x measured (0.95-1.0x before a smile's corners came in as its jaw opened); the target is 0.9x.
    assert 0.9 < (replica[wide].mean() - replica[shut].mean()) / (driver[wide].mean() - driver[shut].mean()) < 1.35
    assert np.polyfit(driver, replica, 1)[0] > 0.85
    # Shut when the driver's is: within 0.035 mouth widths of the photo's own lips (0.014 measured; 0.066 before).
    assert replica[shut].mean() - rest < 0.035


def test_a_broad_smile_with_teeth_opens_as_far_as_the_driver_too(driving_video, tmp_path):
    """The selfie's broad smile (P010): dlib read its opened mouth back at most 0.33 of its width, 0.83-0.85x of the
    driver's range, until its corners came in as its jaw opened (render.OPEN_NARROWS): 1.08x measured."""
    photo = quality.portrait("smiling")
    out = tmp_path / "smile.mp4"
    transfer_motion(MotionTransferRequest(photo=photo, driving_video=driving_video, out_path=out))
    driver, replica = mouth_opening(driving_video), mouth_opening(out)
    shut, wide = JAW == 0, JAW > 0.95
    assert (replica[wide].mean() - replica[shut].mean()) / (driver[wide].mean() - driver[shut].mean()) > 0.95
    assert replica[shut].mean() - mouth_opening_of(find_face(photo).landmarks) < 0.035


def test_a_silent_driving_video_gives_a_silent_preview(tmp_path):
    portrait = driver_portrait(256)
    landmarks = analyze_face(portrait, embed=False).landmarks
    frames = [open_mouth(portrait, landmarks, float(jaw)) for jaw in JAW[:20]]
    driver = write_video(tmp_path / "silent.mp4", frames)
    request = MotionTransferRequest(
        photo=other_photo(), driving_video=driver, out_path=tmp_path / "out.mp4", preview=True
    )
    rendered = transfer_motion(request)
    info = probe_video(rendered.path)
    assert info.audio_codec is None
    assert info.frames == 20
    assert max(info.width, info.height) <= 256


def test_a_driving_video_without_a_face_is_refused(tmp_path):
    rng = np.random.default_rng(5)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (9, 9), 0) for _ in range(25)]
    driver = write_video(tmp_path / "landscape.mp4", frames)
    out = tmp_path / "out.mp4"
    with pytest.raises(NoFaceInVideo, match="No face was found in the driving video"):
        transfer_motion(MotionTransferRequest(photo=other_photo(), driving_video=driver, out_path=out))
    assert issubclass(NoFaceInVideo, EngineError)
    assert not out.exists()


def test_a_driving_file_that_is_not_a_video_is_refused(tmp_path):
    driver = tmp_path / "driver.mp4"
    _, png = cv2.imencode(".png", other_photo())
    driver.write_bytes(png.tobytes())
    with pytest.raises(InvalidVideo, match="image"):
        transfer_motion(MotionTransferRequest(photo=other_photo(), driving_video=driver, out_path=tmp_path / "out.mp4"))
