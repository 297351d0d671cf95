"""One-click unsubscribe (RFC 8058) from the link in a reminder, and the way back in."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

from conftest import Harness

SERIES = "/organiser/series/reirradiation-2023"
S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
FORM = {"content-type": "application/x-www-form-urlencoded"}


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
    """Send an announcement to everyone; how many people got it."""
    before = sum(e["kind"] == "announcement" for e in harness.outbox.entries())
    answer = harness.runtime.organiser(f"{SERIES}/announcements", {
        "id": key, "subject": "News", "body_markdown": "News.", "audience": {"all": True}},
        idempotency_key=key)
    assert answer.status == 202, answer.body
    harness.runtime.drain()
    return sum(e["kind"] == "announcement" for e in harness.outbox.entries()) - before


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

    back = harness.runtime.request("POST", link, FORM, b"action=resubscribe")
    assert back.status == 200 and "Welcome back" in back.text
    assert _announce(harness, "third") == 2


def test_announcements_scope_keeps_reminders(harness: Harness) -> None:
    harness.register(email="ada@example.org", name="Ada", event_id="e1")
    harness.runtime.drain()
    link = _link_from_a_reminder(harness, "ada@example.org").replace("scope=all",
                                                                     "scope=announcements")
    harness.runtime.request("POST", link, FORM, b"List-Unsubscribe=One-Click")
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
        answer = harness.runtime.request("POST", bad, FORM, b"List-Unsubscribe=One-Click")
        assert answer.status == 404 and "not valid" in answer.text
    assert _announce(harness, "still") == 1


def _multipart(fields: dict[str, str], boundary: str = "b0undary") -> tuple[dict[str, str], bytes]:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, body


def _state(harness: Harness, address: str) -> tuple[bool, bool]:
    registration = harness.registration(address)
    return registration.reminders_off, registration.announcements_off


def test_one_click_as_rfc_8058_recommends_multipart_and_from_any_origin(
        harness: Harness) -> None:
    """A mail provider's server posts multipart/form-data (RFC 8058 §3.1 says SHOULD), with no
    Origin; a webmail may post from its own origin. Both unsubscribe: that is what the link is
    for, and it only ever stops mail."""
    for i, address in enumerate(("ada@example.org", "bob@example.org")):
        harness.register(email=address, name="X", event_id=f"e{i}")
    harness.runtime.drain()
    ada = _link_from_a_reminder(harness, "ada@example.org")
    bob = _link_from_a_reminder(harness, "bob@example.org")
    headers, body = _multipart({"List-Unsubscribe": "One-Click"})
    answer = harness.runtime.request("POST", ada, headers, body)
    assert answer.status == 200 and "You are unsubscribed" in answer.text
    assert _state(harness, "ada@example.org") == (True, True)

    webmail = {**FORM, "origin": "https://webmail.example.net", "sec-fetch-site": "cross-site"}
    answer = harness.runtime.request("POST", bob, webmail,
                                     b"List-Unsubscribe=One-Click")
    assert answer.status == 200 and _state(harness, "bob@example.org") == (True, True)
    assert answer.headers["Cache-Control"] == "private, no-store"


def test_a_cross_site_post_cannot_subscribe_again_and_odd_bodies_are_refused(
        harness: Harness) -> None:
    harness.register(email="ada@example.org", name="Ada", event_id="e1")
    harness.runtime.drain()
    link = _link_from_a_reminder(harness, "ada@example.org")
    harness.runtime.request("POST", link, FORM, b"List-Unsubscribe=One-Click")
    assert _state(harness, "ada@example.org") == (True, True)

    evil = {**FORM, "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    for headers, body in ((evil, b"action=resubscribe"),
                          ({**FORM, "origin": "https://evil.example"}, b"action=resubscribe"),
                          (evil, b"action=resubscribe&List-Unsubscribe=One-Click")):
        answer = harness.runtime.request("POST", link, headers, body)
        assert answer.status in (200, 403), answer.text
        assert _state(harness, "ada@example.org") == (True, True)
    refused = harness.runtime.request("POST", link, evil, b"action=resubscribe")
    assert refused.status == 403 and "its own page" in refused.text
    assert refused.headers["X-Content-Type-Options"] == "nosniff"

    for content_type in ("text/plain", "application/json"):
        answer = harness.runtime.request("POST", link, {"content-type": content_type},
                                         b"action=resubscribe")
        assert answer.status == 415, content_type
    assert harness.runtime.request("POST", link, {}, b"action=resubscribe").status == 415
    assert _state(harness, "ada@example.org") == (True, True)

    own = {**FORM, "origin": "http://localhost", "host": "localhost",
           "sec-fetch-site": "same-origin"}
    back = harness.runtime.request("POST", link, own, b"action=resubscribe")
    assert back.status == 200 and _state(harness, "ada@example.org") == (False, False)
