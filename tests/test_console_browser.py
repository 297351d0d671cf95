"""The organiser console in a real headless browser (Debian's chromium, driven by Selenium),
against the demo's state as ``serve --demo`` starts it: sign in with a local organiser account,
the overview's counts, the registrants and one person's emails, compose with a live preview, a
test copy, an announcement scheduled and cancelled, a session moved after its preview, the CSV
export and sign-out; axe-core on every page at a desktop's and a phone's width, and screenshots
in test-artifacts/screenshots/console-*.png.

The demo is built once for the module (a few seconds); each test signs in again if it has to,
so the tests do not depend on their order.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conftest import CHROMEDRIVER, CHROMIUM, ROOT, SHOTS, headless_chromium, without
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.registration import Registration
from webinar_notify.local.demo_state import CarryOnClock, demo_scenario, replay
from webinar_notify.local.runtime import LocalRuntime, LocalSettings, local_runtime
from webinar_notify.local.server import LocalKey, LocalServer

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
OVERVIEW_IMAGE = ROOT / "docs" / "images" / "console-overview.png"
SERIES_ID = "reirradiation-2023"
ACCOUNT = "organiser@example.org"
WIDTHS = {"desktop": (1280, 900), "phone": (375, 812)}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WAIT = 15


@dataclass
class Demo:
    runtime: LocalRuntime
    clock: CarryOnClock
    mailer: OutboxMailer
    base: str
    password: str
    log: io.StringIO  # the server's request log

    def url(self, path: str = "") -> str:
        return f"{self.base}/console/{path}" if path else f"{self.base}/console"

    def series_url(self, path: str = "") -> str:
        return self.url(f"series/{SERIES_ID}/{path}")

    def registrations(self) -> list[Registration]:
        found: list[Registration] = []
        cursor = None
        while True:
            page, cursor = self.runtime.store.registrations_page(SERIES_ID, cursor, 100)
            found += page
            if not cursor:
                return found

    def sent(self, kind: str | None = None, to: str | None = None) -> list[dict[str, object]]:
        return [e for e in self.mailer.entries()
                if kind in (None, e["kind"]) and to in (None, e["to"])]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``serve --demo``'s state: the demo replayed to the middle of the series, the clock
    running on from there, an editor's account, the API on a local port."""
    if not (CHROMIUM and CHROMEDRIVER):
        without("needs Debian's chromium and chromium-driver (scripts/check installs them "
                    "as root)")
    from webinar_notify.local.accounts import add_organiser

    scenario = demo_scenario()
    clock = CarryOnClock(scenario.start)
    mailer = OutboxMailer(tmp_path_factory.mktemp("demo-outbox"), clock)
    log = io.StringIO()
    server = LocalServer(("127.0.0.1", 0), log)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings = LocalSettings(webhook_secrets={"generic": "console-browser-test"},
                             public_base_url=base, quiet=False)  # the handlers' logs too
    with local_runtime(clock, mailer, settings) as runtime:
        replay(runtime, clock, scenario, webhook_secrets=dict(settings.webhook_secrets))
        clock.carry_on()
        password = add_organiser(runtime.accounts_admin, ACCOUNT,
                                 "Local organiser", SERIES_ID, "editor", None)
        server.install(runtime, LocalKey("K", "S"))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        try:
            yield Demo(runtime, clock, mailer, base, password, log)
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def driver(demo: Demo) -> Iterator[Any]:
    """One chromium for the module, at a desktop's width unless a test narrows it."""
    with headless_chromium("1280,900", {"browser": "ALL"}) as browser:
        yield browser


@pytest.fixture
def signed_in(demo: Demo, driver: Any, capfd: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """The browser on the console, signed in as the demo's editor; afterwards, no address or
    name of a registrant or of the organiser in anything logged while the test used it."""
    driver.set_window_size(*WIDTHS["desktop"])
    driver.get(demo.url())
    if "/console/sign-in" in driver.current_url:
        _sign_in(driver, ACCOUNT, demo.password)
    assert "/console/sign-in" not in driver.current_url, _visible(driver)
    logged_before = len(demo.log.getvalue())
    yield driver
    out, err = capfd.readouterr()
    logged = demo.log.getvalue()[logged_before:] + out + err
    personal = [ACCOUNT, "Local organiser"] + [
        v for r in demo.registrations() for v in (r.registrant.email, r.registrant.full_name)]
    assert logged.strip(), "the request log is empty: this check would prove nothing"
    assert [p for p in personal if p.lower() in logged.lower()] == []


# --- the flows --------------------------------------------------------------------------------


def test_signing_in_shows_the_series_and_a_wrong_password_does_not(demo: Demo,
                                                                   driver: Any) -> None:
    driver.delete_all_cookies()
    driver.set_window_size(*WIDTHS["desktop"])
    driver.get(demo.url())
    assert driver.current_url.startswith(demo.url("sign-in")), driver.current_url
    _shot(driver, "console-sign-in.png")

    _sign_in(driver, ACCOUNT, demo.password + "x")
    assert "/console/sign-in" in driver.current_url
    assert driver.get_cookie("wn_console") is None
    _assert_accessible(driver, "sign-in, refused")
    _sign_in(driver, ACCOUNT, demo.password)

    cookie = driver.get_cookie("wn_console")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    driver.get(demo.url())
    assert demo.runtime.store.get_series(SERIES_ID) is not None
    assert "Challenges in Reirradiation" in _visible(driver)
    _shot(driver, "console-series.png")


def test_the_overview_counts_match_the_demo_registrations(demo: Demo, signed_in: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    series = demo.runtime.store.get_series(SERIES_ID)
    assert series is not None
    active = [r for r in demo.registrations() if r.status == "active"]
    expected = {s.id: sum(1 for r in active if r.whole_series or s.id in r.session_ids)
                for s in series.sessions}
    assert active and max(expected.values()) == len(active)  # everybody chose s1

    driver.get(demo.series_url())
    _save_overview(driver)
    shown = {s.id: _cell(driver.find_element(By.ID, f"session-{s.id}"), "Registered")
             for s in series.sessions}
    assert shown == {sid: str(n) for sid, n in expected.items()}
    assert driver.find_element(By.ID, "total-registered").text == str(len(active))
    sent = {s.id: _cell(driver.find_element(By.ID, f"session-{s.id}"), "Emails sent")
            for s in series.sessions}
    assert sent == {s.id: str(sum(e["sessions"] == [s.id] for e in demo.sent()))
                    for s in series.sessions}  # emails about that one session
    assert "Reminder" in driver.find_element(By.ID, "next-due").text  # and some still ahead


def test_the_registrant_list_and_one_registrants_emails(demo: Demo, signed_in: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    driver.get(demo.series_url("registrants"))
    page = _visible(driver)
    assert all(r.registrant.full_name in page for r in demo.registrations())
    _shot(driver, "console-registrants.png")

    driver.get(demo.series_url("registrants?" + urllib.parse.urlencode({"q": "nørgaard"})))
    listed = _visible(driver)
    assert "Søren Nørgaard" in listed and "Marie Tremblay" not in listed
    _submit(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "Søren Nørgaard"))
    _wait_until(driver, lambda d: "/registrants/" in d.current_url)
    _shot(driver, "console-registrant.png")

    his = demo.sent(to="soren.norgaard@example.com")
    rows = driver.find_elements(By.CSS_SELECTOR, "#mail tbody tr")
    assert len(rows) == len(his) > 1
    kinds = sorted(_cell(row, "Email").split()[0] for row in rows)  # "Reminder 1d before"
    assert kinds == sorted(str(e["kind"]).capitalize() for e in his)
    assert all(_cell(row, "Email").endswith(" before") for row in rows
               if _cell(row, "Email").startswith("Reminder"))


def test_compose_with_live_preview_test_copy_schedule_and_cancel(demo: Demo,
                                                                 signed_in: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    driver.get(demo.series_url("compose"))
    subject = "Slides of the fourth session"
    body = "The slides of the fourth session are now online."
    _field(driver, "subject").send_keys(subject)
    _field(driver, "body_markdown").send_keys(body)
    frame = driver.find_element(By.ID, "preview-frame")
    _wait_until(driver, lambda d: body in _frame_text(d, frame))  # typed, not submitted
    assert "compose" in driver.current_url and subject in _visible(driver)
    _shot(driver, "console-compose.png")
    _assert_accessible(driver, "compose, with its preview")

    before = len(demo.mailer.entries())
    _submit(driver, _button(driver, "test copy"))
    _wait_until(driver, lambda d: len(demo.mailer.entries()) > before)
    copies = demo.mailer.entries()[before:]
    assert [(c["to"], c["subject"]) for c in copies] == [(ACCOUNT, subject)], copies

    driver.get(demo.series_url("compose"))
    _field(driver, "subject").send_keys(subject)
    _field(driver, "body_markdown").send_keys(body)
    driver.find_element(By.ID, "send-later").click()
    _set_moment(driver, demo.clock.now() + timedelta(days=3))
    sent_before = len(demo.mailer.entries())
    _submit(driver, _button(driver, "schedule"))
    _wait_until(driver, lambda d: subject in _text_of(d, "scheduled-title", "section"))
    driver.get(demo.series_url("timeline"))
    assert subject in driver.find_element(By.ID, "ahead").text
    _shot(driver, "console-timeline.png")

    driver.get(demo.series_url("compose"))
    _submit(driver, driver.find_element(By.XPATH, "//form[contains(@action, '/announcements/')"
                                                  " and contains(@action, '/cancel')]//button"))
    _wait_until(driver, lambda d: "No announcement is scheduled" in _visible(d))
    driver.get(demo.series_url("timeline"))
    assert subject not in driver.find_element(By.ID, "ahead").text
    assert len(demo.mailer.entries()) == sent_before  # nothing went to the registrants


def test_moving_a_session_shows_the_count_and_sends_exactly_that(demo: Demo,
                                                                 signed_in: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    series = demo.runtime.store.get_series(SERIES_ID)
    assert series is not None
    session = series.session("s6")
    assert session is not None
    registered = {r.registrant.email for r in demo.registrations()
                  if r.status == "active" and (r.whole_series or "s6" in r.session_ids)}
    driver.get(demo.series_url("sessions/s6"))
    _shot(driver, "console-session.png")
    shown = datetime.fromisoformat(_field(driver, "start").get_attribute("value"))
    assert shown == session.start.astimezone(ZoneInfo(series.time_zone)).replace(tzinfo=None)
    _set_field(driver, "start", (shown + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    before = len(demo.mailer.entries())
    _submit(driver, _button(driver, "preview the change"))
    _wait_until(driver, lambda d: bool(d.find_elements(By.ID, "dry-count")))
    _shot(driver, "console-session-preview.png")
    _assert_accessible(driver, "session change, its preview")
    count = driver.find_element(By.ID, "dry-count").text
    assert count == f"This will email {len(registered)} people.", count
    assert "New time" in _visible(driver)  # the update email's subject
    assert len(demo.mailer.entries()) == before  # nothing sent before the confirmation
    unchanged = demo.runtime.store.get_series(SERIES_ID)
    assert unchanged is not None and unchanged.session("s6") == session

    confirm = _button(driver, f"send to {len(registered)} people")
    form = driver.execute_script(
        "return Object.fromEntries(new FormData(arguments[0].form));", confirm)
    _submit(driver, confirm)
    _wait_until(driver, lambda d: not d.find_elements(By.ID, "dry-count"))
    updates = demo.sent("update")
    assert sorted(str(u["to"]) for u in updates) == sorted(registered)
    assert all(u["sessions"] == ["s6"] for u in updates)
    after = demo.runtime.store.get_series(SERIES_ID)
    assert after is not None and after.session("s6").start == (  # type: ignore[union-attr]
        session.start + timedelta(hours=1))
    again = _post_form(driver, demo.series_url("sessions/s6"), form)  # a double submit
    assert again < 400 and len(demo.sent("update")) == len(registered)  # acts once


def test_exporting_the_registrants_as_csv(demo: Demo, signed_in: Any) -> None:
    """The export runs as a job: its page shows progress, then a link to the file."""
    from selenium.webdriver.common.by import By

    driver = signed_in
    driver.get(demo.series_url("registrants"))
    _submit(driver, driver.find_element(By.ID, "export"))
    assert "/jobs/" in driver.current_url, driver.current_url

    def ready(page: Any) -> bool:  # the page's script updates it; a reload does too
        if page.find_elements(By.ID, "download"):
            return True
        page.refresh()
        return False

    _wait_until(driver, ready)
    _shot(driver, "console-export.png")
    _assert_accessible(driver, "export job")
    answer = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(async r => done("
        "{status: r.status, type: r.headers.get('Content-Type'),"
        " disposition: r.headers.get('Content-Disposition'), text: await r.text()}))"
        ".catch(e => done({status: 0, text: String(e)}));",
        driver.find_element(By.ID, "download").get_attribute("href"))
    assert answer["status"] == 200, (answer, demo.log.getvalue()[-600:])
    assert answer["type"].startswith("text/csv") and "attachment" in answer["disposition"]
    rows = list(csv.DictReader(io.StringIO(answer["text"])))
    assert sorted(r["email"] for r in rows) == sorted(
        r.registrant.email for r in demo.registrations())
    driver.get(demo.series_url("audit"))
    audit = _visible(driver).lower()
    assert "export" in audit and "download" in audit
    _shot(driver, "console-audit.png")


def test_signing_out_ends_the_session(demo: Demo, signed_in: Any) -> None:
    driver = signed_in
    driver.get(demo.series_url())
    _submit(driver, _button(driver, "sign out"))
    _wait_until(driver, lambda d: "/console/sign-in" in d.current_url)
    assert driver.get_cookie("wn_console") is None
    driver.get(demo.series_url())
    assert "/console/sign-in" in driver.current_url


# --- axe-core on every page, at a desktop's and a phone's width ------------------------------


CONSOLE_PAGES: dict[str, Callable[[Demo], str]] = {
    "series": lambda d: d.url(),
    "overview": lambda d: d.series_url(),
    "registrants": lambda d: d.series_url("registrants"),
    "registrant": lambda d: d.series_url(f"registrants/{_someone(d)}"),
    "timeline": lambda d: d.series_url("timeline"),
    "delivery": lambda d: d.series_url("delivery"),
    "compose": lambda d: d.series_url("compose"),
    "session": lambda d: d.series_url("sessions/s7"),
    "audit": lambda d: d.series_url("audit"),
    "approvals": lambda d: d.series_url("approvals"),
}


@pytest.mark.parametrize("width", list(WIDTHS))
def test_axe_finds_no_serious_violation_on_any_console_page(demo: Demo, driver: Any,
                                                            width: str) -> None:
    _needs_axe()
    driver.set_window_size(*WIDTHS[width])
    driver.delete_all_cookies()
    driver.get(demo.url("sign-in"))
    found = {"sign-in": _axe(driver)}
    _shot(driver, f"console-sign-in-{width}.png")
    _sign_in(driver, ACCOUNT, demo.password)
    for name, url in CONSOLE_PAGES.items():
        driver.get(url(demo))
        assert "/console/sign-in" not in driver.current_url, name
        found[name] = _axe(driver)
        _shot(driver, f"console-{name}-{width}.png")
    driver.get(demo.series_url("registrants/r-nobody"))
    found["not found"] = _axe(driver)
    serious = _serious(found)
    assert not serious, "\n".join(serious)


def test_the_axe_check_finds_what_it_should(demo: Demo, driver: Any) -> None:
    """The check above can fail: a page with an unlabelled field and grey-on-white text."""
    _needs_axe()
    driver.get(demo.url("sign-in"))
    driver.execute_script(
        "const main = document.querySelector('main');"
        "main.insertAdjacentHTML('beforeend', '<p style=\"color:#bbb;background:#fff\">faint"
        "</p><select><option>unlabelled</option></select>');")
    rules = {line.split()[2] for line in _serious({"planted": _axe(driver)})}
    assert {"color-contrast", "select-name"} <= rules, rules


# --- helpers ----------------------------------------------------------------------------------


def _sign_in(driver: Any, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    if "/console/sign-in" not in driver.current_url:
        driver.get(driver.current_url.split("/console/")[0] + "/console/sign-in")
    for name, value in (("username", username), ("password", password)):
        field = driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    _submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))


def _submit(driver: Any, button: Any) -> None:
    """Click a form's button and wait for the page it leads to (even the same address)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.consoleTestOldPage = true;")
    button.click()
    WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=(
        WebDriverException,)).until(lambda d: d.execute_script(
            "return !window.consoleTestOldPage && document.readyState === 'complete';"))


def _wait_until(driver: Any, condition: Callable[[Any], bool]) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException)).until(condition)


def _visible(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def _xpath_text(text: str) -> str:
    """A string literal for XPath 1.0, whatever quotes the text holds."""
    if "'" not in text:
        return f"'{text}'"
    return "concat('" + "', \"'\", '".join(text.split("'")) + "')"


def _cell(row: Any, label: str) -> str:
    """The text of a table row's cell for one column (the cells carry their column's label,
    which the narrow layout shows beside each value)."""
    from selenium.webdriver.common.by import By

    return str(row.find_element(By.CSS_SELECTOR, f"[data-label='{label}']").text.strip())


def _post_form(driver: Any, url: str, fields: dict[str, str]) -> int:
    """POST these form fields from the page, as the browser submits a form; the status."""
    status: int = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', credentials: 'same-origin', redirect: 'manual',"
        " body: new URLSearchParams(arguments[1])})"
        ".then(r => done(r.status || 303)).catch(e => done(0));", url, fields)
    return status


def _text_of(driver: Any, element_id: str, container: str) -> str:
    """The text of the ``container`` element around the one with this id."""
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.XPATH, f"//*[@id='{element_id}']/ancestor::{container}[1]"
                                   ).text)


def _field(driver: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.NAME, name)


def _set_field(driver: Any, name: str, value: str) -> None:
    """Set an input's value as a person would end up with it (date inputs ignore keys)."""
    element = _field(driver, name)
    driver.execute_script("arguments[0].value = arguments[1];"
                          "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                          "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                          element, value)


def _set_moment(driver: Any, moment: datetime) -> None:
    """The compose form's "send at" moment, in the series' zone."""
    local = moment.astimezone(ZoneInfo("Europe/Brussels"))
    _set_field(driver, "send_at", local.strftime("%Y-%m-%dT%H:%M"))


def _button(driver: Any, label: str) -> Any:
    """The button whose text contains ``label`` (case-insensitive)."""
    from selenium.webdriver.common.by import By

    lower = "translate(normalize-space(.), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', " \
            "'abcdefghijklmnopqrstuvwxyz')"
    return driver.find_element(
        By.XPATH, f"//button[contains({lower}, {_xpath_text(label.lower())})] | "
                  f"//input[@type='submit' and contains(translate(@value, "
                  f"'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), "
                  f"{_xpath_text(label.lower())})]")


def _frame_text(driver: Any, frame: Any) -> str:
    driver.switch_to.frame(frame)
    try:
        return _visible(driver)
    finally:
        driver.switch_to.default_content()


def _someone(demo: Demo) -> str:
    return sorted(r.registrant_id for r in demo.registrations())[0]


def _serious(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per serious or critical violation: page, impact, rule id, help, where."""
    return [f"{page}: {v['impact']} {v['id']} ({v['help']}) at "
            f"{', '.join(str(n['target'][0]) for n in v['nodes'][:3])}"
            for page, violations in found.items() for v in violations
            if v["impact"] in ("serious", "critical")]


def _needs_axe() -> None:
    """Skips the test without axe-core (fails it in a run that requires the browser)."""
    if not AXE.is_file():
        without("needs axe-core from npm (scripts/check runs `npm ci` when npm is there)")


def _assert_accessible(driver: Any, name: str) -> None:
    """axe-core on a page in a state only a flow reaches (left out without axe-core, but
    for a run that requires it: the flow itself still runs)."""
    if not AXE.is_file():
        if os.environ.get("WEBINAR_NOTIFY_REQUIRE_BROWSER"):
            pytest.fail("axe-core is missing and this run requires it")
        return
    serious = _serious({name: _axe(driver)})
    assert not serious, "\n".join(serious)


def _axe(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.2 A and AA on the page as it is."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},"
        " resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical',"
        " help: String(e), nodes: [{target: ['document']}]}])));", AXE_TAGS)
    violations: list[dict[str, Any]] = json.loads(result)
    return violations


def _shot(driver: Any, name: str) -> Path:
    """A screenshot of the whole page (not only the window), as the run's artifact."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    width, height = (driver.execute_script("return document.documentElement.clientWidth"),
                     min(int(size["height"]), 4000))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    path = SHOTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def _save_overview(driver: Any) -> None:
    """The overview's screenshot; with WEBINAR_NOTIFY_DOCS_SCREENSHOTS=1 (scripts/screenshots)
    also the README's copy in docs/images/."""
    shot = _shot(driver, "console-overview.png")
    if os.environ.get("WEBINAR_NOTIFY_DOCS_SCREENSHOTS") == "1":
        OVERVIEW_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, OVERVIEW_IMAGE)
