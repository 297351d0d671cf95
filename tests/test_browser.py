"""The registrant's pages in a real headless browser (Debian's chromium, driven by Selenium):
the manage page and the unsubscribe flow, with screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import HTTPServer

import pytest

from conftest import ROOT, Harness
from webinar_notify.core.text import registrant_id
from webinar_notify.local.server import LocalKey, _handler

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = ROOT / "test-artifacts" / "screenshots"
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian's chromium and chromium-driver (scripts/check installs them as root)")


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=420,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(harness: Harness) -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _handler(harness.runtime, io.StringIO(),
                                                   LocalKey("K", "S")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_dropping_a_session_on_the_manage_page(harness: Harness, site: str,
                                               browser: object) -> None:
    from selenium.webdriver.common.by import By

    harness.register(sessions=["s1", "s2"], time_zone="America/Toronto")
    harness.runtime.drain()
    path = harness.link(r"http://localhost:8000(/manage/\S+)", kind="confirmation")
    driver = browser
    driver.get(site + path)  # type: ignore[attr-defined]
    driver.save_screenshot(str(SHOTS / "manage-before.png"))  # type: ignore[attr-defined]
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)" in driver.page_source  # type: ignore[attr-defined]

    driver.find_elements(By.XPATH, "//button[normalize-space()='Drop this session']")[0].click()  # type: ignore[attr-defined]
    _wait_for(driver, "Dropped.")
    driver.save_screenshot(str(SHOTS / "manage-after-drop.png"))  # type: ignore[attr-defined]
    assert "Dropped." in driver.page_source  # type: ignore[attr-defined]
    rid = registrant_id("local-development-only", "reirradiation-2023", "ada@example.com")
    stored = harness.runtime.store.get_registration("reirradiation-2023", rid)
    assert stored is not None and stored.session_ids == frozenset({"s2"})
    assert (SHOTS / "manage-after-drop.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_unsubscribe_page_changes_nothing_until_the_button(harness: Harness, site: str,
                                                               browser: object) -> None:
    from selenium.webdriver.common.by import By

    harness.register()
    harness.clock.advance(timedelta(days=17, hours=4))  # the 7-day reminder of s1
    harness.runtime.tick()
    harness.runtime.drain()
    path = harness.link(r"http://localhost:8000(/unsubscribe/\S+)", kind="reminder")
    rid = registrant_id("local-development-only", "reirradiation-2023", "ada@example.com")
    driver = browser
    driver.get(site + path)  # type: ignore[attr-defined]
    driver.save_screenshot(str(SHOTS / "unsubscribe-page.png"))  # type: ignore[attr-defined]
    before = harness.runtime.store.get_registration("reirradiation-2023", rid)
    assert before is not None and not before.reminders_off and not before.announcements_off

    driver.find_element(By.XPATH, "//button[normalize-space()='Unsubscribe']").click()  # type: ignore[attr-defined]
    _wait_for(driver, "You are unsubscribed")
    driver.save_screenshot(str(SHOTS / "unsubscribed.png"))  # type: ignore[attr-defined]
    assert "You are unsubscribed" in driver.page_source  # type: ignore[attr-defined]
    after = harness.runtime.store.get_registration("reirradiation-2023", rid)
    assert after is not None and after.reminders_off and after.announcements_off

    driver.find_element(By.XPATH, "//button[normalize-space()='Subscribe again']").click()  # type: ignore[attr-defined]
    _wait_for(driver, "Welcome back")
    back = harness.runtime.store.get_registration("reirradiation-2023", rid)
    assert back is not None and not back.reminders_off
    assert (SHOTS / "unsubscribed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"



def _wait_for(driver: object, text: str) -> None:
    """A click navigates; wait for the next page rather than read the old one."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(lambda d: text in d.page_source)  # type: ignore[arg-type, attr-defined]
