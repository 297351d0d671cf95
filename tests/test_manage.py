"""The manage link in every confirmation leads to a private, read-only page."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from conftest import Harness


def test_the_link_shows_the_registration_and_changes_nothing(harness: Harness) -> None:
    harness.register(name="Ada <b>Lovelace</b>", time_zone="America/Toronto",
                     sessions=["s1", "s5"])
    path = harness.manage_path()
    before = harness.items("REG#")

    page = harness.runtime.request("GET", path, {}, b"")

    assert page.status == 200 and page.content_type.startswith("text/html")
    assert "Reirradiation Challenges &amp; Opportunities" in page.text
    assert "Dose Constraints for Reirradiation" in page.text
    registered = page.text.split("More sessions ahead")[0]
    assert "Challenges in the Clinical Reirradiation Workflow" not in registered
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)" in page.text
    assert "ada@example.com" not in page.text
    assert harness.items("REG#") == before


def test_a_tampered_or_foreign_token_is_refused(harness: Harness) -> None:
    harness.register()
    path = harness.manage_path()
    series_id, token = path.split("/")[2:4]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (f"/manage/{series_id}/{tampered}", f"/manage/other-series/{token}",
                f"/manage/{series_id}/not-a-token", f"/manage/{series_id}/r{'0' * 31}.x"):
        answer = harness.runtime.request("GET", bad, {}, b"")
        assert answer.status == 404, bad
        assert "not valid" in answer.text or "as in the emails" in answer.text


def confirm_value(page: str) -> str:
    """The signed value the erase confirmation hands out for the second press."""
    match = re.search(r'name="confirm" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _post(harness: Harness, path: str, form: str) -> str:
    answer = harness.runtime.request("POST", path,
                                     {"content-type": "application/x-www-form-urlencoded"},
                                     form.encode())
    harness.runtime.drain()
    assert answer.status == 200, answer.text
    return answer.text


def test_adding_and_dropping_sessions_from_the_page(harness: Harness) -> None:
    harness.register(sessions=["s1"])
    path = harness.manage_path()
    added = _post(harness, path, "action=add&session=s2")
    assert "Added" in added
    entries = harness.outbox.entries()
    assert [e["sessions"] for e in entries] == [["s1"], ["s1", "s2"]]  # a new confirmation
    dropped = _post(harness, path, "action=drop&session=s1")
    assert "Dropped" in dropped
    data = harness.runtime.request("GET", f"{path}/data", {}, b"")
    assert data.status == 200 and data.body["sessions"] == ["s2"]
    assert data.body["email"] == "ada@example.com"


def test_erasure_leaves_no_copy_of_the_address_in_the_table(harness: Harness) -> None:
    import boto3

    harness.register(email="erase.me@example.org", name="Erase Me", event_id="evt-e",
                     interests=["estro24-pre-meeting"])
    harness.register(email="keep@example.org", name="Keep", event_id="evt-k")
    path = harness.manage_path("erase.me@example.org")
    asked = _post(harness, path, "action=erase")
    assert "This cannot be undone" in asked
    assert _registration_count(harness) == 2  # nothing gone before the second press
    erased = _post(harness, path, f"action=erase_confirmed&confirm={confirm_value(asked)}")
    assert "Your data is deleted" in erased
    assert "wn-pad wn-footer" not in erased  # nothing to say there: no empty band under the page
    assert "wn-pad wn-footer" in asked  # the manage page keeps its "private to you" footer

    client = boto3.client("dynamodb", region_name="eu-west-1")
    dump = str(client.scan(TableName=harness.runtime.resources.table)["Items"])
    assert "erase.me" not in dump.lower() and "Erase Me" not in dump
    assert "keep@example.org" in dump  # the scan does see addresses that are still there
    assert harness.runtime.request("GET", path, {}, b"").status == 404


def test_links_in_emails_expire_a_year_after_the_last_session(harness: Harness) -> None:
    from datetime import UTC, datetime

    harness.register()
    path = harness.manage_path()
    harness.clock.set(datetime(2025, 5, 23, 12, 0, tzinfo=UTC))  # s8 + 365 days: still valid
    assert harness.runtime.request("GET", path, {}, b"").status == 200
    harness.clock.set(datetime(2025, 5, 25, 12, 0, tzinfo=UTC))
    expired = harness.runtime.request("GET", path, {}, b"")
    assert expired.status == 404 and "expired" in expired.text


def _registration_count(harness: Harness) -> int:
    import boto3

    items = boto3.client("dynamodb", region_name="eu-west-1").scan(
        TableName=harness.runtime.resources.table)["Items"]
    return sum(1 for item in items if item["sk"]["S"].startswith("REG#"))


def test_a_tampered_token_cannot_erase_or_change_anything(harness: Harness) -> None:
    harness.register()
    path = harness.manage_path()
    rid_part, day, signature = path.rsplit("/", 1)[1].split(".")
    forged = path.rsplit("/", 1)[0] + f"/{rid_part}.{day}.{'A' * len(signature)}"
    for form in ("action=erase_confirmed", "action=cancel", "action=add&session=s2"):
        answer = harness.runtime.request(
            "POST", forged, {"content-type": "application/x-www-form-urlencoded"},
            form.encode())
        assert answer.status == 404 and "not valid" in answer.text
    assert _registration_count(harness) == 1


def test_adding_a_session_sends_nothing_to_a_suppressed_address(harness: Harness) -> None:
    from webinar_notify.core.text import suppression_id

    harness.register(sessions=["s1"])
    path = harness.manage_path()
    harness.runtime.store.suppress(suppression_id("local-development-only", "ada@example.com"),
                                   "bounce", harness.clock.now())
    _post(harness, path, "action=add&session=s2")
    assert [e["kind"] for e in harness.outbox.entries()] == ["confirmation"]


FORM = {"content-type": "application/x-www-form-urlencoded"}
CROSS_SITE = ({**FORM, "origin": "https://evil.example", "sec-fetch-site": "cross-site"},
              {**FORM, "origin": "https://evil.example"},  # a browser without Sec-Fetch-*
              {**FORM, "origin": "null"},  # a sandboxed frame, or unknown with no-referrer
              {**FORM, "origin": "http://localhost", "sec-fetch-site": "same-site"})


def test_a_cross_site_post_is_refused_and_changes_nothing(harness: Harness) -> None:
    harness.register(sessions=["s1", "s2"])
    path = harness.manage_path()
    confirm = confirm_value(_post(harness, path, "action=erase"))
    before = harness.items("REG#")
    for headers in CROSS_SITE:
        for form in (f"action=erase_confirmed&confirm={confirm}", "action=drop&session=s1",
                     "action=cancel", "action=add&session=s3", "action=erase"):
            answer = harness.runtime.request("POST", path, headers, form.encode())
            assert answer.status == 403 and "its own page" in answer.text, (headers, form)
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    harness.runtime.drain()
    assert harness.items("REG#") == before
    assert [e["kind"] for e in harness.outbox.entries()] == ["confirmation"]

    own = {**FORM, "origin": "http://localhost", "host": "localhost"}  # Origin = own host
    assert harness.runtime.request("POST", path, own, b"action=cancel").status == 200
    assert harness.registration("ada@example.com").status == "cancelled"


def test_a_browser_form_with_origin_null_passes_on_sec_fetch_site(harness: Harness) -> None:
    """With Referrer-Policy: no-referrer a browser's own form posts "Origin: null"; its
    Sec-Fetch-Site says same-origin, and that is what is trusted."""
    harness.register(sessions=["s1", "s2"])
    path = harness.manage_path()
    headers = {**FORM, "origin": "null", "sec-fetch-site": "same-origin"}
    answer = harness.runtime.request("POST", path, headers, b"action=drop&session=s1")
    assert answer.status == 200 and "Dropped." in answer.text


def test_odd_bodies_are_refused_and_change_nothing(harness: Harness) -> None:
    harness.register(sessions=["s1", "s2"])
    path = harness.manage_path()
    before = harness.items("REG#")
    for headers, body, status in (
            ({"content-type": "text/plain"}, b"action=cancel", 415),
            ({"content-type": "application/json"}, b'{"action": "cancel"}', 415),
            ({}, b"action=cancel", 415),
            (FORM, b"action=cancel&" + b"x" * 17_000, 413),
            (FORM, "action=cancel&n=\u00e9".encode("latin-1"), 400),
            ({"content-type": "multipart/form-data; boundary=zz"}, b"action=cancel", 400)):
        answer = harness.runtime.request("POST", path, headers, body)
        assert answer.status == status, (headers, answer.text)
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert harness.items("REG#") == before


def test_erasure_needs_the_fresh_value_of_its_own_confirmation(harness: Harness) -> None:
    from datetime import timedelta

    harness.register(email="ada@example.com", event_id="evt-a")
    harness.register(email="bob@example.org", event_id="evt-b")
    path = harness.manage_path("ada@example.com")
    bob_path = harness.manage_path("bob@example.org")
    bobs = confirm_value(_post(harness, bob_path, "action=erase"))
    asked = _post(harness, path, "action=erase")
    value = confirm_value(asked)
    expiry, signature = value.split(".")
    for form in ("action=erase_confirmed",  # the one-step erase of old
                 "action=erase_confirmed&confirm=",
                 f"action=erase_confirmed&confirm={bobs}",  # another person's value
                 f"action=erase_confirmed&confirm={int(expiry) + 3600}.{signature}",
                 f"action=erase_confirmed&confirm={expiry}.{'A' * len(signature)}"):
        answer = harness.runtime.request("POST", path, FORM, form.encode())
        assert answer.status == 400 and "confirm" in answer.text, form
        assert _registration_count(harness) == 2
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    late = harness.runtime.request("POST", path, FORM,
                                   f"action=erase_confirmed&confirm={value}".encode())
    assert late.status == 400 and _registration_count(harness) == 2

    fresh = confirm_value(_post(harness, path, "action=erase"))
    assert "Your data is deleted" in _post(harness, path,
                                           f"action=erase_confirmed&confirm={fresh}")
    assert _registration_count(harness) == 1


def test_a_token_without_an_expiry_is_refused(harness: Harness) -> None:
    from webinar_notify.core import tokens

    harness.register()
    path = harness.manage_path()
    rid = path.rsplit("/", 1)[1].split(".")[0]
    signature = tokens._signature("local-development-only", "manage", "reirradiation-2023",
                                  rid, "-")
    forever = f"{rid}.-.{signature}"  # correctly signed, but for ever
    today = harness.clock.now().date()
    assert tokens.check(["local-development-only"], "manage", "reirradiation-2023", forever,
                        today=today) is None
    answer = harness.runtime.request("GET", f"/manage/reirradiation-2023/{forever}", {}, b"")
    assert answer.status == 404
    assert harness.runtime.request("GET", path, {}, b"").status == 200


# --- a session one drops leaves one's calendar -----------------------------------------------


def _calendar(harness: Harness, entry: dict[str, object]) -> list[tuple[str, str, str, int]]:
    """(method, UID, STATUS, SEQUENCE) of each calendar part of an email in the outbox."""
    from icalendar import Calendar

    raw = (harness.outbox_dir / str(entry["file"])).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found = []
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = Calendar.from_ical(part.get_content())
            method = str(calendar["METHOD"])
            assert part.get_param("method") == method
            for event in calendar.events:
                found.append((method, str(event["UID"]), str(event.get("STATUS", "")),
                              int(event["SEQUENCE"])))
    return found


def _sent(harness: Harness, kind: str) -> list[dict[str, object]]:
    harness.runtime.drain()
    return [e for e in harness.outbox.entries() if e["kind"] == kind]


def test_dropping_a_session_sends_a_cancel_with_the_invitations_uid_and_sequence(
        harness: Harness) -> None:
    from datetime import timedelta

    harness.register(sessions=["s1", "s2"])
    path = harness.manage_path()
    [confirmation] = _sent(harness, "confirmation")
    invited = {uid: sequence for method, uid, _status, sequence in
               _calendar(harness, confirmation) if method == "REQUEST"}
    s1 = "s1.reirradiation-2023@events.estro.example"

    page = _post(harness, path, "action=drop&session=s1")
    assert "Dropped." in page and "out of your calendar is on its way" in page
    [dropped] = _sent(harness, "cancellation")
    assert dropped["sessions"] == ["s1"]
    # RFC 5546: the same UID, and the current SEQUENCE (the session itself did not change)
    assert _calendar(harness, dropped) == [("CANCEL", s1, "CANCELLED", invited[s1])]
    message = email.message_from_bytes((harness.outbox_dir / str(dropped["file"])).read_bytes(),
                                       policy=email.policy.default)
    text = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "You dropped Reirradiation Challenges" in text and "sorry" not in text.lower()
    assert str(message["Subject"]).startswith("Dropped: Reirradiation Challenges")

    _post(harness, path, "action=drop&session=s1")  # pressed again: nothing more
    assert len(_sent(harness, "cancellation")) == 1
    harness.clock.advance(timedelta(minutes=5))
    _post(harness, path, "action=add&session=s1")  # the invitation comes back...
    readded = _sent(harness, "confirmation")[-1]
    assert len(_sent(harness, "confirmation")) == 2 and readded["sessions"] == ["s1", "s2"]
    assert ("REQUEST", s1, "CONFIRMED", invited[s1]) in _calendar(harness, readded)
    harness.clock.advance(timedelta(minutes=5))
    _post(harness, path, "action=drop&session=s1")  # ...and a new drop is a new email
    assert len(_sent(harness, "cancellation")) == 2


def test_cancelling_everything_cancels_each_session_still_ahead(harness: Harness) -> None:
    from datetime import UTC, datetime

    harness.register(sessions=["s1", "s2", "s3"])
    path = harness.manage_path()
    harness.clock.set(datetime(2023, 11, 1, 12, 0, tzinfo=UTC))  # s1 (26 Oct) is over
    page = _post(harness, path, "action=cancel")
    assert "An email that takes the sessions out of your calendar" in page
    [cancel] = _sent(harness, "cancellation")  # one email, one cancellation per session
    assert cancel["sessions"] == ["s2", "s3"]
    assert [(method, uid.split(".")[0]) for method, uid, _s, _q in _calendar(harness, cancel)] \
        == [("CANCEL", "s2"), ("CANCEL", "s3")]
    assert str(cancel["subject"]).startswith("Dropped: 2 sessions of Challenges in Reirradiation")
    message = email.message_from_bytes((harness.outbox_dir / str(cancel["file"])).read_bytes(),
                                       policy=email.policy.default)
    text = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    listed = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line.split(",")[0] for line in listed] == [
        "- Challenges in the Clinical Reirradiation Workflow",
        "- Practical Radiobiology for Clinical Reirradiations Challenges"]


def test_a_suppressed_address_gets_no_cancel(harness: Harness) -> None:
    from webinar_notify.core.text import suppression_id

    harness.register(sessions=["s1", "s2"])
    path = harness.manage_path()
    harness.runtime.store.suppress(suppression_id("local-development-only", "ada@example.com"),
                                   "bounce", harness.clock.now())
    page = _post(harness, path, "action=drop&session=s1")
    assert "Dropped." in page and "on its way" not in page
    assert _sent(harness, "cancellation") == []


def test_after_a_session_moved_the_cancel_carries_the_sequence_of_the_update(
        harness: Harness, tmp_path: Path) -> None:
    from conftest import ROOT
    from webinar_notify.organiser_requests import _json_safe
    from webinar_notify.series_files import read_yaml

    harness.register(sessions=["s4"])
    path = harness.manage_path()
    moved = tmp_path / "series.yaml"
    moved.write_text((ROOT / "series" / "reirradiation-2023.yaml").read_text().replace(
        'start: "2024-01-09T15:00"', 'start: "2024-01-09T16:00"'))
    document = dict(_json_safe(read_yaml(moved, ValueError)))  # type: ignore[arg-type]
    pushed = harness.runtime.organiser("/organiser/series/reirradiation-2023/push",
                                       {"series": document}, idempotency_key="move-s4")
    assert pushed.status == 200
    [update] = _sent(harness, "update")
    [(_method, uid, _status, sequence)] = _calendar(harness, update)
    assert sequence == 1

    _post(harness, path, "action=drop&session=s4")
    [dropped] = _sent(harness, "cancellation")
    assert _calendar(harness, dropped) == [("CANCEL", uid, "CANCELLED", sequence)]


def test_a_session_update_queued_before_the_person_dropped_it_is_withdrawn(
        harness: Harness) -> None:
    """The manage page's drop sends a calendar cancellation; the "new time" notice already on
    the queue must not follow it and put the event back in the calendar."""
    harness.register(sessions=["s1", "s2"])
    path = harness.manage_path()
    answer = harness.runtime.organiser(
        "/organiser/series/reirradiation-2023/sessions/s1",
        {"start": "2023-10-26T16:00:00+02:00"}, idempotency_key="move-s1")
    assert answer.status == 200 and answer.body["job"]
    harness.runtime.run_jobs()  # the notice is queued, not yet sent
    assert harness.queued() == 1
    dropped = harness.runtime.request("POST", path,
                                      {"content-type": "application/x-www-form-urlencoded"},
                                      b"action=drop&session=s1")
    assert dropped.status == 200

    harness.runtime.drain()

    kinds = [str(e["kind"]) for e in harness.outbox.entries()]
    assert kinds == ["confirmation", "cancellation"]  # the drop's cancellation; no update
