"""Every kind of email in a real browser (Debian's chromium), in English and in French, at 375
and 600 px: screenshots in test-artifacts/screenshots/ to read as a registrant would, and the
checks a reader would make: nothing wider than the screen, each date on one line, the page in
the reader's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import test_email_defects as kinds
from conftest import SHOTS, headless_chromium

# What a reader of each language sees somewhere in the email of the first session's kinds.
DATE_OF_S1 = {"en": "Thu 26 Oct 2023", "fr": "jeudi 26 octobre 2023"}
SESSION_KINDS = ("confirmation", "confirmation-one", "reminder", "update", "details")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium(None) as driver:
        yield driver


def open_email(driver: object, folder: Path, name: str, html: str) -> None:
    """The email's HTML as a page in the browser."""
    page = folder / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    driver.get(page.as_uri())  # type: ignore[attr-defined]


def no_sideways_scroll(driver: object) -> bool:
    """The page is no wider than the window."""
    return bool(driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth <= window.innerWidth"))


def _fit(driver: object, width: int) -> None:
    """The window's inner width is ``width`` and its height the whole email."""
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    inner = driver.execute_script("return window.innerWidth")  # type: ignore[attr-defined]
    driver.set_window_size(width + (width - inner), 900)  # type: ignore[attr-defined]
    height = driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollHeight")
    driver.set_window_size(width + (width - inner), height + 120)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", kinds.KINDS)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_kind_reads_well_in_english_and_french(browser: object, tmp_path: Path,
                                                     kind: str, language: str) -> None:
    made = kinds.every_kind(False, language)[kind]
    driver: object = browser
    open_email(driver, tmp_path, kind, made.html or "")
    for width in (375, 600):
        _fit(driver, width)
        assert driver.execute_script(  # type: ignore[attr-defined]
            "return document.documentElement.lang") == language
        assert no_sideways_scroll(driver), width
        # each date kept on one line is one line high
        heights = driver.execute_script(  # type: ignore[attr-defined]
            "return [...document.querySelectorAll('span')].filter(s => "
            "getComputedStyle(s).whiteSpace === 'nowrap' && /20\\d\\d/.test(s.textContent))"
            ".map(s => [s.textContent, s.getClientRects().length])")
        assert all(lines == 1 for _text, lines in heights), heights
        assert heights or kind not in SESSION_KINDS
        driver.save_screenshot(  # type: ignore[attr-defined]
            str(SHOTS / f"email-{language}-{kind}-{width}.png"))
    text = driver.execute_script("return document.body.innerText")  # type: ignore[attr-defined]
    assert made.language == language  # written as Content-Language by core/mime.py
    if kind in SESSION_KINDS:
        assert DATE_OF_S1[language] in text, text[:400]
