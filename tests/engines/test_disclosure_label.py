"""The visible disclosure: a small "AI-generated" label burned into the bottom-right corner of every frame, the
video otherwise the same (the same frames, the same pixels elsewhere)."""

import av
import numpy as np
import pytest
from skimage import data

from media_jobs.engines.base import SpeechVideoRequest, VoiceProfile
from media_jobs.engines.face import analyze_face
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.engines.talking_head import LocalTalkingHead
from media_jobs.engines.talking_head.disclosure import DisclosureLabel


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[bool, list[np.ndarray]]:
    """The same speech rendered (preview, 256 px) with and without the label, decoded."""
    work = tmp_path_factory.mktemp("disclosure")
    photo = data.astronaut()
    face = analyze_face(photo, embed=False)
    speech = PiperSpeech().synthesize(text="Hello, nice to meet you.", voice=VoiceProfile(), out_dir=work)
    decoded = {}
    for label in (False, True):
        request = SpeechVideoRequest(
            photo=photo, face=face, audio=speech.path, phonemes=speech.phonemes, out_path=work / f"{label}.mp4",
            preview=True, seed=3, disclosure_label=label,
        )  # fmt: skip
        video = LocalTalkingHead().render_speech(request)
        with av.open(str(video.path)) as container:
            decoded[label] = [
                frame.to_ndarray(format="rgb24").astype(np.float32) for frame in container.decode(video=0)
            ]
    return decoded


def test_the_label_changes_the_corner_of_every_frame_and_nothing_else(videos):
    plain, labelled = videos[False], videos[True]
    x0, y0, x1, y1 = DisclosureLabel(width=256, height=256).box

    assert len(plain) == len(labelled) > 20
    for before, after in zip(plain, labelled, strict=True):
        inside = np.abs(after[y0:y1, x0:x1] - before[y0:y1, x0:x1]).mean()
        outside = np.abs(after - before)
        outside[max(0, y0 - 8) : y1 + 8, max(0, x0 - 8) : x1 + 8] = 0  # H.264 blocks touching the label
        assert inside > 30 and outside.mean() < 0.5, (inside, outside.mean())


def test_the_label_is_small_and_legible_in_the_corner():
    for side in (256, 512, 1024):
        x0, y0, x1, y1 = DisclosureLabel(width=side, height=side).box
        assert 0 < side - x1 <= 0.01 * side + 2 and 0 < side - y1 <= 0.01 * side + 2  # the bottom-right corner
        assert x0 > side / 2 and (x1 - x0) * (y1 - y0) < 0.05 * side * side  # small: a corner, not a banner
        assert y1 - y0 >= 14  # letters of at least 10 px with their padding


def test_the_frame_buffer_is_left_as_it_was():
    frame = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    before = frame.copy()
    label = DisclosureLabel(width=512, height=512)

    with label.drawn_on(frame) as drawn:
        x0, y0, x1, y1 = label.box
        letters = drawn[y0:y1, x0:x1]
        assert (letters >= 200).all(axis=2).sum() > 100  # white letters: the dark box keeps the rest under 120
        assert not np.array_equal(drawn, before)

    assert np.array_equal(frame, before)
