"""The registrant's pages in a real headless browser (Debian's chromium, driven by Selenium):
the manage page, erasure at a phone's width and the unsubscribe flow, with screenshots in
test-artifacts/screenshots/; the security headers of every page kind, as a client receives them
and as the browser applies them (no Content-Security-Policy complaint in its console); and a
cross-site form that the browser posts and the page refuses."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import SHOTS, Harness, headless_chromium
from webinar_notify.core.text import registrant_id
from webinar_notify.local.server import LocalKey, LocalServer


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's chromium; tests that need it are skipped without it (the header checks, which
    only fetch pages, still run)."""
    # the console (CSP violations) and the network events (the headers the browser received)
    with headless_chromium("420,1000", {"browser": "ALL", "performance": "ALL"}) as driver:
        yield driver


@pytest.fixture
def site(harness: Harness) -> Iterator[str]:
    server = LocalServer(("127.0.0.1", 0), io.StringIO())
    server.install(harness.runtime, LocalKey("K", "S"))
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



# --- security headers on every page kind, and what the browser makes of them ---------------


def _fetch(url: str, method: str = "GET", body: bytes | None = None,
           headers: dict[str, str] | None = None) -> tuple[int, Message, str]:
    """Status, headers and text of one request, as any HTTP client sees them."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, answer.headers, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8")


def _assert_secured(headers: Message, cache: str = "private, no-store") -> None:
    policy = {d.split()[0]: d.split()[1:] for d in
              str(headers["Content-Security-Policy"]).split(";") if d.strip()}
    assert policy["default-src"] == ["'none'"]  # so no script from anywhere, inline or not
    assert "script-src" not in policy and "'unsafe-eval'" not in str(policy)
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == cache


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_every_page_kind_carries_the_security_headers(harness: Harness, site: str) -> None:
    """Pages, the feed, the data download and every kind of error, as a client receives them
    through the local server."""
    from dataclasses import replace

    from conftest import SERIES_FILE
    from webinar_notify.series_files import load_series_file

    series = replace(load_series_file(SERIES_FILE), double_opt_in=True)
    harness.runtime.push_series(series)
    harness.register(sessions=["s1", "s2"])
    manage = harness.link(r"http://localhost:8000(/manage/\S+)", kind="confirmation")
    optin = harness.link(r"http://localhost:8000(/optin/\S+)", kind="confirmation")
    feed = harness.link(r"http://localhost:8000(/calendar/\S+\.ics)", kind="confirmation")
    series_id, token = manage.split("/")[2:4]
    pages = {
        "manage": ("GET", manage, None, 200),
        "erase confirmation": ("POST", manage, b"action=erase", 200),
        "manage action": ("POST", manage, b"action=drop&session=s2", 200),
        "opt-in page": ("GET", optin, None, 200),
        "opt-in confirmed": ("POST", optin, b"", 200),
        "data download": ("GET", manage + "/data", None, 200),
        "forged manage link": ("GET", f"/manage/{series_id}/{token[:-4]}AAAA", None, 404),
        "forged data link": ("GET", f"/manage/{series_id}/{token[:-4]}AAAA/data", None, 404),
        "forged feed": ("GET", f"/calendar/{series_id}/{token[:-4]}AAAA.ics", None, 404),
        "forged opt-in": ("POST", optin[:-4] + "AAAA", b"", 404),
        "no such page": ("GET", f"/manage/{series_id}/{token}/data/more", None, 404),
        "unknown action": ("POST", manage, b"action=explode", 400),
        "expired erase confirmation": ("POST", manage, b"action=erase_confirmed", 400),
        "odd content type": ("POST", manage, b"{}", 415),
    }
    for name, (method, path, body, status) in pages.items():
        headers = {} if body is None else FORM if name != "odd content type" \
            else {"Content-Type": "application/json"}
        got, answer_headers, _text = _fetch(site + path, method, body, headers)
        assert got == status, name
        _assert_secured(answer_headers)

    harness.clock.advance(timedelta(days=17, hours=4))  # the 7-day reminder of s1
    harness.runtime.tick()
    unsubscribe = harness.link(r"http://localhost:8000(/unsubscribe/\S+)", kind="reminder")
    for name, (method, path, body, status) in {
            "unsubscribe page": ("GET", unsubscribe, None, 200),
            "unknown scope": ("GET", unsubscribe.split("?")[0] + "?scope=some", None, 400),
            "cross-site form": ("POST", unsubscribe, b"action=resubscribe", 403),
            "one-click": ("POST", unsubscribe, b"List-Unsubscribe=One-Click", 200)}.items():
        cross = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"} \
            if name == "cross-site form" else {}
        got, answer_headers, _text = _fetch(site + path, method, body,
                                            {**(FORM if body else {}), **cross})
        assert got == status, name
        _assert_secured(answer_headers)

    got, answer_headers, text = _fetch(site + feed)
    assert got == 200 and text.startswith("BEGIN:VCALENDAR")
    _assert_secured(answer_headers, cache="private, max-age=900")  # a feed may be cached
    got, answer_headers, _text = _fetch(site + feed, headers={
        "If-None-Match": str(answer_headers["ETag"])})
    assert got == 304
    _assert_secured(answer_headers, cache="private, max-age=900")


def _received(driver: object, url: str) -> dict[str, str]:
    """The response headers Chromium received for the document at url (its network log)."""
    found: dict[str, str] = {}
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        response = message.get("params", {}).get("response", {})
        if message.get("method") == "Network.responseReceived" and response.get("url") == url:
            found = {name.lower(): value for name, value in response["headers"].items()}
    return found


def _csp_complaints(driver: object) -> list[str]:
    return [str(e["message"]) for e in driver.get_log("browser")  # type: ignore[attr-defined]
            if "Content Security Policy" in str(e["message"])]


def test_the_pages_render_under_their_policy_and_erase_takes_two_presses_at_375_px(
        harness: Harness, site: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    harness.register(sessions=["s1", "s2"], time_zone="America/Toronto")
    path = harness.link(r"http://localhost:8000(/manage/\S+)", kind="confirmation")
    driver = browser
    driver.set_window_size(375, 900)  # type: ignore[attr-defined]
    driver.get(site + path)  # type: ignore[attr-defined]
    received = _received(driver, site + path)
    assert "default-src 'none'" in received["content-security-policy"]
    assert received["x-content-type-options"] == "nosniff"
    assert received["referrer-policy"] == "no-referrer"
    body = driver.find_element(By.TAG_NAME, "body")  # type: ignore[attr-defined]
    assert body.value_of_css_property("background-color") == "rgba(244, 245, 247, 1)"

    driver.find_element(By.XPATH, "//button[normalize-space()='Delete my data']").click()  # type: ignore[attr-defined]
    _wait_for(driver, "This cannot be undone")
    driver.save_screenshot(str(SHOTS / "manage-erase-confirm-375.png"))  # type: ignore[attr-defined]
    yes = driver.find_element(By.XPATH, "//button[normalize-space()='Yes, delete my data']")  # type: ignore[attr-defined]
    assert yes.is_displayed() and yes.rect["x"] + yes.rect["width"] <= 375
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth <= window.innerWidth")
    assert harness.registration("ada@example.com") is not None  # one press erases nothing

    yes.click()  # the browser's own form: Origin null under no-referrer, Sec-Fetch-Site same
    _wait_for(driver, "Your data is deleted")
    driver.save_screenshot(str(SHOTS / "manage-erased-375.png"))  # type: ignore[attr-defined]
    assert harness.registration("ada@example.com") is None
    driver.get(site + path)  # type: ignore[attr-defined]
    _wait_for(driver, "not valid")  # the error page renders under the same policy
    assert _csp_complaints(driver) == []


def test_a_cross_site_form_posted_by_the_browser_is_refused(
        harness: Harness, site: str, browser: object) -> None:
    """Another site (127.0.0.2 is another site than 127.0.0.1) holding a manage link and a
    fresh confirmation value posts "erase" from its own page: refused, nothing erased."""
    from selenium.webdriver.common.by import By

    harness.register()
    path = harness.link(r"http://localhost:8000(/manage/\S+)", kind="confirmation")
    _status, _headers, asked = _fetch(site + path, "POST", b"action=erase", FORM)
    confirm = asked.split('name="confirm" value="')[1].split('"')[0]
    page = (f'<form method="post" action="{site}{path}">'
            '<input type="hidden" name="action" value="erase_confirmed">'
            f'<input type="hidden" name="confirm" value="{confirm}">'
            '<button type="submit">Win a prize</button></form>').encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    # Threaded: chromium may open a spare connection first and send nothing on it, which
    # would hold a one-at-a-time server (and the page) until it gave up on it.
    evil = ThreadingHTTPServer(("127.0.0.2", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        driver = browser
        driver.get(f"http://127.0.0.2:{evil.server_address[1]}/")  # type: ignore[attr-defined]
        driver.find_element(By.XPATH, "//button").click()  # type: ignore[attr-defined]
        _wait_for(driver, "its own page")
    finally:
        evil.shutdown()
        evil.server_close()
    assert harness.registration("ada@example.com") is not None


def _wait_for(driver: object, text: str) -> None:
    """A click navigates; wait for the next page rather than read the old one."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(lambda d: text in d.page_source)  # type: ignore[arg-type, attr-defined]
