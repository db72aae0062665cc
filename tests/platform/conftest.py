"""The headless browsers the browser tests drive (the admin, the playground, the live page), and where their
screenshots go: Chromium through chromedriver, Firefox through its own Marionette protocol."""

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")

with warnings.catch_warnings():  # its helpers import telnetlib and call distro.linux_distribution(), both deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        from marionette_driver.marionette import Marionette
    except ImportError:  # a server install without the test requirements
        Marionette = None

FIREFOX_PREFS = {
    # A fake microphone and camera (a tone and a test pattern), given without asking, as Chromium's
    # --use-fake-device-for-media-stream and --use-fake-ui-for-media-stream do.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # A stand-in for the sound card that CI machines lack: without one Firefox never starts an AudioContext, and a
    # page could not tell whether it hears anything.
    "media.cubeb.force_mock_context": True,
}


@contextmanager
def chromium(*arguments: str, window: str = "1366,768", logs: bool = False) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with the flags every test needs, plus `arguments` (fake media, permissions, autoplay);
    with `logs`, the page's console is kept for a failing test to print."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={window}", *arguments]:  # fmt: skip
        options.add_argument(argument)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser():
    with chromium("--hide-scrollbars", "--force-device-scale-factor=1") as driver:
        yield driver


@pytest.fixture(name="firefox")
def firefox_fixture(tmp_path) -> Iterator["Marionette"]:
    """Headless Firefox with a fresh profile, driven over Marionette: Debian ships Firefox but no geckodriver.

    Named apart from its fixture name so that test modules elsewhere can import it (tests/knowledge/)."""
    driver = Marionette(
        host="127.0.0.1",
        port=0,
        bin=FIREFOX,
        headless=True,
        prefs=FIREFOX_PREFS,
        startup_timeout=60,
        gecko_log=str(tmp_path),  # Firefox's own log, out of the working tree
    )
    try:
        driver.start_session()
        driver.timeout.page_load = 30
        yield driver
    finally:
        driver.cleanup()  # quits Firefox and removes its profile


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("ADMIN_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
