"""The operators' admin in a real browser (headless Chromium): what the screenshots in docs/ show.

Set ADMIN_SCREENSHOTS_DIR (e.g. to docs/) to keep the screenshots; otherwise they go to a temporary folder.
Skipped where Chromium and its driver are not installed (`apt-get install chromium chromium-driver`).
"""

import io
import math
import shutil
import struct
import subprocess
import wave
from datetime import timedelta
from pathlib import Path

import imageio_ffmpeg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import credits_grant
from accounts.webhook_secrets import webhook_secret
from characters.models import Person
from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from tests import factories

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
selenium = pytest.importorskip("selenium", reason="selenium is not installed")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Chromium and chromedriver are not installed"),
    pytest.mark.django_db(transaction=True),
]
PASSWORD = "a-long-operator-password-1"
LONG_ERRORS = [
    "The talking-head engine ran out of GPU memory while rendering frame 812 of 900; try a shorter text or retry.",
    "The provider answered 429 Too Many Requests three times; the job gave up after its last attempt.",
    "The driving video has no frames that show a face: upload a video where the face is visible.",
]


def wav_bytes(seconds: float = 1.5, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        samples = (int(8000 * math.sin(2 * math.pi * 220 * n / rate)) for n in range(int(seconds * rate)))
        audio.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return out.getvalue()


def mp4_bytes(tmp_path: Path) -> bytes:
    """Two seconds of the test portrait, as the video jobs make them (H.264 in MP4)."""
    still, video = tmp_path / "still.jpg", tmp_path / "clip.mp4"
    still.write_bytes(factories.image_bytes(portrait=True, size=(256, 256)))
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-loop", "1", "-i", str(still), "-t", "2", "-r", "10",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", str(video)],
        check=True, timeout=60,
    )  # fmt: skip
    return video.read_bytes()


def stored(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


@pytest.fixture
def operations(tmp_path):
    """A workspace as an operator finds it: a character with a voice and media, jobs in every state, webhooks failing."""
    workspace = factories.workspace_create(email="studio-northwind@example.com")
    workspace.name = "Northwind Studio"
    workspace.save()
    credits_grant(workspace=workspace, amount=500, reason="Welcome credits")
    person = factories.person_create(workspace=workspace, name="Mara Quill")
    Person.objects.filter(pk=person.pk).update(
        niche="travel",
        appearance={"hair": "dark, shoulder length", "eyes": "brown"},
        identity={"age": 34, "home": "Lisbon"},
        personality={"traits": ["curious", "warm"], "humour": "dry"},
        style={"tone": "friendly", "camera": "close-up"},
        settings={"language": "en"},
        voice_settings={"stability": 0.5, "similarity_boost": 0.75, "speed": 1.0},
    )
    voice = factories.voice_create(person=person)
    voice.training_audio.name = stored("voices/training/mara.wav", wav_bytes())
    voice.save()
    clip = mp4_bytes(tmp_path)
    now = timezone.now()
    if connection.vendor == "postgresql":  # job ids as wide as a busy table's, whatever ran before
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), 9999000)", [MediaJob._meta.db_table])
    ready_video = MediaJob.objects.create(
        workspace=workspace, person=person, kind="video", status="ready", name="Lisbon at dawn, episode 12",
        result_file=stored("jobs/video/lisbon.mp4", clip), progress=100, attempts=1, finished_at=now,
    )  # fmt: skip
    MediaJob.objects.create(
        workspace=workspace, person=person, kind="speech", status="ready", name="Welcome message",
        result_file=stored("jobs/speech/welcome.wav", wav_bytes()), progress=100, attempts=1, finished_at=now,
    )  # fmt: skip
    failed = MediaJob.objects.create(
        workspace=workspace, person=person, kind="motion_transfer", status="failed", name="Dance challenge remix",
        input_file=stored("jobs/inputs/dance.mp4", clip), error=LONG_ERRORS[2], attempts=3, finished_at=now,
    )  # fmt: skip
    for number, error in enumerate(LONG_ERRORS[:2]):
        MediaJob.objects.create(workspace=workspace, person=person, kind="video", status="failed", attempts=3,
                                name=f"Weekly recap number {number + 40} with a rather long title", error=error,
                                finished_at=now - timedelta(minutes=number * 7))  # fmt: skip
    queued = MediaJob.objects.create(workspace=workspace, person=person, kind="talking_head", name="Greeting")
    MediaJob.objects.filter(pk=queued.pk).update(created_at=now - timedelta(minutes=18))
    MediaJob.objects.create(workspace=workspace, person=person, kind="speech", status="processing", progress=40,
                            name="Product read-out", attempts=1, started_at=now)  # fmt: skip
    MediaJob.objects.create(workspace=workspace, kind="speech", status="canceled", name="Old draft", finished_at=now)
    for number in range(4):
        MediaJob.objects.create(workspace=workspace, person=person, kind="speech", status="ready", attempts=1,
                                name=f"Caption {number + 1}", finished_at=now)  # fmt: skip
    delivery = WebhookDelivery.objects.create(
        job=ready_video, url="https://hooks.northwind.example/persona", message_id="msg_2f1c", event_type="video.ready",
        payload={}, status="pending", attempts=3, next_attempt_at=now + timedelta(minutes=10),
    )  # fmt: skip
    WebhookAttempt.objects.create(delivery=delivery, status_code=502, error="Bad Gateway")
    return {"workspace": workspace, "person": person, "failed": failed, "queued": queued}


def log_in(browser, live_server) -> None:
    User.objects.create_superuser(email="ops@example.com", password=PASSWORD)
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("ops@example.com")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.ID, "user-tools"))


def open_page(browser, url: str) -> None:
    browser.get(url)
    assert "Server Error" not in browser.title


def full_page_screenshot(browser, path: Path, width: int = 1366, max_height: int = 2400) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(max(height, 768), max_height))
    browser.save_screenshot(str(path))
    browser.set_window_size(width, 768)


def test_the_operators_admin_in_a_browser(browser, live_server, operations, screenshots):
    log_in(browser, live_server)
    admin = f"{live_server.url}/admin"

    # The dashboard: jobs by status, failures with their errors, the oldest queued job, failing webhooks.
    open_page(browser, f"{admin}/")
    counts = {tile.get_attribute("data-status"): tile.find_element(By.TAG_NAME, "strong").text
              for tile in browser.find_elements(By.CSS_SELECTOR, "#jobs-by-status .tile")}  # fmt: skip
    assert counts == {"queued": "1", "processing": "1", "ready": "6", "failed": "3", "canceled": "1"}
    assert LONG_ERRORS[2][:60] in browser.find_element(By.ID, "recent-failures").text
    assert f"#{operations['queued'].pk}" in browser.find_element(By.ID, "oldest-queued").text
    assert "HTTP 502" in browser.find_element(By.ID, "failing-deliveries").text
    view_site = browser.find_element(By.XPATH, "//div[@id='user-tools']//a[normalize-space()='View site']")
    assert view_site.get_attribute("href") == f"{live_server.url}/"
    full_page_screenshot(browser, screenshots / "admin-dashboard.png")

    # The person page: one photo, the character fields, the voice and media players.
    person = operations["person"]
    open_page(browser, f"{admin}/characters/person/{person.pk}/change/")
    assert len(browser.find_elements(By.CSS_SELECTOR, f'img[src="{person.photo.url}"]')) == 1
    for field in ["niche", "appearance", "identity", "personality", "style", "settings", "voice_settings"]:
        assert browser.find_element(By.NAME, field).is_displayed()
    assert '"home": "Lisbon"' in browser.find_element(By.NAME, "identity").get_attribute("value")
    assert browser.find_elements(By.CSS_SELECTOR, ".field-voice_player audio")
    assert browser.find_elements(By.CSS_SELECTOR, ".field-recent_media video")
    full_page_screenshot(browser, screenshots / "admin-person.png", max_height=3600)

    # A failed job's page: Retry (its input is kept), the input's player; a queued job's page: Cancel.
    open_page(browser, f"{admin}/media_jobs/mediajob/{operations['queued'].pk}/change/")
    assert browser.find_element(By.ID, "job-cancel").is_displayed() and not browser.find_elements(By.ID, "job-retry")
    open_page(browser, f"{admin}/media_jobs/mediajob/{operations['failed'].pk}/change/")
    assert browser.find_element(By.ID, "job-retry").is_displayed() and not browser.find_elements(By.ID, "job-cancel")
    assert browser.find_elements(By.CSS_SELECTOR, ".field-input_player video")
    full_page_screenshot(browser, screenshots / "admin-job.png")

    # The jobs list at 1366x768: the error column is inside the viewport.
    browser.set_window_size(1366, 768)
    open_page(browser, f"{admin}/media_jobs/mediajob/")
    viewport = browser.execute_script("return document.documentElement.clientWidth")
    results = browser.find_element(By.CSS_SELECTOR, "#changelist .results")  # scrolls sideways when too wide
    visible = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", results)
    assert visible["right"] <= viewport
    for element in browser.find_elements(By.CSS_SELECTOR, "th.column-short_error, td.field-short_error"):
        box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)
        widths = browser.execute_script(
            "return [...document.querySelectorAll('#result_list th')].map(th => [th.className, th.offsetWidth])"
        )
        assert visible["left"] <= box["left"] and box["right"] <= visible["right"], (box, visible, widths)
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", results)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= viewport
    browser.save_screenshot(str(screenshots / "admin-jobs-list.png"))

    # The webhook secret: masked, then revealed.
    secret = webhook_secret(workspace_id=operations["workspace"].pk)
    open_page(browser, f"{admin}/accounts/workspace/{operations['workspace'].pk}/change/")
    shown = browser.find_element(By.ID, "webhook-secret")
    assert secret not in browser.page_source and shown.text.endswith(secret[-4:]) and "•" in shown.text
    browser.find_element(By.ID, "webhook-secret-toggle").click()
    WebDriverWait(browser, 10).until(lambda driver: "reveal_secret=1" in driver.current_url)
    # The URL changes as the navigation commits, before the page is parsed: wait for the element itself.
    WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.ID, "webhook-secret"))
    assert browser.find_element(By.ID, "webhook-secret").text == secret
    assert browser.find_element(By.ID, "webhook-secret-rotate").is_displayed()
    browser.execute_script("document.getElementById('webhook-secret-fieldset').scrollIntoView({block: 'center'})")
    browser.save_screenshot(str(screenshots / "admin-webhook-secret.png"))
    assert reverse("admin:accounts_workspace_webhook_secret_rotate", args=[operations["workspace"].pk]) in (
        browser.find_element(By.ID, "webhook-secret-rotate").get_attribute("href")
    )
