"""Double opt-in (a series option): nothing but the confirmation until the link is used."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from conftest import SERIES_FILE, Harness
from webinar_notify.series_files import load_series_file

S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)


def test_reminders_wait_for_the_confirmation_link(harness: Harness) -> None:
    series = replace(load_series_file(SERIES_FILE), double_opt_in=True)
    harness.runtime.push_series(series)
    harness.register()
    harness.runtime.drain()
    [entry] = harness.outbox.entries()
    message = email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                       policy=email.policy.default)
    assert str(message["Subject"]).startswith("Please confirm your registration")
    path = harness.link(r"http://localhost:8000(/optin/\S+)")

    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    harness.runtime.drain()
    page = harness.runtime.request("GET", path, {}, b"")  # looking changes nothing
    assert page.status == 200 and "Confirm my registration" in page.text
    assert [e["kind"] for e in harness.outbox.entries()] == ["confirmation"]

    cross_site = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    refused = harness.runtime.request("POST", path, cross_site, b"")
    assert refused.status == 403 and not harness.registration("ada@example.com").opted_in
    confirmed = harness.runtime.request("POST", path, {}, b"")
    assert confirmed.status == 200 and "Your registration is confirmed" in confirmed.text
    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    harness.runtime.drain()
    assert [e["kind"] for e in harness.outbox.entries()] == ["confirmation", "reminder"]
    forged = harness.runtime.request("POST", path[:-2] + "xx", {}, b"")
    assert forged.status == 404
