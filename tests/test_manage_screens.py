"""The registrant's manage page in a real headless browser (Debian's chromium) in two states
the plain manage test does not reach: a person in French holding the series' certificate, a
session's certificate and a revoked one; and a person waitlisted for one session of a capacity
series and seated in the others. axe-core on each at a phone's and a desktop's width, no
sideways scroll on the phone, each download link named after its certificate, the page's
language; screenshots in test-artifacts/screenshots/manage-certificates-*.png and
manage-waitlist-*.png.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from conftest import CHROMEDRIVER, CHROMIUM, serving, without
from test_certificates_e2e import (
    AFTER,
    BASE,
    certificate_series,
    certificate_site,
    evaluate,
    held,
    register,
)
from test_console_browser import WIDTHS, _axe, _needs_axe, _serious, _shot, _visible
from webinar_notify.core.policies import Policy
from webinar_notify.local.server import LocalServer

CERTIFIED = "helene@example.org"  # French; the series' certificate, s1's revoked, s2's
SEATED = "seated@example.org"  # took the one seat of s3
WAITING = "jonas@example.org"  # German; waitlisted for s3, seated in the others


@dataclass
class Pages:
    base: str
    certificates: str  # the manage paths of each person
    waitlist: str


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    if not (CHROMIUM and CHROMEDRIVER):
        without("needs Debian's chromium and chromium-driver (scripts/check installs them "
                "as root)")
    series = replace(certificate_series(), policy=Policy(session_capacity={"s3": 1}))
    server = LocalServer(("127.0.0.1", 0), io.StringIO())
    base = f"http://127.0.0.1:{server.server_address[1]}"
    folder = tmp_path_factory.mktemp("manage-screens")
    with certificate_site(folder, series, base) as harness:
        runtime, clock = harness.runtime, harness.clock
        register(harness, SEATED, "Sam Seated")
        register(harness, CERTIFIED, "Hélène Dupré-Lefèvre", "fr")
        register(harness, WAITING, "Jonas Müller", "de")
        clock.set(AFTER)
        for session in ("s1", "s2"):
            marked = runtime.organiser(f"{BASE}/sessions/{session}/marks",
                                       {"emails": [CERTIFIED]}, f"mark-{session}")
            assert marked.status == 200, marked.body
        assert evaluate(harness, CERTIFIED).status == 200
        runtime.drain()
        certificates = held(harness, CERTIFIED)
        assert set(certificates) == {"series", "session:s1", "session:s2"}, certificates
        revoked = certificates["session:s1"].certificate_id
        assert runtime.organiser(f"{BASE}/certificates/{revoked}/revoke", {},
                                 "revoke").status == 200
        paths = [harness.link(r"http://127\.0\.0\.1:\d+(/manage/\S+)", to=to)
                 for to in (CERTIFIED, WAITING)]
        with serving(server, runtime):
            yield Pages(base, *paths)


@pytest.fixture(scope="module")
def driver(pages: Pages) -> Iterator[Any]:
    from conftest import headless_chromium

    with headless_chromium("1280,900") as browser:
        yield browser


def _download_names(driver: Any) -> list[str]:
    """The accessible name of each certificate download link, as the browser computes it."""
    from selenium.webdriver.common.by import By

    return [str(link.accessible_name) for link in
            driver.find_elements(By.CSS_SELECTOR, "a[href*='/certificates/']")]


def _button_names(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [str(b.accessible_name) for b in driver.find_elements(By.TAG_NAME, "button")]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_manage_page_with_certificates_and_with_a_waitlist(pages: Pages, driver: Any,
                                                               width: str) -> None:
    _needs_axe()
    driver.set_window_size(*WIDTHS[width])
    expected = {  # page: (its language, what it must say)
        "certificates": ("fr", ["Vos certificats", "Télécharger le certificat (PDF)",
                                "Révoqué par les organisateurs", "Vos sessions",
                                "de ces sessions et êtes sur liste d’attente pour les autres"]),
        "waitlist": ("de", ["Warteliste verlassen", "Platz 1", "Ihr Platz ist bestätigt",
                            "dieser Sitzungen einen Platz und stehen für die übrigen auf der "
                            "Warteliste"]),
    }
    found = {}
    for name, (language, said) in expected.items():
        driver.get(pages.base + getattr(pages, name))
        _shot(driver, f"manage-{name}-{width}.png")  # first: to look at a failure
        text = _visible(driver)
        assert all(words in text for words in said), (name, text[:600])
        assert driver.find_element("tag name", "html").get_attribute("lang") == language
        wide = driver.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not wide, f"{name} scrolls sideways at {width}"
        found[name] = _axe(driver)
        if name == "certificates":  # first on the page, above the eight sessions
            assert text.index("Vos certificats") < text.index("Vos sessions"), text[:600]
            names = _download_names(driver)
            assert names == [f"Télécharger le certificat (PDF) {title}" for title in (
                "Challenges in Reirradiation: From Art to Science",  # the series'
                "Challenges in the Clinical Reirradiation Workflow")], names  # s2's
        else:  # each button says which session it leaves
            assert "Warteliste verlassen Practical Radiobiology for Clinical " \
                "Reirradiations Challenges" in _button_names(driver)
    serious = _serious(found)
    assert not serious, "\n".join(serious)
