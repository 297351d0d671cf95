"""The manage link in every confirmation leads to a private, read-only page."""

from __future__ import annotations

import email
import email.policy
import re

from conftest import Harness


def _manage_path(harness: Harness) -> str:
    harness.runtime.drain()
    [entry] = harness.outbox.entries()
    message = email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                       policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    url = re.search(r"http://localhost:8000(/manage/\S+)", text)
    assert url, text
    return url.group(1)


def test_the_link_shows_the_registration_and_changes_nothing(harness: Harness) -> None:
    harness.register(name="Ada <b>Lovelace</b>", time_zone="America/Toronto",
                     sessions=["s1", "s5"])
    path = _manage_path(harness)
    before = harness.items("REG#")

    page = harness.runtime.request("GET", path, {}, b"")

    assert page.status == 200 and page.content_type.startswith("text/html")
    assert "Reirradiation Challenges &amp; Opportunities" in page.text
    assert "Dose Constraints for Reirradiation" in page.text
    assert "Challenges in the Clinical Reirradiation Workflow" not in page.text
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)" in page.text
    assert "ada@example.com" not in page.text
    assert harness.items("REG#") == before


def test_a_tampered_or_foreign_token_is_refused(harness: Harness) -> None:
    harness.register()
    path = _manage_path(harness)
    series_id, token = path.split("/")[2:4]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (f"/manage/{series_id}/{tampered}", f"/manage/other-series/{token}",
                f"/manage/{series_id}/not-a-token", f"/manage/{series_id}/r{'0' * 31}.x"):
        answer = harness.runtime.request("GET", bad, {}, b"")
        assert answer.status == 404, bad
        assert "not valid" in answer.text
