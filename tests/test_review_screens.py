"""The confirmation a waitlisted person gets when a seat opens up ("promoted"), which
``test_email_defects.every_kind`` does not compose, in a real browser (Debian's chromium) in
English and French at 375 and 600 px, with the same checks as test_translation_screens.py;
screenshots in test-artifacts/screenshots/email-{en,fr}-promoted-{375,600}.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import SHOTS, headless_chromium
from test_email_defects import LINKS, NOW, job, renderer, series
from test_translation_screens import _fit, no_sideways_scroll, open_email
from webinar_notify.core.compose import compose
from webinar_notify.core.kinds import ConfirmationPayload

SAID = {"en": "A seat opened up", "fr": "Une place s’est libérée"}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium(None) as driver:
        yield driver


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_promoted_confirmation_reads_well(browser: object, tmp_path: Path,
                                              language: str) -> None:
    made = compose(series(), job("confirmation", ("s1",), language=language,
                                 payload=ConfirmationPayload(promoted=True)),
                   now=NOW, renderer=renderer(), links=LINKS)
    driver: object = browser
    open_email(driver, tmp_path, "promoted", made.html or "")
    for width in (375, 600):
        _fit(driver, width)
        assert no_sideways_scroll(driver), width
        driver.save_screenshot(  # type: ignore[attr-defined]
            str(SHOTS / f"email-{language}-promoted-{width}.png"))
    text = driver.execute_script("return document.body.innerText")  # type: ignore[attr-defined]
    assert SAID[language] in text, text[:400]
    assert "Thank you for registering" not in text
