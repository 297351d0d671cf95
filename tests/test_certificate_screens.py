"""The organiser's attendance and certificate pages, and the public verification page, in a
real headless browser (Debian's chromium): the approvals page, the certificates page, the
review of attendance (a session and the series), the revocation's confirmation, and /verify
for a valid, a revoked and an unknown id; axe-core on each at a desktop's and a phone's
width, with screenshots in test-artifacts/screenshots/certificates-*.png.

The state is the certificate rehearsal (three registrants at 100 %, 86 % and 40 %, two
evaluations), plus one person 5 points under the threshold, one awaiting approval and one
certificate revoked, served on a local port once for the module.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import CHROMEDRIVER, CHROMIUM, SERIES_ID, serving, without
from test_certificates_e2e import (
    BASE,
    certificate_series,
    certificate_site,
    held,
    register,
    rehearse,
)
from test_console_browser import (
    WIDTHS,
    _axe,
    _needs_axe,
    _serious,
    _shot,
    _sign_in,
    _submit,
    _visible,
)
from webinar_notify.core.series_document import parse_series, series_to_document
from webinar_notify.local.server import LocalServer

ACCOUNT = "organiser@example.org"


@dataclass
class Site:
    base: str
    password: str
    valid: str  # a certificate id that verifies
    revoked: str  # one an organiser revoked

    def console(self, path: str) -> str:
        return f"{self.base}/console/series/{SERIES_ID}/{path}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not (CHROMIUM and CHROMEDRIVER):
        without("needs Debian's chromium and chromium-driver (scripts/check installs them "
                "as root)")
    from webinar_notify.local.accounts import add_organiser

    doc = series_to_document(certificate_series())
    doc["approval"], doc["auto_approve"] = "manual", {"domains": ["example.org"]}
    series = parse_series(doc)
    server = LocalServer(("127.0.0.1", 0), io.StringIO())
    base = f"http://127.0.0.1:{server.server_address[1]}"
    folder = tmp_path_factory.mktemp("certificate-screens")
    with certificate_site(folder, series, base) as harness:
        runtime = harness.runtime
        register(harness, "pending@clinic.example", "Amara Okafor")  # awaits approval
        rehearse(harness)
        register(harness, "lea@example.org", "Léa Dubois")
        marked = runtime.organiser(f"{BASE}/sessions/s1/marks",
                                   {"emails": ["lea@example.org"], "minutes": 48}, "lea")
        assert marked.status == 200, marked.body
        revoked = held(harness, "khai@example.org")["session:s1"].certificate_id
        assert runtime.organiser(f"{BASE}/certificates/{revoked}/revoke", {},
                                 "revoke").status == 200
        valid = held(harness, "hanako@example.org")["series"].certificate_id
        password = add_organiser(runtime.accounts_admin, ACCOUNT, "Local organiser",
                                 SERIES_ID, "editor", None)
        with serving(server, runtime):
            yield Site(base, password, valid, revoked)


@pytest.fixture(scope="module")
def driver(site: Site) -> Iterator[Any]:
    from conftest import headless_chromium

    with headless_chromium("1280,900") as browser:
        yield browser


def pages(site: Site) -> dict[str, str]:
    return {
        "approvals": site.console("approvals"),
        "certificates": site.console("certificates"),
        "review-s1": site.console("certificates/review?session=s1"),
        "review-series": site.console("certificates/review"),
        "revoke": site.console(f"certificates/revoke?certificate_id={site.valid}&back=s1"),
        "verify-valid": f"{site.base}/verify/{site.valid}",
        "verify-revoked": f"{site.base}/verify/{site.revoked}",
        "verify-unknown": f"{site.base}/verify/AAAA-AAAA-AAAA-AAAA",
    }


EXPECTED = {  # what each page must say, so a screenshot of an error page cannot pass
    "approvals": "Amara Okafor",
    "certificates": "Review attendance, person by person",
    "review-s1": "5 points under the threshold",
    "review-series": "the evaluation is not done",
    "revoke": "Revoke this certificate?",
    "verify-valid": "山田 花子",
    "verify-revoked": "revoked",
    "verify-unknown": "No certificate with the ID",
}


@pytest.mark.parametrize("width", list(WIDTHS))
def test_each_page_reads_well_and_axe_finds_no_serious_violation(site: Site, driver: Any,
                                                                 width: str) -> None:
    _needs_axe()
    driver.set_window_size(*WIDTHS[width])
    driver.delete_all_cookies()
    driver.get(f"{site.base}/console/sign-in")
    _sign_in(driver, ACCOUNT, site.password)
    found = {}
    for name, url in pages(site).items():
        driver.get(url)
        _shot(driver, f"certificates-{name}-{width}.png")  # first: to look at a failure
        assert EXPECTED[name] in _visible(driver), (name, _visible(driver)[:400])
        wide = driver.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not wide, f"{name} scrolls sideways at {width}"
        found[name] = _axe(driver)
    serious = _serious(found)
    assert not serious, "\n".join(serious)


def test_the_review_is_usable_by_keyboard_alone(site: Site, driver: Any) -> None:
    """Tab to Léa's "Mark present" and press Enter: she is marked, the review says so."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(*WIDTHS["desktop"])
    driver.get(site.console("certificates/review?session=s1"))
    if "/console/sign-in" in driver.current_url:
        _sign_in(driver, ACCOUNT, site.password)
        driver.get(site.console("certificates/review?session=s1"))
    target = driver.find_element(By.CSS_SELECTOR,
                                 "button[aria-label='Mark present: Léa Dubois']")
    body = driver.find_element(By.TAG_NAME, "body")
    body.click()
    for _ in range(80):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element == target:
            break
    assert driver.switch_to.active_element == target, "the button is not reachable by Tab"
    outline = driver.execute_script(
        "return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    _submit(driver, _Enter(driver.switch_to.active_element))
    assert "Léa Dubois is marked present at s1. 1 certificate issued." in _visible(driver)
    _shot(driver, "certificates-review-marked-desktop.png")


class _Enter:
    """A focused element "clicked" with the Enter key, as _submit expects of a button."""

    def __init__(self, element: Any) -> None:
        self.element = element

    def click(self) -> None:
        from selenium.webdriver.common.keys import Keys

        self.element.send_keys(Keys.ENTER)
