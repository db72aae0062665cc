"""The live page in a real browser: headless Chromium talks with a replica through `conversation_url`.

Chromium's fake microphone plays a WAV of Piper asking a question; the page sends it over WebRTC to the live
process (running in a thread of the test, as in test_live.py), shows both sides' captions, plays the replica's
video and voice, and the turn is stored. Skipped where Chromium and its driver are not installed
(`apt-get install chromium chromium-driver`; `.ci/run` installs them).
"""

import time
from pathlib import Path

import numpy as np
import pytest

from knowledge.live.client import SAMPLE_RATE
from knowledge.models import Conversation
from tests import factories
from tests.dialects.bhuman.test_knowledge import embeddings_cached  # noqa: F401  (autouse)
from tests.helpers import wav_bytes
from tests.knowledge.live_helpers import speech

selenium = pytest.importorskip("selenium", reason="selenium is not installed")

from selenium.common.exceptions import TimeoutException  # noqa: E402  (after the skip above)
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from tests.platform.conftest import CHROMEDRIVER, CHROMIUM, chromium  # noqa: E402

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Chromium and chromedriver are not installed")

QUESTION = "How much is delivery to Canada?"
# Chromium starts playing the file when the page asks for the microphone, before the call is connected, and loops
# it. The lead-in covers connecting (the replica loads while the offer is answered); the tail outlasts the answer,
# so the question is asked once, or once more a loop later if connecting took longer than the lead-in.
LEAD_IN_SECONDS, TAIL_SECONDS = 6.0, 40.0
ANSWER_TIMEOUT = 2 * (LEAD_IN_SECONDS + TAIL_SECONDS) + 30

# The replica's voice as the page receives it: the loudest 50 ms (RMS) of the remote audio track, from Web Audio.
LISTEN = """
const video = document.getElementById("replica");
const context = new AudioContext();
const analyser = context.createAnalyser();
context.createMediaStreamSource(new MediaStream(video.srcObject.getAudioTracks())).connect(analyser);
const samples = new Float32Array(analyser.fftSize);
window.replicaAudio = {peak: 0, loud: 0};
setInterval(() => {
  analyser.getFloatTimeDomainData(samples);
  const rms = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
  window.replicaAudio.peak = Math.max(window.replicaAudio.peak, rms);
  if (rms > 0.02) window.replicaAudio.loud += 1;
}, 50);
return context.state;
"""
CAPTIONS = """
return [...document.querySelectorAll("#captions li")].map((li) => ({
  who: li.className, done: li.dataset.done === "true", text: li.querySelector(".text").textContent,
  sources: li.querySelector(".sources") ? li.querySelector(".sources").textContent : "",
}));
"""


@pytest.fixture
def question_wav(tmp_path) -> Path:
    """The question between silences, as Chromium's fake capture reads it: 16-bit PCM WAV, 48 kHz mono."""
    said = speech(QUESTION).astype(np.float64) / 32767
    silence = np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE)), np.zeros(int(TAIL_SECONDS * SAMPLE_RATE))
    path = tmp_path / "question.wav"
    path.write_bytes(wav_bytes(np.concatenate([silence[0], said, silence[1]]), rate=SAMPLE_RATE))
    return path


@pytest.fixture
def browser(question_wav):
    with chromium(
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={question_wav}",
        "--autoplay-policy=no-user-gesture-required",
        window="1280,800",
        logs=True,
    ) as driver:
        yield driver


def answered(captions: list[dict]) -> bool:
    return any(c["who"] == "you" for c in captions) and any(
        c["who"] == "replica" and c["done"] and "£14" in c["text"] for c in captions
    )


def test_the_page_hears_a_spoken_question_and_shows_and_plays_the_answer(api_client, replica, browser):
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    browser.get(created["conversation_url"])
    WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script("return document.body.dataset.state") == "connected",
        "the page did not connect",
    )
    assert browser.execute_script(LISTEN) == "running"

    # The replica's video plays: frames of its size, and time goes on.
    WebDriverWait(browser, 15).until(lambda driver: driver.execute_script(
        "const v = document.getElementById('replica'); return v.videoWidth > 0 && v.readyState >= 2 && !v.paused"
    ), "the replica's video does not play")  # fmt: skip
    started = browser.execute_script("return document.getElementById('replica').currentTime")
    time.sleep(1.0)
    assert browser.execute_script("return document.getElementById('replica').currentTime") >= started + 0.5
    assert browser.execute_script("return document.getElementById('replica').videoWidth") >= 128

    # The spoken question gets captions on both sides, and the answer comes from the delivery page.
    try:
        WebDriverWait(browser, ANSWER_TIMEOUT, poll_frequency=0.5).until(
            lambda driver: answered(driver.execute_script(CAPTIONS))
        )
    except TimeoutException:
        logs = [entry["message"] for entry in browser.get_log("browser")]
        pytest.fail(f"no answer: {browser.execute_script(CAPTIONS)}; status: "
                    f"{browser.execute_script('return document.getElementById(`status`).textContent')}; {logs}")  # fmt: skip
    captions = browser.execute_script(CAPTIONS)
    at = next(i for i, c in enumerate(captions) if c["who"] == "replica" and c["done"] and "£14" in c["text"])
    question = next(c for c in reversed(captions[:at]) if c["who"] == "you")
    assert question["done"] and "canada" in question["text"].lower(), captions
    assert "Delivery and shipping" in captions[at]["sources"] and "Sources:" not in captions[at]["text"], captions
    assert "connected" in browser.execute_script("return document.getElementById('status').textContent").lower()

    # It was heard as well as read: the replica's voice reached the page's audio.
    heard = browser.execute_script("return window.replicaAudio")
    assert heard["peak"] > 0.05 and heard["loud"] >= 20, heard  # a second and more of speech, in 50 ms windows
    assert browser.execute_script("return document.getElementById('replica').currentTime") > started + 3

    # The turn is stored as the conversation's messages: the question, then the answer with its sources.
    messages = list(Conversation.objects.get(pk=created["id"]).messages.order_by("created_at", "id"))
    at = next(i for i, m in enumerate(messages) if m.role == "assistant" and "£14" in m.content)
    assert at > 0 and messages[at].citations, messages
    assert messages[at - 1].role == "user" and "canada" in messages[at - 1].content.lower(), messages


@pytest.fixture
def browser_without_microphone():
    """Chromium whose visitor refuses the microphone (every permission prompt is answered "block")."""
    with chromium("--use-fake-device-for-media-stream", "--deny-permission-prompts", window="1280,800") as driver:
        yield driver


def test_a_refused_microphone_is_said_plainly_and_the_visitor_can_type(
    api_client, workspace, live_process, browser_without_microphone
):
    browser = browser_without_microphone
    person = factories.person_create(workspace=workspace, name="Maya")  # no knowledge needed: nothing is asked
    created = api_client.post("/v1/conversations", {"replica_id": str(person.pk)}, format="json").json()
    browser.get(created["conversation_url"])
    WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script("return document.body.dataset.state") == "connected",
        "the page did not connect without a microphone",
    )
    time.sleep(0.5)  # the connection's own state change, which comes about when the channel opens
    status = browser.execute_script("return document.getElementById('status').textContent")
    assert "The microphone is not available (it was refused): type your questions below." in status, status
    assert browser.execute_script("return document.getElementById('mute').disabled")
    assert browser.execute_script("return document.activeElement.id") == "text"  # the typing box, ready
