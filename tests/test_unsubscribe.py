"""One-click unsubscribe (RFC 8058) from the link in a reminder, and the way back in."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

from conftest import Harness

SERIES = "/organiser/series/reirradiation-2023"
S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)


def _link_from_a_reminder(harness: Harness, address: str) -> str:
    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    harness.runtime.drain()
    [entry] = [e for e in harness.outbox.entries()
               if e["kind"] == "reminder" and e["to"] == address]
    raw = (harness.outbox_dir / str(entry["file"])).read_bytes()
    header = str(email.message_from_bytes(raw, policy=email.policy.default)["List-Unsubscribe"])
    match = re.match(r"<http://localhost:8000(/unsubscribe/[^>]+)>", header)
    assert match, header
    return match.group(1)


def _announce(harness: Harness, key: str) -> int:
    answer = harness.runtime.organiser(f"{SERIES}/announcements", {
        "id": key, "subject": "News", "body_markdown": "News.", "audience": {"all": True}},
        idempotency_key=key)
    harness.runtime.drain()
    return int(answer.body["recipients"])


def _kinds(harness: Harness, address: str) -> list[str]:
    return [str(e["kind"]) for e in harness.outbox.entries() if e["to"] == address]


def test_a_bare_one_click_post_stops_announcements_and_with_scope_all_reminders(
        harness: Harness) -> None:
    for i, address in enumerate(("ada@example.org", "bob@example.org")):
        harness.register(email=address, name="X", event_id=f"e{i}")
    harness.runtime.drain()
    link = _link_from_a_reminder(harness, "ada@example.org")
    assert link.endswith("?scope=all")

    looked = harness.runtime.request("GET", link, {}, b"")  # a mail scanner following it
    assert looked.status == 200 and "Nothing changes until you press the button" in looked.text
    assert _announce(harness, "first") == 2

    answer = harness.runtime.request(
        "POST", link, {"content-type": "application/x-www-form-urlencoded"},
        b"List-Unsubscribe=One-Click")
    again = harness.runtime.request(
        "POST", link, {"content-type": "application/x-www-form-urlencoded"},
        b"List-Unsubscribe=One-Click")
    assert answer.status == again.status == 200 and "You are unsubscribed" in answer.text

    assert _announce(harness, "second") == 1
    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    harness.runtime.drain()
    assert _kinds(harness, "ada@example.org") == ["confirmation", "reminder", "announcement"]
    assert _kinds(harness, "bob@example.org") == ["confirmation", "reminder", "announcement",
                                                  "announcement", "reminder"]

    back = harness.runtime.request("POST", link, {}, b"action=resubscribe")
    assert back.status == 200 and "Welcome back" in back.text
    assert _announce(harness, "third") == 2


def test_announcements_scope_keeps_reminders(harness: Harness) -> None:
    harness.register(email="ada@example.org", name="Ada", event_id="e1")
    harness.runtime.drain()
    link = _link_from_a_reminder(harness, "ada@example.org").replace("scope=all",
                                                                     "scope=announcements")
    harness.runtime.request("POST", link, {}, b"List-Unsubscribe=One-Click")
    assert _announce(harness, "news") == 0
    harness.clock.set(S1 - timedelta(days=1))
    harness.runtime.tick()
    harness.runtime.drain()
    assert _kinds(harness, "ada@example.org") == ["confirmation", "reminder", "reminder"]


def test_a_tampered_token_is_refused_and_changes_nothing(harness: Harness) -> None:
    harness.register(email="ada@example.org", name="Ada", event_id="e1")
    harness.runtime.drain()
    link = _link_from_a_reminder(harness, "ada@example.org")
    path, _, query = link.partition("?")
    tampered = path[:-3] + ("xyz" if not path.endswith("xyz") else "abc") + "?" + query
    for bad in (tampered, link.replace("reirradiation-2023", "other-series")):
        answer = harness.runtime.request("POST", bad, {}, b"List-Unsubscribe=One-Click")
        assert answer.status == 404 and "not valid" in answer.text
    assert _announce(harness, "still") == 1
