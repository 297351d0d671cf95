"""The French confirmation and reminder in a real browser (Debian's chromium) at 600 and
375 px: screenshots in test-artifacts/screenshots/ to read as a French-speaking clinician
would, and the checks a reader would make: nothing wider than the screen, each date on one
line, the page in French."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import test_email_defects as kinds
from conftest import SHOTS, headless_chromium
from webinar_notify.core.compose import compose
from webinar_notify.core.mime import Email


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium(None) as driver:
        yield driver


def _french(kind: str) -> Email:
    job = {"confirmation": kinds.job("confirmation", ("s1", "s2"),
                                     join_url="https://zoom.example/j/1"),
           "reminder": kinds.job("reminder", ("s1",), join_url="https://zoom.example/j/1")}[kind]
    job = replace(job, recipient=replace(job.recipient, language="fr",
                                         time_zone="Europe/Paris"))
    return compose(kinds.series(), job, now=kinds.NOW, renderer=kinds.renderer(),
                   links=kinds.LINKS)


@pytest.mark.parametrize("kind", ["confirmation", "reminder"])
@pytest.mark.parametrize("width", [600, 375])
def test_french_emails_read_well_at_600_and_375_px(browser: object, tmp_path: Path,
                                                   kind: str, width: int) -> None:
    made = _french(kind)
    page = tmp_path / f"{kind}.html"
    page.write_text(made.html, encoding="utf-8")
    driver: object = browser
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    driver.get(page.as_uri())  # type: ignore[attr-defined]
    inner = driver.execute_script("return window.innerWidth")  # type: ignore[attr-defined]
    driver.set_window_size(width + (width - inner), 900)  # type: ignore[attr-defined]
    height = driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollHeight")
    driver.set_window_size(width + (width - inner), height + 120)  # type: ignore[attr-defined]
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.lang") == "fr"
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth <= window.innerWidth")
    # each date sits on one line: its box is one line high
    heights = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll('span')].filter(s => "
        "s.style.whiteSpace === 'nowrap' && /2023/.test(s.textContent)).map(s => "
        "[s.textContent, s.getClientRects().length])")
    assert heights and all(lines == 1 for _text, lines in heights), heights
    text = driver.execute_script(  # type: ignore[attr-defined]
        "return document.body.innerText")
    assert "jeudi 26 octobre 2023" in text
    driver.save_screenshot(  # type: ignore[attr-defined]
        str(SHOTS / f"email-fr-{kind}-{width}.png"))
