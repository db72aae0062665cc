"""The playground in a real browser (headless Chromium): a visitor pastes a key, makes a persona, hears it speak.

Set ADMIN_SCREENSHOTS_DIR (e.g. to docs/) to keep its screenshot as playground.png. Skipped where Chromium and its
driver are not installed (`apt-get install chromium chromium-driver`).
"""

import pytest
from django.urls import reverse

from accounts.models import ApiKey, User
from accounts.services import PLAYGROUND_KEY_NAME
from characters.models import Person
from media_jobs.models import MediaJob
from tests import factories
from tests.platform.test_admin_browser import CHROMEDRIVER, CHROMIUM, full_page_screenshot

selenium = pytest.importorskip("selenium", reason="selenium is not installed")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Chromium and chromedriver are not installed"),
    pytest.mark.django_db(transaction=True),
]


def text_of(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def wait_for_text(browser, element_id: str, expected: str, timeout: float = 30) -> str:
    WebDriverWait(browser, timeout, poll_frequency=0.2).until(
        lambda driver: expected in text_of(driver, element_id) or "problem" in (
            driver.find_element(By.ID, element_id).get_attribute("class")
        ), f"#{element_id} never said {expected!r}"
    )  # fmt: skip
    said = text_of(browser, element_id)
    assert expected in said, said
    return said


def test_a_visitor_pastes_a_key_makes_a_persona_from_a_photo_and_hears_it_speak(
    browser, live_server, workspace, raw_key, tmp_path, screenshots
):
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(factories.image_bytes(portrait=True, size=(512, 512)))
    browser.get(f"{live_server.url}{reverse('playground')}")
    assert browser.find_element(By.ID, "workspace").get_attribute("disabled")  # nothing to do without a key

    # The key: checked against the API, kept in the tab's session storage and nowhere in the page.
    browser.find_element(By.ID, "api-key").send_keys(raw_key)
    browser.find_element(By.ID, "use-key").click()
    wait_for_text(browser, "key-status", "Key accepted")
    assert browser.execute_script("return sessionStorage.getItem('persona-platform.playground.key')") == raw_key
    assert browser.find_element(By.ID, "api-key").get_attribute("value") == ""
    assert raw_key not in browser.page_source

    # A persona from a name and a photo, made through the API and picked at once.
    browser.find_element(By.ID, "new-name").send_keys("Ada Quill")
    browser.find_element(By.ID, "new-photo").send_keys(str(photo))
    browser.find_element(By.ID, "create").click()
    wait_for_text(browser, "persona-status", "Ada Quill is ready.", timeout=60)
    person = Person.objects.get(workspace=workspace, name="Ada Quill")
    assert person.photo
    chosen = browser.execute_script(
        "const s = document.getElementById('replica'); return [s.value, s.selectedOptions[0].text]"
    )
    assert chosen == [str(person.pk), "Ada Quill"]
    WebDriverWait(browser, 10).until(
        lambda driver: driver.execute_script("const i = document.getElementById('replica-photo'); return i.complete && i.naturalWidth > 0")
    )  # fmt: skip

    # Speech in the persona's voice: a job, polled until ready, then played from its URL.
    browser.find_element(By.ID, "speech-text").clear()
    browser.find_element(By.ID, "speech-text").send_keys("Welcome to the bakery. Our bread is baked every morning.")
    browser.find_element(By.ID, "speak").click()
    said = wait_for_text(browser, "speech-status", "Ready", timeout=120)
    audio = browser.execute_script(
        "const a = document.getElementById('speech-audio'); return {src: a.currentSrc, duration: a.duration, hidden: a.hidden}"
    )  # fmt: skip
    assert not audio["hidden"] and audio["duration"] > 2.0, (audio, said)
    job = MediaJob.objects.get(workspace=workspace, kind="speech")
    assert job.status == MediaJob.Status.READY and job.person_id == person.pk
    assert audio["src"].endswith(job.result_file.url)
    browser.execute_script("window.scrollTo(0, 0)")
    full_page_screenshot(browser, screenshots / "playground.png")

    # Reloading the tab keeps the key (and only this tab has it): the page is ready again without pasting.
    browser.refresh()
    wait_for_text(browser, "key-status", "Key accepted")
    assert not browser.find_element(By.ID, "workspace").get_attribute("disabled")


def test_staff_log_in_and_the_playground_gives_them_a_key_of_their_own_workspace(browser, live_server):
    User.objects.create_user(email="operator@example.com", password="a long passphrase", is_staff=True)
    browser.get(f"{live_server.url}{reverse('admin:login')}?next={reverse('playground')}")
    browser.find_element(By.NAME, "username").send_keys("operator@example.com")
    browser.find_element(By.NAME, "password").send_keys("a long passphrase")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The URL changes as the redirect commits, before the page is parsed: wait for the element itself.
    WebDriverWait(browser, 20).until(lambda driver: driver.current_url.endswith(reverse("playground")))
    wait_for_text(browser, "staff", "operator@example.com")

    browser.find_element(By.ID, "staff-key").click()
    wait_for_text(browser, "key-status", "Key accepted: your workspace has 1 persona")  # its demo person
    key = browser.execute_script("return sessionStorage.getItem('persona-platform.playground.key')")
    issued = ApiKey.objects.get(name=PLAYGROUND_KEY_NAME)
    assert key.startswith(issued.prefix) and issued.workspace.owner.email == "operator@example.com"
    assert not browser.find_element(By.ID, "workspace").get_attribute("disabled")
