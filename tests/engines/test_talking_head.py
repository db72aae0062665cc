"""The local talking-head engine on the astronaut: the MP4 it writes, and what its frames show.

One Piper sentence is synthesized and rendered per module; the video is decoded and measured with
dlib's landmarks (the inner lips' gap, the eyes' aspect ratio), against the audio's loudness and the
phoneme timings. The renderer's raw frames are checked too, through a writer that keeps them instead
of encoding, where the claim is about exact pixels (H.264 is lossy).
"""

import hashlib
import subprocess

import av
import numpy as np
import pytest
from skimage import data

from media_jobs.engines.audio import decode_to_mono, ffmpeg_exe
from media_jobs.engines.base import EngineError, MotionTransferRequest, SpeechVideoRequest, VoiceProfile
from media_jobs.engines.face import Face, FaceNotFound, analyze_face, landmarks_in_box
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.engines.talking_head import LocalTalkingHead, RenderedVideo, encode, quality, render, transfer
from media_jobs.engines.talking_head.motion import FaceMotion
from media_jobs.engines.talking_head.speech_driver import LEAD_S, loudness, speech_motion_from_file, viseme

# Bilabials next to open vowels, and a pause between the sentences.
TEXT = "Mama bought a big apple pie. Papa opened the far barn."
SEED = 7
FPS = 25
OPEN_VOWELS = ("ɑː", "a", "æ", "ɔː")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("talking-head")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def face(photo) -> Face:
    return analyze_face(photo, embed=False)


@pytest.fixture(scope="module")
def speech(work):
    return PiperSpeech().synthesize(text=TEXT, voice=VoiceProfile(), out_dir=work)


@pytest.fixture(scope="module")
def rendered(photo, face, speech, work) -> tuple[RenderedVideo, list[float]]:
    progress: list[float] = []
    request = SpeechVideoRequest(
        photo=photo, audio=speech.path, phonemes=speech.phonemes, out_path=work / "talk.mp4", face=face, seed=SEED
    )
    video = LocalTalkingHead().render_speech(request, progress=progress.append)
    return video, progress


@pytest.fixture(scope="module")
def video(rendered) -> RenderedVideo:
    return rendered[0]


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def frames(video) -> list[np.ndarray]:
    return decoded(video.path)


@pytest.fixture(scope="module")
def motion(speech) -> FaceMotion:
    return speech_motion_from_file(audio=speech.path, phonemes=speech.phonemes, seed=SEED)


def measure(image: np.ndarray, box) -> tuple[float, float]:
    """(inner-lip gap 62↔66, mean eye aspect ratio), the gap in inter-ocular distances."""
    lm = landmarks_in_box(image, box)
    iod = np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0))

    def ear(p: int) -> float:
        vertical = np.linalg.norm(lm[p + 1] - lm[p + 5]) + np.linalg.norm(lm[p + 2] - lm[p + 4])
        return vertical / (2 * np.linalg.norm(lm[p + 3] - lm[p]))

    return float(np.linalg.norm(lm[66] - lm[62]) / iod), (ear(36) + ear(42)) / 2


@pytest.fixture(scope="module")
def measured(frames, face) -> tuple[np.ndarray, np.ndarray]:
    gaps, ears = zip(*(measure(frame, face.box) for frame in frames), strict=True)
    return np.array(gaps), np.array(ears)


@pytest.fixture(scope="module")
def photo_gap(photo, face) -> float:
    return measure(photo, face.box)[0]


def frames_around(start: float, end: float, count: int) -> range:
    """The video frames that show a sound from start to end (the mouth leads the sound a little)."""
    first = int(np.floor((start - LEAD_S - 0.04) * FPS))
    last = int(np.ceil((end - LEAD_S + 0.04) * FPS))
    return range(max(0, first), min(count, last + 1))


class KeptFrames:
    """Stands in for the encoder: keeps copies of the frames written."""

    kept: list = []

    def __init__(self, out_path, **kwargs):
        self.size = (kwargs["height"], kwargs["width"])
        KeptFrames.kept.clear()

    def write(self, frame, changed=None):
        assert frame.shape[:2] == self.size
        KeptFrames.kept.append(frame.copy())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


@pytest.fixture
def kept_frames(monkeypatch) -> list:
    monkeypatch.setattr(render, "VideoWriter", KeptFrames)
    KeptFrames.kept.clear()
    return KeptFrames.kept


def still_motion(frames: int, **tracks) -> FaceMotion:
    motion = FaceMotion.still(frames)
    values = {name: getattr(motion, name) for name in motion.__dataclass_fields__ if name != "fps"}
    for name, track in tracks.items():
        values[name] = np.asarray(track, dtype=np.float32)
    return FaceMotion(fps=FPS, **values)


# --- the file -------------------------------------------------------------------------------------


def test_the_mp4_holds_one_h264_video_and_one_aac_audio_stream(video, speech, frames):
    with av.open(str(video.path)) as container:
        assert [s.type for s in container.streams] in (["video", "audio"], ["audio", "video"])
        stream, sound = container.streams.video[0], container.streams.audio[0]
        assert stream.codec_context.name == "h264" and sound.codec_context.name == "aac"
        assert sound.codec_context.sample_rate == 48_000
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (512, 512)
        assert stream.average_rate == FPS
        assert float(sound.duration * sound.time_base) == pytest.approx(speech.duration, abs=0.1)
    assert abs(len(frames) - round(speech.duration * FPS)) <= 1
    assert (video.frames, video.width, video.height, video.fps) == (len(frames), 512, 512, FPS)
    assert video.duration == pytest.approx(len(frames) / FPS)
    head = video.path.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # faststart: playable while it downloads


def planes(buffer: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    luma, quarter = width * height, width * height // 4
    return [
        buffer[:luma].reshape(height, width).astype(int),
        buffer[luma : luma + quarter].reshape(height // 2, width // 2).astype(int),
        buffer[luma + quarter :].reshape(height // 2, width // 2).astype(int),
    ]


def test_frames_converted_only_where_they_changed_are_the_whole_frames_conversion(photo):
    # The writer converts a frame to yuv420p only inside the box that changed, widened to even rows and
    # columns; the planes are exactly those of the whole frame converted, and within a level of BT.601's
    # exact values (each chroma sample from its 2x2 pixels' mean, as ffmpeg's own conversion filters).
    height, width = photo.shape[:2]
    moved = photo.copy()
    box = (101, 77, 333, 290)  # odd edges: the 2x2 blocks they cut must be converted whole
    moved[box[1] : box[3], box[0] : box[2]] = np.roll(photo, (5, -7), axis=(0, 1))[box[1] : box[3], box[0] : box[2]]
    by_box = encode.Yuv420Frames(width=width, height=height)
    by_box.update(photo)
    whole = encode.Yuv420Frames(width=width, height=height)
    for got, expected in zip(
        planes(by_box.update(moved, box), width, height), planes(whole.update(moved), width, height), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    rgb = moved.astype(np.float64)
    luma = 16 + rgb @ np.array([65.481, 128.553, 24.966]) / 255
    means = rgb.reshape(height // 2, 2, width // 2, 2, 3).mean(axis=(1, 3))
    cb = 128 + means @ np.array([-37.797, -74.203, 112.0]) / 255
    cr = 128 + means @ np.array([112.0, -93.786, -18.214]) / 255
    for got, exact in zip(planes(by_box.buffer, width, height), (luma, cb, cr), strict=True):
        assert np.abs(got - exact).max() <= 1.0
    # ffmpeg's own rgb24 conversion, which the encoder did before: luma the same to a level; its chroma is a 2-pixel
    # mean across and a bicubic 4-row filter down, a little softer than the 2x2 mean at sharp colour edges.
    converted = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "-"]
        + ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
        input=moved.tobytes(),
        capture_output=True,
        check=True,
    ).stdout
    ours, theirs = planes(by_box.buffer, width, height), planes(np.frombuffer(converted, np.uint8), width, height)
    assert np.abs(ours[0] - theirs[0]).max() <= 1
    for got, their in zip(ours[1:], theirs[1:], strict=True):
        assert np.abs(got - their).mean() < 0.5


def test_frames_written_with_their_changed_box_encode_as_frames_written_whole(photo, work):
    height, width = photo.shape[:2]
    frames = [photo, photo.copy(), photo.copy()]
    frames[1][200:301, 151:260] = 255 - frames[1][200:301, 151:260]
    frames[2][200:301, 151:260] = 0
    videos = []
    for boxes in (False, True):
        path = work / f"boxes-{boxes}.mp4"
        with encode.VideoWriter(path, width=width, height=height, fps=FPS, audio=None) as writer:
            for frame in frames:
                writer.write(frame, changed=(151, 200, 260, 301) if boxes else None)
        videos.append(path.read_bytes())
    assert videos[0] == videos[1]
    for got, written in zip(decoded(work / "boxes-True.mp4"), frames, strict=True):
        assert np.abs(got.astype(int) - written).mean() < 4.0  # yuv420p and CRF 18 on the astronaut's colours


def test_progress_rises_to_one(rendered):
    _, progress = rendered
    assert progress and progress == sorted(progress)
    assert 0 < progress[0] < 0.5 and progress[-1] == 1.0


def test_the_same_seed_gives_the_same_video(photo, face, speech, video, motion, work):
    again = LocalTalkingHead().render_speech(
        SpeechVideoRequest(
            photo=photo, audio=speech.path, phonemes=speech.phonemes, out_path=work / "again.mp4", face=face, seed=SEED
        )
    )
    digest = hashlib.sha256
    assert digest(again.path.read_bytes()).digest() == digest(video.path.read_bytes()).digest()
    same = speech_motion_from_file(audio=speech.path, phonemes=speech.phonemes, seed=SEED)
    other = speech_motion_from_file(audio=speech.path, phonemes=speech.phonemes, seed=SEED + 1)
    for name in ("jaw_open", "left_eye_closed", "head_yaw", "head_dx"):
        np.testing.assert_array_equal(getattr(same, name), getattr(motion, name))
    np.testing.assert_array_equal(other.jaw_open, motion.jaw_open)  # the mouth follows the speech only
    assert not np.array_equal(other.left_eye_closed, motion.left_eye_closed)
    assert not np.array_equal(other.head_yaw, motion.head_yaw)


def test_a_preview_is_smaller_and_as_long(photo, face, speech, video, work):
    preview = LocalTalkingHead().render_speech(
        SpeechVideoRequest(
            photo=photo,
            audio=speech.path,
            phonemes=speech.phonemes,
            out_path=work / "preview.mp4",
            face=face,
            preview=True,
        )
    )
    assert (preview.width, preview.height) == (256, 256)
    assert preview.frames == video.frames
    assert preview.path.stat().st_size < 0.75 * video.path.stat().st_size
    with av.open(str(preview.path)) as container:
        assert len(container.streams.video) == len(container.streams.audio) == 1
        assert sum(1 for _ in container.decode(video=0)) == preview.frames


def test_without_audio_the_mp4_has_only_video_and_large_odd_photos_are_capped_to_even_sizes(photo, face, work):
    big = np.ascontiguousarray(np.repeat(np.repeat(photo, 3, axis=0), 3, axis=1)[:1535, :1203])
    big_face = Face(box=tuple(3 * v for v in face.box), landmarks=face.landmarks * 3, score=face.score)
    video = render.render_video(
        photo=big, face=big_face, motion=still_motion(3, jaw_open=[0, 0.5, 1]), audio=None, out_path=work / "big.mp4"
    )
    assert max(video.width, video.height) <= render.MAX_SIDE
    assert video.width % 2 == video.height % 2 == 0
    assert video.height / video.width == pytest.approx(1535 / 1203, rel=0.01)
    with av.open(str(video.path)) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 0
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_a_failed_encode_raises_with_ffmpegs_message_and_leaves_no_file(photo, face, speech, work):
    out = work / "failed" / "talk.mp4"
    with pytest.raises(EngineError, match="ffmpeg") as excinfo:
        render.render_video(photo=photo, face=face, motion=still_motion(5), audio=work / "missing.wav", out_path=out)
    assert "missing.wav" in str(excinfo.value)
    assert not out.exists() and not list(out.parent.iterdir())


def test_a_photo_without_a_face_is_refused(speech, work):
    with pytest.raises(FaceNotFound):
        LocalTalkingHead().render_speech(
            SpeechVideoRequest(
                photo=np.full((64, 64, 3), 128, np.uint8),
                audio=speech.path,
                phonemes=speech.phonemes,
                out_path=work / "noface.mp4",
            )
        )
    assert not (work / "noface.mp4").exists()


def test_motion_transfer_is_handed_to_the_transfer_module(monkeypatch, photo, face, work):
    calls = []
    monkeypatch.setattr(
        transfer,
        "transfer_motion",
        lambda request, progress: calls.append({**vars(request), "progress": progress}) or "video",
    )
    result = LocalTalkingHead().transfer_motion(
        MotionTransferRequest(
            photo=photo, driving_video=work / "driving.mp4", out_path=work / "out.mp4", face=face, preview=True
        )
    )
    assert result == "video"
    assert calls == [
        {
            "photo": photo,
            "driving_video": work / "driving.mp4",
            "out_path": work / "out.mp4",
            "face": face,
            "preview": True,
            "disclosure_label": False,
            "framing": "photo",
            "resolution": None,
            "progress": None,
        }
    ]


# --- what the frames show -------------------------------------------------------------------------


def test_the_mouth_opening_follows_the_loudness(measured, speech, frames):
    gaps, _ = measured
    samples, rate = decode_to_mono(speech.path)
    level_db = quality.loudness_db(samples, rate, len(frames), FPS)
    assert quality.pearson(gaps, level_db) >= 0.6  # about 0.7 on this sentence


def test_lips_close_on_m_b_p_and_in_silence_and_open_on_vowels(measured, photo_gap, speech, frames):
    gaps, _ = measured
    assert max(gaps[0], gaps[-1]) < photo_gap + 0.04  # silence at both ends: the photo's mouth
    bilabials = [t for t in speech.phonemes if t.phoneme in ("m", "b", "p")]
    vowels = [t for t in speech.phonemes if t.phoneme in OPEN_VOWELS and t.end - t.start >= 0.08]
    assert len(bilabials) >= 6 and len(vowels) >= 3
    for timing in bilabials:
        closest = min(gaps[i] for i in frames_around(timing.start, timing.end, len(frames)))
        assert closest < photo_gap + 0.04, timing
    for timing in vowels:
        widest = max(gaps[i] for i in frames_around(timing.start, timing.end, len(frames)))
        assert widest > photo_gap + 0.1, timing


def test_a_blink_closes_the_eyes(measured, motion):
    _, ears = measured
    shut = np.flatnonzero(motion.left_eye_closed >= 0.99)
    open_ = np.flatnonzero((motion.left_eye_closed == 0) & (motion.right_eye_closed == 0))
    assert len(shut) >= 1 and len(open_) > len(ears) / 2
    assert np.max(ears[shut]) < 0.7 * np.median(ears[open_])


def test_frames_away_from_the_face_stay_the_photo(frames, photo, face):
    rig = render.FaceRig(photo, face.landmarks)
    x0, y0, x1, y1 = rig.roi
    away = np.ones(photo.shape[:2], dtype=bool)
    away[max(0, y0 - 16) : y1 + 16, max(0, x0 - 16) : x1 + 16] = False  # codec blocks straddle the ROI
    first = frames[0][away].astype(int)
    assert np.abs(first - photo[away]).mean() < 4.0  # the photo, as yuv420p and H.264 at CRF 18 keep it
    # It does not flicker. x264's grain tuning refines the still texture over the first few P-frames
    # (0.1-0.3 levels on average), then only a few static pixels change slightly now and then (a tenth of a
    # level on average, up to 0.15 when the face moves most; untuned at CRF 20 it was under 0.1).
    for number, (before, after) in enumerate(zip(frames, frames[1:], strict=False)):
        change = np.abs(after[away].astype(int) - before[away])
        settled = number >= 8
        assert change.mean() < (0.25 if settled else 0.4) and np.mean(change > 3) < (0.005 if settled else 0.01)


def test_a_still_motion_reproduces_the_photo_exactly(kept_frames, photo, face, work):
    render.render_video(photo=photo, face=face, motion=FaceMotion.still(4), audio=None, out_path=work / "x.mp4")
    assert len(kept_frames) == 4
    for frame in kept_frames:
        np.testing.assert_array_equal(frame, photo)


def test_motion_changes_only_the_face_region_with_no_seam_and_no_flicker(kept_frames, photo, face, work):
    frames = 8
    held = [0, 0.3, 0.8, 0.8, 0.8, 0.8, 0.4, 0]  # frames 2-5 hold one pose
    motion = still_motion(
        frames,
        jaw_open=held,
        mouth_width=np.multiply(held, 0.5),
        left_eye_closed=np.multiply(held, 1.2),
        right_eye_closed=held,
        head_yaw=np.multiply(held, 2),
        head_pitch=np.multiply(held, -1.5),
        head_roll=np.multiply(held, 2),
        head_dx=np.multiply(held, 0.02),
        head_dy=np.multiply(held, -0.02),
    )
    render.render_video(photo=photo, face=face, motion=motion, audio=None, out_path=work / "x.mp4")
    kept = kept_frames
    x0, y0, x1, y1 = render.FaceRig(photo, face.landmarks).roi
    height, width = photo.shape[:2]
    outside = np.ones((height, width), dtype=bool)
    # The ROI's own border rows and columns are outside too, except where they are the photo's edge (the hair
    # may reach it and moves with the head there).
    outside[y0 + (y0 > 0) : y1 - (y1 < height), x0 + (x0 > 0) : x1 - (x1 < width)] = False
    for frame in kept:
        np.testing.assert_array_equal(frame[outside], photo[outside])
    np.testing.assert_array_equal(kept[0], photo)
    for frame in kept[3:6]:
        np.testing.assert_array_equal(frame, kept[2])
    # Inside the region the face really moves, and the motion fades out before the border: pixels a
    # few rows in have barely moved (a seam would be a jump there).
    assert np.abs(kept[2].astype(int) - photo).max() > 100
    band = np.zeros(photo.shape[:2], dtype=bool)  # a few rows inside the ROI's borders (not the photo's edge)
    band[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = True
    band[y0 + 5 : y1 - 5, x0 + 5 : x1 - 5] = False
    band[: max(y0, 5)] = band[min(y1, height - 5) :] = False
    band[:, : max(x0, 5)] = band[:, min(x1, width - 5) :] = False
    assert np.abs(kept[2][band].astype(int) - photo[band]).mean() < 2.0


def test_neutral_mouth_and_open_eyes_keep_the_photo_but_an_open_jaw_shows_a_dark_mouth(kept_frames, photo, face, work):
    render.render_video(
        photo=photo, face=face, motion=still_motion(2, jaw_open=[0, 1]), audio=None, out_path=work / "x.mp4"
    )
    still, open_ = kept_frames
    np.testing.assert_array_equal(still, photo)
    lm = face.landmarks
    # The middle of the mouth, a little under the upper teeth: dark now, and reddish (from the lips).
    x = int(round(lm[62][0]))
    column = open_[int(lm[62][1]) : int(lm[66][1]) + 20, x].astype(int)
    darkest = column[np.argmin(column.sum(axis=1))]
    assert darkest.sum() < 0.4 * photo[int(lm[62][1]) + 2, x].astype(int).sum()
    assert darkest[0] > darkest[2]
    # The upper teeth the photo shows are still there, right under the upper lip.
    teeth_row = open_[int(lm[62][1]) + 2, x - 3 : x + 4].astype(int)
    assert teeth_row.mean() > 170


# --- the speech driver ------------------------------------------------------------------------------


def test_visemes_close_on_bilabials_and_open_more_on_open_vowels():
    assert viseme("m")[0] == viseme("b")[0] == viseme("p")[0] == 0.0
    for pause in ("_", " ", ",", ".", "", "?"):
        assert viseme(pause) == (0.0, 0.0)
    assert viseme("ɑː")[0] > viseme("ə")[0] > viseme("f")[0] > 0
    assert viseme("a")[0] > viseme("ɪ")[0] and viseme("æ")[0] > viseme("i")[0]
    assert viseme("u")[1] < 0 and viseme("w")[1] < 0 and viseme("ʊ")[1] < 0 and viseme("o")[1] < 0
    assert viseme("i")[1] > 0 and viseme("e")[1] > 0 and viseme("ɪ")[1] > 0
    assert viseme("aɪ") == viseme("a")  # a diphthong starts as its first vowel


def test_speech_motion_is_closed_in_silence_and_blinks_fully_for_150_to_250_ms(motion, speech):
    assert motion.fps == FPS and motion.frames == round(speech.duration * FPS)
    assert speech.phonemes[0].phoneme == speech.phonemes[-1].phoneme == "_"
    assert motion.jaw_open[0] == 0.0 and motion.jaw_open[-1] == 0.0
    assert 0.0 <= motion.jaw_open.min() and motion.jaw_open.max() <= 1.0
    eyes = motion.left_eye_closed
    blinking = np.flatnonzero(eyes > 0.05)
    assert len(blinking) >= 3 and eyes.max() == 1.0
    run = np.split(blinking, np.flatnonzero(np.diff(blinking) > 1) + 1)[0]
    assert 3 <= len(run) <= 7  # 120–280 ms at 25 fps
    for name in ("head_yaw", "head_pitch", "head_roll"):
        track = getattr(motion, name)
        assert np.abs(track).max() < 3.0  # a degree or two
        assert np.abs(np.diff(track)).max() < 0.25  # smooth: no jumps from frame to frame


def test_head_motion_keeps_the_faces_detail(photo, face):
    # The head warp resamples the whole face every frame; bilinear kept 0.67x of its detail at worst, Lanczos
    # 0.92x, bicubic from the doubled copy about 1.0x.
    frame, landmarks = render.fit_photo(photo, np.asarray(face.landmarks, dtype=np.float32), render.MAX_SIDE)
    rig = render.FaceRig(frame, landmarks)
    still = {name: 0.0 for name in (*rig.head_x, *rig.head_y)}
    kept = [
        quality.detail(rig.render(0.0, 0.0, {}, {**still, "yaw": yaw, "roll": roll})) / quality.detail(rig.photo_roi)
        for yaw, roll in [(2.5, 0.0), (-2.0, 1.5), (1.0, -2.0), (3.0, 2.0)]
    ]
    assert min(kept) >= 0.93, kept


# --- how it looks, measured on the engine's frames (docs/VIDEO.md's targets) -------------------------------------
# A closed-mouth portrait (OpenPeople's synthetic P001, the demo person) speaking rounded, spread and open vowels.

LIPS_TEXT = "Who knew you would choose the blue moon? Keep each green tree neat. Papa opened the far barn."


@pytest.fixture(scope="module")
def neutral_photo() -> np.ndarray:
    return quality.portrait("neutral")


@pytest.fixture(scope="module")
def neutral_face(neutral_photo) -> Face:
    return analyze_face(neutral_photo, embed=False)


@pytest.fixture(scope="module")
def lips_speech(work):
    return PiperSpeech().synthesize(text=LIPS_TEXT, voice=VoiceProfile(), out_dir=work)


@pytest.fixture(scope="module")
def neutral_frames(neutral_photo, neutral_face, lips_speech, work) -> list[np.ndarray]:
    request = SpeechVideoRequest(
        photo=neutral_photo,
        audio=lips_speech.path,
        phonemes=lips_speech.phonemes,
        out_path=work / "neutral.mp4",
        face=neutral_face,
        seed=SEED,
    )
    return decoded(LocalTalkingHead().render_speech(request).path)


@pytest.fixture(scope="module")
def neutral_measured(neutral_frames, neutral_photo, neutral_face) -> quality.FrameMeasures:
    return quality.measure_frames(neutral_frames, photo=neutral_photo, box=neutral_face.box)


def test_an_open_mouth_is_a_shaded_cavity_not_a_near_black_fill(
    frames, photo, face, neutral_frames, neutral_photo, neutral_face, neutral_measured
):
    # The flat fill this replaced measured 20% (the astronaut) to 36% (a broad smile); the target is 15%.
    clips = [
        (quality.measure_frames(frames, photo=photo, box=face.box), quality.photo_mouth(photo, face.box)[0]),
        (neutral_measured, quality.photo_mouth(neutral_photo, neutral_face.box)[0]),
    ]
    for measured, photo_gap in clips:
        assert np.count_nonzero(measured.gap >= photo_gap + quality.OPEN_GAP) >= 8  # the mouth does open
        assert quality.near_black_share(measured, photo_gap) <= 0.1


def test_the_cavity_is_textured_like_tissue(kept_frames, photo, face, neutral_photo, work):
    # Raw frames: H.264 smooths fine grain away. The flat, smoothly shaded fill measured 0.002 to 0.017.
    neutral_face = analyze_face(neutral_photo, embed=False)
    for picture, portrait_face in ((photo, face), (neutral_photo, neutral_face)):
        render.render_video(
            photo=picture,
            face=portrait_face,
            motion=still_motion(1, jaw_open=[1.0]),
            audio=None,
            out_path=work / "x.mp4",
        )
        (frame,) = kept_frames
        assert quality.cavity_texture(frame, landmarks_in_box(frame, portrait_face.box)) >= 0.025


def test_lips_round_on_oo_and_spread_on_ee(neutral_measured, neutral_photo, neutral_face, lips_speech, neutral_frames):
    _, photo_width = quality.photo_mouth(neutral_photo, neutral_face.box)
    samples, rate = decode_to_mono(lips_speech.path)
    speaking = loudness(samples, rate, frames=len(neutral_frames)) > 0
    narrowest, widest = quality.width_range(neutral_measured, photo_width, speaking)
    # Before: -6% and +14%. About -19% and +20% now; the 20% target gives way to the identity
    # distance's 0.35 (docs/VIDEO.md), and dlib's corners wander a percent or two from run to run.
    assert narrowest <= -0.16 and widest >= 0.16, (narrowest, widest)
    relative = neutral_measured.width / photo_width - 1.0
    count = len(neutral_frames)

    def width_during(vowel: str) -> float:
        shown = [i for t in lips_speech.phonemes if t.phoneme == vowel for i in frames_around(t.start, t.end, count)]
        return float(np.median(relative[shown]))

    assert width_during("uː") <= -0.12 and width_during("iː") >= 0.12


def test_every_frame_stays_the_photos_person(frames, photo, face, neutral_frames, neutral_photo, neutral_face):
    # dlib's identity distance to the photo, every second frame (the same person: under 0.6). The target is a worst
    # frame of 0.35; bench/media_quality.py measures 0.33-0.34 on the neutral face, but Piper's random timing
    # sometimes puts a wide vowel on a frame dlib reads worse, so the test holds 95% of frames to 0.35 and the
    # worst to 0.40.
    for clip, picture, box in ((frames, photo, face.box), (neutral_frames, neutral_photo, neutral_face.box)):
        distances = quality.identity_distances(clip[::2], photo=picture, box=box)
        assert np.percentile(distances, 95) <= 0.35, np.percentile(distances, 95)
        assert distances.max() <= 0.40, (distances.max(), int(np.argmax(distances)) * 2)


# --- one resampling, and a lid that closes --------------------------------------------------------

SWAY = {"yaw": 1.3, "pitch": -0.7, "roll": 0.8, "dx": 0.003, "dy": -0.002}  # a typical frame's head pose


def posed(photo: np.ndarray, face: Face, *, jaw=0.0, width=0.0, closed=0.0, head=SWAY, relax=0.0) -> np.ndarray:
    """The whole picture of one frame in the given pose, as the renderer draws it (no encoder)."""
    frame, landmarks = render.fit_photo(photo, np.asarray(face.landmarks, dtype=np.float32), render.MAX_SIDE)
    rig = render.FaceRig(frame, landmarks)
    x0, y0, x1, y1 = rig.roi
    frame = frame.copy()
    frame[y0:y1, x0:x1] = rig.render(jaw, width, {"left": closed, "right": closed}, head, smile_relax=relax)
    return frame


def test_a_smile_with_teeth_rounds_and_spreads_its_lips_and_stays_its_person():
    # The selfie's broad smile, let go as speech lets it go, at the speech's most rounded "oo" and most spread "ee".
    # Before, the fold beside each corner stayed where the corner had been and dlib read the corner there: the
    # rounded mouth read +3.3% (wider), the spread one +4.6%. Now -8.7% and +7.2%, identity 0.23-0.24.
    photo = quality.portrait("smiling")
    face = analyze_face(photo, embed=False)
    _, photo_width = quality.photo_mouth(photo, face.box)
    rounded, spread = (posed(photo, face, width=width, relax=1.0) for width in (-0.8, 0.7))
    widths = quality.measure_frames([rounded, spread], photo=photo, box=face.box).width / photo_width - 1.0
    assert widths[0] <= -0.06 and widths[1] >= 0.05, widths
    assert quality.identity_distances([rounded, spread], photo=photo, box=face.box).max() <= 0.3
    # The lips close over the teeth, which keep their size: the upper teeth's middle (a fifth of the mouth's width
    # each side) is the let-go smile's own, where the rounding squeezed it by 4.2 levels on average before.
    lm = np.asarray(face.landmarks)
    top, middle, span = int(lm[62][1]) + 2, int(lm[62][0]), int(0.2 * np.linalg.norm(lm[54] - lm[48]))
    teeth = (slice(top, top + 6), slice(middle - span, middle + span))
    let_go = posed(photo, face, relax=1.0)
    assert np.abs(rounded[teeth].astype(int) - let_go[teeth].astype(int)).mean() < 1.0


def test_the_mouth_and_the_head_warps_resample_the_photo_once(neutral_photo, neutral_face):
    # The mouth warped bilinearly and then again by the head's Lanczos kept 0.78-0.81x of the face's
    # high-frequency energy in these poses; one Lanczos pass through the composed map kept 0.85-0.88x, one
    # bicubic pass from the doubled copy keeps about 1.0x.
    face_box = quality.regions(neutral_face.landmarks)["face"]
    photo_detail = quality.detail(quality.crop(neutral_photo, face_box))
    kept = [
        quality.detail(quality.crop(posed(neutral_photo, neutral_face, jaw=jaw, width=width), face_box)) / photo_detail
        for jaw, width in ((0.6, 0.6), (0.4, -0.8))
    ]
    assert np.mean(kept) >= 0.93, kept


def test_the_doubled_copy_is_the_photo_at_whole_pixels_and_the_band_limited_picture_between():
    rows, cols = np.mgrid[0:61, 0:80].astype(np.float64)

    def stripes(y, x):  # fine stripes, 3.3 and 2.7 pixels a period: what a short kernel smooths away
        return 128 + 60 * np.sin(2 * np.pi * (x / 3.3 + y / 7.1)) + 40 * np.cos(2 * np.pi * y / 2.7)

    image = np.round(np.repeat(stripes(rows, cols)[..., None], 3, axis=2)).astype(np.uint8)
    doubled = render.doubled(image)
    assert doubled.shape == (122, 160, 3)
    assert np.array_equal(doubled[::2, ::2], image)
    between = stripes(rows[:-1, :-1] + 0.5, cols[:-1, :-1] + 0.5)
    inside = (slice(4, -4), slice(4, -4))  # the stripes do not repeat at the picture's size: its edges ring
    assert np.abs(doubled[1:-2:2, 1:-2:2, 0].astype(np.float64) - between)[inside].mean() < 1.5


def test_the_quartered_picture_read_bilinear_is_the_bicubic_read(photo, face):
    # A photo scaled up for the video is read bicubic; OpenCV's bicubic remap is 4.6x slower than its bilinear
    # one, so the bicubic picture is sampled at quarter pixels once and read bilinear between the samples.
    import cv2

    rig = render.FaceRig(*render.frame_photo(photo, face.landmarks, framing="head_and_shoulders", resolution=720))
    assert rig.read_scale == 1 and not rig.read_bicubic
    quartered = render.quartered(rig.photo_roi)
    height, width = rig.photo_roi.shape[:2]
    assert quartered.shape == (4 * height, 4 * width, 3)
    assert np.array_equal(quartered[::4, ::4], rig.photo_roi)
    for dx, dy in ((0.25, 0.5), (0.125, 0.375), (0.3, 0.7)):
        x, y = rig.grid_x + np.float32(dx), rig.grid_y + np.float32(dy)
        bicubic = cv2.remap(rig.photo_roi, x, y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE).astype(int)
        difference = np.abs(rig.read(x, y) - bicubic)
        assert difference.mean() < 0.25 and difference.max() <= 4, (dx, dy, difference.mean(), difference.max())
        box = quality.regions(rig.lm)["eyes"]
        kept = quality.detail(quality.crop(rig.read(x, y), box)) / quality.detail(
            quality.crop(bicubic.astype(np.uint8), box)
        )
        assert kept >= 0.97, (dx, dy, kept)
    np.testing.assert_array_equal(rig.read(rig.grid_x + 3, rig.grid_y - 2)[10:-10, 10:-10], rig.photo_roi[8:-12, 13:-7])


def test_sharp_eyes_keep_their_detail_between_pixels(neutral_photo, neutral_face):
    # The smiling selfie's brows and lashes are sharp to the pixel: read half a pixel off on both axes, Lanczos
    # kept 0.60x of the eyes' high-frequency energy (0.85x half a pixel off on one axis), bicubic 0.41x; the
    # doubled copy keeps 0.96x. Its ten sentences' MP4s lost the 0.80x target on the eyes by that loss.
    for picture in (quality.portrait("smiling"), neutral_photo):
        portrait_face = neutral_face if picture is neutral_photo else analyze_face(picture, embed=False)
        frame, landmarks = render.fit_photo(picture, np.asarray(portrait_face.landmarks, np.float32), render.MAX_SIDE)
        rig = render.FaceRig(frame, landmarks)
        assert rig.read_scale == 2
        boxes = quality.regions(rig.lm)
        half_pixel = {"dx": 0.5 / rig.face_width, "dy": 0.5 / rig.face_width}
        moved = rig.render(0.0, 0.0, {}, half_pixel)
        for name in ("face", "eyes"):
            kept = quality.detail(quality.crop(moved, boxes[name])) / quality.detail(
                quality.crop(rig.photo_roi, boxes[name])
            )
            assert kept >= 0.9, (name, kept)


def test_a_blink_brings_the_lid_down_over_the_eye(photo, face, neutral_photo, neutral_face):
    # The lid's skin covers the iris: 0.87 (neutral) and 0.70 (astronaut) of the way from the iris's
    # darkness to the lid's skin; the stretched skin this replaced reached 0.65 and 0.47.
    shut_covers = []
    for picture, portrait_face in ((photo, face), (neutral_photo, neutral_face)):
        shut = posed(picture, portrait_face, closed=1.0, head={})  # the photo's pose: its irises stay in place
        half = posed(picture, portrait_face, closed=0.5, head={})
        shut_covers.append(quality.lid_cover(picture, shut, portrait_face.landmarks))
        half_cover = quality.lid_cover(picture, half, portrait_face.landmarks)
        assert 0.2 <= half_cover <= shut_covers[-1] - 0.15, (half_cover, shut_covers[-1])  # it comes down gradually
        # Nothing smeared or ghosted: a shut frame is as much the photo's person as a speaking one (0.21-0.25).
        assert quality.identity_distances([shut], photo=picture, box=portrait_face.box)[0] <= 0.3
    assert np.mean(shut_covers) >= 0.7, shut_covers


def test_the_video_keeps_the_faces_detail(neutral_measured):
    # x264 at CRF 20 kept 0.53x (face) and 0.57x (eyes) of this photo's high-frequency energy; its grain
    # tuning at CRF 18 after a single Lanczos resampling 0.84x and 0.82x, after a bicubic read of the doubled
    # copy about 1.0x (bench/media_quality.py; the targets are 0.85x and 0.80x).
    face_detail, eyes_detail = neutral_measured.face_detail.mean(), neutral_measured.eyes_detail.mean()
    assert face_detail >= 0.9 and eyes_detail >= 0.88, (face_detail, eyes_detail)


# --- framing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [720, 1080])
def test_head_and_shoulders_framing_crops_around_the_face_at_the_resolution_asked(photo, face, work, resolution):
    # The astronaut's face is 90 px of 512: framed, it fills about a third of a 720 or 1080 px square.
    motion = still_motion(3, jaw_open=[0, 0.6, 0], head_yaw=[0, 1.5, 0])
    video = render.render_video(
        photo=photo,
        face=face,
        motion=motion,
        audio=None,
        out_path=work / f"framed-{resolution}.mp4",
        framing="head_and_shoulders",
        resolution=resolution,
    )
    assert (video.width, video.height, video.frames) == (resolution, resolution, 3)
    first = decoded(video.path)[0]
    assert first.shape == (resolution, resolution, 3)
    found = analyze_face(first, embed=False)
    left, top, right, bottom = found.box
    assert 0.22 <= (right - left) / resolution <= 0.4  # dlib's box is a little narrower than the landmarks
    assert abs((left + right) / 2 - resolution / 2) < 0.08 * resolution
    # The face keeps its person: framing scales the photo once, it does not distort it.
    distance = np.linalg.norm(quality.embedding(first, found.box) - quality.embedding(photo, face.box))
    assert distance <= 0.2, distance


def test_an_unknown_framing_or_resolution_is_refused(photo, face, work):
    for options in ({"framing": "full_body"}, {"resolution": 4320}):
        with pytest.raises(EngineError):
            render.render_video(
                photo=photo, face=face, motion=still_motion(1), audio=None, out_path=work / "x.mp4", **options
            )


# --- a head that rolls on its neck, and the read that fits the picture ------------------------------------


@pytest.mark.parametrize("roll", [10.0, -10.0])
def test_a_head_rolled_ten_degrees_turns_as_one_piece_on_a_still_collar(photo, face, neutral_photo, neutral_face, roll):
    # Before, the head's weight fell off a third of a face width outside a tight arc, about a pivot under the
    # chin: at ±10° the astronaut's hair tore away from her head (dlib read -16° for +10°, her hair 56 levels
    # off the head turned as one piece) and her suit's ring bent. Now the head and its hair turn together
    # about the top of the neck (hair 1.5-6.8 levels off on these two photos), the neck bends and the collar
    # is the photo's own pixels. The hair's error grows with the detail a read keeps (the fitted turn is a
    # fraction of a pixel off the warp's, and sharper texture differs more for it): the astronaut at -10° reads
    # 5.7 levels bicubic, 5.9 Lanczos, 6.8 from the doubled copy, against 56 when the hair tore.
    for picture, portrait_face in ((photo, face), (neutral_photo, neutral_face)):
        frame, landmarks = render.frame_photo(
            picture, np.asarray(portrait_face.landmarks, dtype=np.float32), framing="head_and_shoulders"
        )
        rolled = posed(frame, analyze_face(frame, embed=False), head={"roll": roll})
        framed_face = analyze_face(frame, embed=False)
        measured = quality.roll_measures(frame, rolled, framed_face.landmarks, framed_face.box)
        assert abs(measured.roll - roll) < 1.0, measured
        assert measured.collar_change < 0.5, measured
        assert measured.hair_error < 8.0, measured


def test_a_photo_scaled_up_for_the_video_is_read_as_it_is_and_keeps_its_detail(photo, face):
    # The doubled copy keeps detail near the pixel's own scale; a photo scaled up 2.5x has none, and bicubic
    # reads the photo itself 2x faster with as much kept (1.05x in a typical pose). The photo at its own size
    # is read from the doubled copy (bicubic from the photo would keep 0.81x of its face's detail).
    landmarks = np.asarray(face.landmarks, dtype=np.float32)
    own = render.FaceRig(*render.fit_photo(photo, landmarks, render.MAX_SIDE))
    framed = render.FaceRig(*render.frame_photo(photo, landmarks, framing="head_and_shoulders", resolution=720))
    assert own.read_scale == 2 and framed.read_scale == 1
    box = quality.regions(framed.lm)["face"]
    kept = quality.detail(quality.crop(framed.render(0.0, 0.0, {}, SWAY), box)) / quality.detail(
        quality.crop(framed.photo_roi, box)
    )
    assert kept >= 0.95, kept
