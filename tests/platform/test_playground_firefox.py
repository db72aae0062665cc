"""The playground in Firefox (headless): a visitor pastes a key, makes a persona from a photo, and hears it speak.

The same walk as test_playground_browser.py (Chromium), without its screenshot. Skipped where Firefox is not
installed (`apt-get install firefox-esr`; `.ci/run` installs it).
"""

import pytest
from django.urls import reverse

from characters.models import Person
from tests import factories
from tests.platform.conftest import FIREFOX

pytest.importorskip("marionette_driver", reason="marionette-driver is not installed")
pytestmark = [
    pytest.mark.skipif(not FIREFOX, reason="Firefox is not installed (apt-get install firefox-esr)"),
    pytest.mark.django_db(transaction=True),
]

from marionette_driver.by import By  # noqa: E402  (after the skip above)
from marionette_driver.wait import Wait  # noqa: E402


def said(firefox, element_id: str, expected: str, timeout: float = 60) -> str:
    """The element's text once it says `expected`, or once it reports a problem."""
    Wait(firefox, timeout=timeout, interval=0.2).until(
        lambda driver: (
            expected in (element := driver.find_element(By.ID, element_id)).text
            or "problem" in element.get_attribute("class")
        ),
        message=f"#{element_id} never said {expected!r}",
    )
    text = firefox.find_element(By.ID, element_id).text
    assert expected in text, text
    return text


def test_firefox_takes_a_key_makes_a_persona_from_a_photo_and_plays_its_speech(
    firefox, live_server, workspace, raw_key, tmp_path
):
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(factories.image_bytes(portrait=True, size=(512, 512)))
    firefox.navigate(f"{live_server.url}{reverse('playground')}")

    firefox.find_element(By.ID, "api-key").send_keys(raw_key)
    firefox.find_element(By.ID, "use-key").click()
    said(firefox, "key-status", "Key accepted")
    assert firefox.execute_script("return sessionStorage.getItem('persona-platform.playground.key')") == raw_key

    firefox.find_element(By.ID, "new-name").send_keys("Ada Quill")
    firefox.find_element(By.ID, "new-photo").send_keys(str(photo))
    firefox.find_element(By.ID, "create").click()
    said(firefox, "persona-status", "Ada Quill is ready.")
    person = Person.objects.get(workspace=workspace, name="Ada Quill")
    assert firefox.execute_script("return document.getElementById('replica').value") == str(person.pk)

    firefox.find_element(By.ID, "speech-text").clear()
    firefox.find_element(By.ID, "speech-text").send_keys("Welcome to the bakery.")
    firefox.find_element(By.ID, "speak").click()
    said(firefox, "speech-status", "Ready", timeout=120)
    audio = firefox.execute_script(
        "const a = document.getElementById('speech-audio'); return {duration: a.duration, hidden: a.hidden}"
    )
    assert not audio["hidden"] and audio["duration"] > 0.8, audio
