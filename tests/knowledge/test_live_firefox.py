"""The live page in Firefox: a visitor types a question to a replica through `conversation_url`, headless.

Firefox's fake microphone is a tone, not a recording, so here the visitor types (the page's fallback); the spoken
path stays with test_live_browser.py (Chromium) and test_live.py. The page connects over WebRTC to the live process
(in a thread of the test), shows both sides' captions, plays the replica's video and voice, and the turn is stored.
Skipped where Firefox is not installed (`apt-get install firefox-esr`; `.ci/run` installs it).
"""

import pytest

from knowledge.models import Conversation
from tests.dialects.bhuman.test_knowledge import embeddings_cached  # noqa: F401  (autouse)
from tests.knowledge.test_live_browser import CAPTIONS, LISTEN, answered
from tests.platform.conftest import FIREFOX, firefox_fixture  # noqa: F401  (the `firefox` fixture)

pytest.importorskip("marionette_driver", reason="marionette-driver is not installed")
pytestmark = pytest.mark.skipif(not FIREFOX, reason="Firefox is not installed (apt-get install firefox-esr)")

from marionette_driver.by import By  # noqa: E402  (after the skip above)
from marionette_driver.errors import TimeoutException  # noqa: E402
from marionette_driver.wait import Wait  # noqa: E402

QUESTION = "How much is delivery to Canada?"
# What the replica's video element has shown so far: the frames Firefox painted, on the page's clock. (Its
# playback-quality counters stay at zero for a MediaStream, and `currentTime` follows the audio clock, which the
# stand-in sound card runs slower than real time.)
VIDEO = """
const video = document.getElementById("replica");
return {frames: video.mozPaintedFrames, clock: performance.now() / 1000, width: video.videoWidth,
  paused: video.paused, muted: video.muted, sound: !document.getElementById("sound").hidden};
"""


def test_firefox_shows_plays_and_stores_the_answer_to_a_typed_question(api_client, replica, firefox):
    created = api_client.post("/v1/conversations", {"replica_id": str(replica.pk)}, format="json").json()
    firefox.navigate(created["conversation_url"])
    Wait(firefox, timeout=30).until(
        lambda driver: driver.execute_script("return document.body.dataset.state") == "connected",
        message="the page did not connect",
    )
    # Until the visitor uses the page, Firefox plays the face without its sound, and the page offers the sound.
    Wait(firefox, timeout=15).until(
        lambda driver: driver.execute_script(VIDEO)["frames"] > 0, message="no video frames"
    )
    before = firefox.execute_script(VIDEO)
    assert before["width"] >= 128 and not before["paused"] and before["muted"] and before["sound"], before

    firefox.find_element(By.ID, "text").send_keys(QUESTION)
    firefox.find_element(By.ID, "send").click()
    firefox.execute_script(LISTEN, sandbox=None)  # in the page's own scope, where it keeps its counters
    try:
        Wait(firefox, timeout=90, interval=0.5).until(lambda driver: answered(driver.execute_script(CAPTIONS)))
    except TimeoutException:
        pytest.fail(f"no answer: {firefox.execute_script(CAPTIONS)}; {firefox.execute_script(VIDEO)}; status: "
                    f"{firefox.execute_script('return document.getElementById(`status`).textContent')}")  # fmt: skip

    # Both sides' captions, the answer from the delivery page with its source listed once.
    captions = firefox.execute_script(CAPTIONS)
    assert captions[0] == {"who": "you", "done": True, "text": QUESTION, "sources": ""}, captions
    assert "£14" in captions[1]["text"] and "Sources:" not in captions[1]["text"], captions
    assert "Delivery and shipping" in captions[1]["sources"], captions

    # The face went on at the renderer's 25 fps, and the sending turned the sound on: the replica was heard.
    after = firefox.execute_script(VIDEO)
    assert not after["paused"] and not after["muted"] and not after["sound"], after
    fps = (after["frames"] - before["frames"]) / (after["clock"] - before["clock"])
    assert 20 <= fps <= 26, (fps, before, after)  # a margin below for a busy machine
    heard = firefox.execute_script("return window.replicaAudio", sandbox=None)
    assert heard["peak"] > 0.05 and heard["loud"] >= 20, heard  # a second and more of speech, in 50 ms windows

    # The turn is stored as the conversation's messages: the question, then the answer with its sources.
    messages = list(Conversation.objects.get(pk=created["id"]).messages.order_by("created_at", "id"))
    assert [m.role for m in messages] == ["user", "assistant"], messages
    assert messages[0].content == QUESTION and "£14" in messages[1].content and messages[1].citations, messages
