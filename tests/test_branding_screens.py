"""A branded confirmation in a real browser (Debian's chromium) at 600 and 375 px, and in dark
mode: the logo at its email size, the accent on the header rule and the buttons, nothing wider
than the screen.
Screenshots in test-artifacts/screenshots/. The logo's https URL is swapped for a local file,
so the test needs no network."""

from __future__ import annotations

from pathlib import Path

import pytest

import test_email_defects as kinds
from test_translation_screens import SHOTS, browser

__all__ = ["browser"]  # the fixture, shared with the French screenshots

LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="320" height="80" viewBox="0 0 320 80">
<rect width="320" height="80" rx="8" fill="#7a1f5c"/>
<text x="160" y="52" font-family="Helvetica, Arial, sans-serif" font-size="30" fill="#ffffff"
 text-anchor="middle">Oncology Society</text></svg>"""


@pytest.mark.parametrize(("width", "scheme"), [(600, "light"), (375, "light"), (375, "dark")])
def test_a_branded_confirmation_reads_well_at_600_and_375_px(browser: object, tmp_path: Path,
                                                             width: int, scheme: str) -> None:
    logo = tmp_path / "logo.svg"
    logo.write_text(LOGO, encoding="utf-8")
    html = kinds.every_kind(True)["confirmation-one"].html or ""
    page = tmp_path / "confirmation.html"
    page.write_text(html.replace(kinds.BRAND["logo"]["url"], logo.as_uri()), encoding="utf-8")
    driver: object = browser
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {  # type: ignore[attr-defined]
        "features": [{"name": "prefers-color-scheme", "value": scheme}]})
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    driver.get(page.as_uri())  # type: ignore[attr-defined]
    inner = driver.execute_script("return window.innerWidth")  # type: ignore[attr-defined]
    height = driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollHeight")
    driver.set_window_size(width + (width - inner), height + 120)  # type: ignore[attr-defined]
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth <= window.innerWidth")
    shown = driver.execute_script(  # type: ignore[attr-defined]
        "const img = document.querySelector('img'); const r = img.getBoundingClientRect();"
        "return [img.complete && img.naturalWidth > 0, r.width, r.height,"
        " getComputedStyle(img.closest('td')).borderBottomColor,"
        " [...document.querySelectorAll('td[bgcolor]')].map(td =>"
        "   getComputedStyle(td).backgroundColor)]")
    loaded, logo_width, logo_height, rule, buttons = shown
    assert loaded and logo_width == 160 and logo_height == 40
    accent = "rgb(122, 31, 92)"  # #7a1f5c
    assert accent in buttons  # white text on the accent, in either scheme
    assert rule == accent  # the header rule is decoration: the brand colour in both
    canvas = driver.execute_script(  # type: ignore[attr-defined]
        "return getComputedStyle(document.body).backgroundColor")
    assert canvas == ("rgb(244, 245, 247)" if scheme == "light" else "rgb(18, 20, 23)")
    text = driver.execute_script("return document.body.innerText")  # type: ignore[attr-defined]
    assert kinds.BRAND["postal_address"] in text and kinds.BRAND["footer"] in text
    driver.save_screenshot(  # type: ignore[attr-defined]
        str(SHOTS / f"email-branded-confirmation-{width}{'-dark' if scheme == 'dark' else ''}"
                    ".png"))
