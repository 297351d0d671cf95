"""Calendar entries and the MIME message, checked by parsing them back with the standard tools.

Each email is composed from the shipped series and the real templates, written by
``core.mime.build`` and read back with ``email.message_from_bytes`` and ``icalendar``.
"""

from __future__ import annotations

import dataclasses
import email
import email.header
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import cache
from pathlib import Path

import pytest
import yaml
from icalendar import Calendar

from webinar_notify.core import mime
from webinar_notify.core.calendar import CalendarPart, fold, session_invite
from webinar_notify.core.compose import Links, compose
from webinar_notify.core.jobs import EmailJob, delivery_key
from webinar_notify.core.registration import Registrant
from webinar_notify.core.render import Renderer
from webinar_notify.core.series import Contact, Series
from webinar_notify.core.series_document import parse_series
from webinar_notify.core.text import registrant_id

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2023, 10, 1, 12, 0, tzinfo=UTC)
ALL = ("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8")
HEADERS_ONCE = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version")


@cache
def series() -> Series:
    with (ROOT / "series" / "reirradiation-2023.yaml").open(encoding="utf-8") as handle:
        return parse_series(yaml.safe_load(handle))


@cache
def renderer() -> Renderer:
    return Renderer(ROOT / "templates")


def job_for(name: str, zone: str = "America/Toronto", sessions: tuple[str, ...] = ALL,
            address: str = "heidi@example.org", join_url: str | None = None) -> EmailJob:
    s = series()
    rid = registrant_id("test-key", s.id, address)
    return EmailJob(
        kind="confirmation", series_id=s.id, series_revision=s.revision, registrant_id=rid,
        recipient=Registrant(email=address, full_name=name, time_zone=zone, join_url=join_url),
        session_ids=sessions, key=delivery_key("confirmation", s.id, rid, *sessions))


def confirmation(job: EmailJob, the_series: Series | None = None) -> mime.Email:
    return compose(the_series or series(), job, now=NOW, renderer=renderer(),
                   links=Links(manage="https://webinars.example/manage/token",
                               unsubscribe="https://webinars.example/unsubscribe/token"))


def wire(raw: bytes) -> EmailMessage:
    """Check the on-the-wire rules every message obeys, then parse it."""
    assert all(b < 0x80 for b in raw), "message is not 7-bit"
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    assert raw.endswith(b"\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    for name in HEADERS_ONCE:
        assert len(message.get_all(name) or []) == 1, name
    assert message.get_all("Bcc") is None
    assert message["Auto-Submitted"] == "auto-generated"
    return message


def header_names(raw: bytes) -> list[str]:
    """The top-level header names, read from the raw bytes (unfolded)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = re.sub(r"\r\n[ \t]", " ", head)
    return [line.split(":", 1)[0] for line in unfolded.split("\r\n")]


def unfolded_lines(content: bytes) -> list[str]:
    return content.decode("utf-8").replace("\r\n ", "").split("\r\n")


def check_ics(content: bytes, the_series: Series, session_id: str, recipient: str,
              method: str) -> Calendar:
    """The machine-verifiable .ics checklist; returns the parsed calendar."""
    assert content.endswith(b"\r\n")
    assert b"\n" not in content.replace(b"\r\n", b"")
    assert max(len(line) for line in content.split(b"\r\n")) <= 75
    calendar = Calendar.from_ical(content)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"])
    assert str(calendar["METHOD"]) == method
    assert "X-WR-CALNAME" not in calendar
    assert "NAME" not in calendar
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert str(event["UID"]) == the_series.calendar_uid(session_id)
    lines = unfolded_lines(content)
    for prop in ("DTSTART", "DTEND", "DTSTAMP"):
        (value,) = [line.split(":", 1)[1] for line in lines if line.startswith(prop)]
        assert value.endswith("Z"), prop
    assert not any(line.startswith("DTSTART;TZID") for line in lines)
    assert event.decoded("DTEND") > event.decoded("DTSTART")
    assert int(event["SEQUENCE"]) >= 0
    assert str(event["SUMMARY"])
    assert str(event["ORGANIZER"]).lower() == f"mailto:{the_series.sender.email}".lower()
    attendee = event["ATTENDEE"]
    assert not isinstance(attendee, list)
    assert str(attendee) == f"mailto:{recipient}"
    assert sum(line.startswith("ATTENDEE") for line in lines) == 1
    return calendar


def dtstart_line(content: bytes) -> str:
    (line,) = [line for line in unfolded_lines(content) if line.startswith("DTSTART")]
    return line


# --- the Toronto confirmation for the whole series ------------------------------------------


def test_toronto_confirmation_is_seven_bit_with_single_headers() -> None:
    raw = mime.build(confirmation(job_for("Heidi Rønde")))
    message = wire(raw)
    names = header_names(raw)
    for name in HEADERS_ONCE:
        assert names.count(name) == 1
    assert message["To"].addresses[0].display_name == "Heidi Rønde"
    assert message["To"].addresses[0].addr_spec == "heidi@example.org"
    assert message["From"].addresses[0].addr_spec == "webinars@estro.example"
    assert str(message["Subject"]) == \
        "Registration confirmed: Challenges in Reirradiation: From Art to Science"
    assert "Rønde".encode() not in raw  # the name travels as an encoded-word
    assert "=?utf-8?q?Heidi_R=C3=B8nde?=" in raw.decode("ascii")


def test_toronto_confirmation_mime_tree() -> None:
    message = wire(mime.build(confirmation(job_for("Heidi Rønde"))))
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert len(parts) == 1 + len(ALL)
    alternative = parts[0]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == \
        ["text/plain", "text/html"]
    for part, session_id in zip(parts[1:], ALL, strict=True):
        assert part.get_content_type() == "text/calendar"
        assert part.get_content_disposition() == "attachment"
        assert part.get_filename() == f"reirradiation-2023-{session_id}.ics"
        content = part.get_payload(decode=True)
        calendar = Calendar.from_ical(content)
        assert part.get_param("method") == str(calendar["METHOD"]) == "REQUEST"


def test_toronto_confirmation_calendar_entries() -> None:
    message = wire(mime.build(confirmation(job_for("Heidi Rønde"))))
    s = series()
    attachments = list(message.iter_parts())[1:]
    contents = {p.get_filename(): p.get_payload(decode=True) for p in attachments}
    for session_id in ALL:
        content = contents[f"reirradiation-2023-{session_id}.ics"]
        calendar = check_ics(content, s, session_id, "heidi@example.org", "REQUEST")
        event = calendar.walk("VEVENT")[0]
        session = s.session(session_id)
        assert session is not None
        assert event.decoded("DTSTART") == session.start.astimezone(UTC)
        assert event.decoded("DTEND") == session.end.astimezone(UTC)
        assert str(event["SUMMARY"]) == session.title
        assert event["ATTENDEE"].params["CN"] == "Heidi Rønde"
    assert dtstart_line(contents["reirradiation-2023-s1.ics"]) == "DTSTART:20231026T130000Z"
    assert dtstart_line(contents["reirradiation-2023-s2.ics"]) == "DTSTART:20231106T140000Z"
    assert dtstart_line(contents["reirradiation-2023-s5.ics"]) == "DTSTART:20240205T140000Z"
    uids = {str(Calendar.from_ical(c).walk("VEVENT")[0]["UID"]) for c in contents.values()}
    assert len(uids) == len(ALL)


def test_toronto_text_body_shows_local_and_brussels_time_at_each_date() -> None:
    message = wire(mime.build(confirmation(job_for("Heidi Rønde"))))
    text = message.get_body(("plain",)).get_content()
    assert "Dear Heidi Rønde," in text
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)" in text
    assert "Mon 6 Nov 2023 09:00 EST (15:00 CET)" in text
    assert "Ends 10:30 EST (16:30 CET) · 90 minutes" in text
    assert "Thu 11 Apr 2024 09:00 EDT (15:00 CEST)" in text
    assert "America/Toronto" in text
    html = message.get_body(("html",)).get_content()
    seen = re.sub(r"<[^>]+>", "", html)  # each part of a time is kept on one line by a span
    assert "26 Oct 2023 09:00 EDT (15:00 CEST)" in seen
    assert "6 Nov 2023 09:00 EST (15:00 CET)" in seen


def test_brussels_registrant_sees_series_time_only() -> None:
    job = job_for("Marie Dupont", zone="Europe/Brussels", sessions=("s5",),
                  address="marie@example.be")
    text = wire(mime.build(confirmation(job))).get_body(("plain",)).get_content()
    assert "Mon 5 Feb 2024 15:00 CET\n" in text
    assert "Ends 16:30 CET · 90 minutes" in text
    assert "(15:00 CET)" not in text
    assert "Brussels time in brackets" not in text


def test_message_id_is_deterministic_and_on_the_series_domain() -> None:
    first = confirmation(job_for("Heidi Rønde"))
    again = confirmation(job_for("Heidi Rønde"))
    other = confirmation(job_for("Heidi Rønde", address="someone@example.org"))
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id
    assert first.message_id.endswith("@events.estro.example")
    assert mime.build(first) == mime.build(again)


# --- one session: inline calendar plus application/ics --------------------------------------


def test_single_session_has_inline_calendar_and_ics_attachment() -> None:
    job = job_for("Heidi Rønde", sessions=("s2",))
    built = confirmation(job)
    message = wire(mime.build(built))
    assert str(message["Subject"]) == ("Registration confirmed: Challenges in the Clinical "
                                       "Reirradiation Workflow (Challenges in Reirradiation: "
                                       "From Art to Science)")
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["multipart/alternative", "application/ics"]
    inner = list(parts[0].iter_parts())
    assert [p.get_content_type() for p in inner] == ["text/plain", "text/html", "text/calendar"]
    inline = inner[2]
    content = inline.get_payload(decode=True)
    calendar = check_ics(content, series(), "s2", "heidi@example.org", "REQUEST")
    assert inline.get_param("method") == str(calendar["METHOD"])
    assert inline.get_content_disposition() is None
    attachment = parts[1]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "reirradiation-2023-s2.ics"
    assert attachment.get_payload(decode=True) == content
    assert dtstart_line(content) == "DTSTART:20231106T140000Z"
    calendar_parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendar_parts) == 1


def test_cancelled_sessions_get_no_calendar_entry() -> None:
    s = series()
    cancelled = dataclasses.replace(
        s, sessions=tuple(dataclasses.replace(x, status="cancelled") if x.id == "s3" else x
                          for x in s.sessions))
    built = confirmation(job_for("Heidi Rønde"), cancelled)
    assert [c.filename for c in built.calendars] == \
        [f"reirradiation-2023-{i}.ics" for i in ALL if i != "s3"]
    text = wire(mime.build(built)).get_body(("plain",)).get_content()
    assert "these 7 sessions" in text
    assert "Practical Radiobiology" not in text.split("About the series")[0]


def test_personal_join_link_reaches_body_and_calendar() -> None:
    job = job_for("Heidi Rønde", sessions=("s1",), join_url="https://zoom.example/w/123?tk=abc")
    message = wire(mime.build(confirmation(job)))
    assert "https://zoom.example/w/123?tk=abc" in message.get_body(("plain",)).get_content()
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    event = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == "https://zoom.example/w/123?tk=abc"
    assert "Join: https://zoom.example/w/123?tk=abc" in str(event["DESCRIPTION"])


# --- header injection and escaping ----------------------------------------------------------


def test_crlf_in_name_adds_no_header() -> None:
    clean = mime.build(confirmation(job_for("Eve")))
    raw = mime.build(confirmation(job_for("Eve\r\nBcc: victim@example.com")))
    message = wire(raw)
    assert header_names(raw) == header_names(clean)
    assert b"\r\nBcc:" not in raw
    assert "victim@example.com" not in [a.addr_spec for a in message["To"].addresses]
    assert [a.addr_spec for a in message["To"].addresses] == ["heidi@example.org"]
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            event = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
            assert "\n" not in event["ATTENDEE"].params["CN"]
            assert "\r" not in event["ATTENDEE"].params["CN"]


def test_crlf_in_subject_and_extra_headers_adds_no_header() -> None:
    built = dataclasses.replace(
        confirmation(job_for("Eve")), subject="Hello\r\nBcc: victim@example.com",
        headers={"X-Note": "a\nBcc: victim@example.com"})
    raw = mime.build(built)
    message = wire(raw)
    assert "Bcc" not in header_names(raw)
    assert str(message["Subject"]) == "Hello Bcc: victim@example.com"


@pytest.mark.parametrize("name", [
    "=?utf-8?q?ESTRO_Webinars?=",
    "=?utf-8?q?Eve=0D=0ABcc:_victim@example.com?=",
])
def test_ascii_name_that_looks_like_an_encoded_word_is_shown_literally(name: str) -> None:
    # Plain ASCII text shaped like an RFC 2047 encoded-word must not be written raw, or every
    # reader decodes it: into another name (spoofing) or into CR LF inside a display name.
    raw = mime.build(confirmation(job_for(name)))
    message = wire(raw)
    assert message["Bcc"] is None
    # Decode the raw To header as RFC 2047 says (Python < 3.14's parser keeps the space
    # between adjacent encoded-words, gh-128110).
    raw_to = raw.decode("ascii").split("\r\nTo: ", 1)[1].split("\r\nSubject: ", 1)[0]
    decoded = str(email.header.make_header(email.header.decode_header(
        raw_to.replace("\r\n ", " "))))
    assert decoded.startswith(name + " ")
    assert message["To"].addresses[0].addr_spec == "heidi@example.org"


def test_bad_address_or_header_name_is_refused() -> None:
    with pytest.raises(ValueError, match="address"):
        mime.address(Contact("heidi@example.org\r\nBcc: victim@example.com", "Heidi"))
    with pytest.raises(ValueError, match="address"):
        mime.address(Contact("rønde@example.org", "Heidi"))
    with pytest.raises(ValueError, match="header name"):
        mime.build(dataclasses.replace(confirmation(job_for("Eve")),
                                       headers={"Bcc: x@y\r\nX": "1"}))


def test_script_in_name_is_escaped_in_html() -> None:
    name = "<script>alert(1)</script>"
    message = wire(mime.build(confirmation(job_for(name))))
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert message["To"].addresses[0].display_name == name
    assert name in message.get_body(("plain",)).get_content()  # plain text is not HTML


# --- non-ASCII headers ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "田中 愛子", "Zoë O'Brien-Łukasik", "Heidi Rønde", "Ali Zaila (KFSHRC)", "Nick \"NW\" West",
    "José_Luis =?utf-8?q?x?=",
])
def test_names_produce_seven_bit_headers_that_decode_exactly(name: str) -> None:
    s = dataclasses.replace(series(), sender=Contact("webinars@estro.example", name))
    message = wire(mime.build(confirmation(job_for(name), s)))
    assert message["To"].addresses[0].display_name == name
    assert message["From"].addresses[0].display_name == name
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    event = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
    assert event["ATTENDEE"].params["CN"] == name.replace('"', "'")
    assert event["ORGANIZER"].params["CN"] == name.replace('"', "'")


def test_long_non_ascii_name_spans_several_encoded_words_and_decodes_exactly() -> None:
    # Checked with the RFC 2047 decoder of email.header: the default policy's address parser
    # in Python < 3.14 keeps the space between adjacent encoded-words in a display name
    # (CPython gh-128110), which RFC 2047 section 6.2 says to ignore.
    name = "Ελένη Παπαδοπούλου-Γεωργίου Καραμανλή Αθανασοπούλου"
    raw = mime.build(confirmation(job_for(name)))
    wire(raw)
    head = re.sub(r"\r\n[ \t]", " ", raw.split(b"\r\n\r\n", 1)[0].decode("ascii"))
    (to_value,) = [line[4:] for line in head.split("\r\n") if line.startswith("To: ")]
    assert to_value.count("=?utf-8?q?") > 1
    assert all(len(word) <= 75 for word in to_value.split(" "))
    decoded = str(email.header.make_header(email.header.decode_header(to_value)))
    assert decoded == f"{name} <heidi@example.org>"


def test_long_non_ascii_subject_decodes_exactly() -> None:
    title = "Réirradiation : défis et opportunités — de l'art à la science, 田中 愛子 et Zoë"
    s = dataclasses.replace(series(), title=title)
    built = confirmation(job_for("Zoë O'Brien-Łukasik"), s)
    message = wire(mime.build(built))
    assert str(message["Subject"]) == f"Registration confirmed: {title}"
    assert message["To"].addresses[0].display_name == "Zoë O'Brien-Łukasik"


def test_composed_subject_longer_than_200_characters_is_not_cut() -> None:
    # Titles may be up to 300 characters each (series_document), so a one-session subject
    # "Registration confirmed: <session> (<series>)" can pass 200 characters.
    s = series()
    long_title = "Réirradiation des tumeurs de la tête et du cou après radiothérapie: " \
        "sélection des patients, contraintes de dose aux organes à risque, récupération"
    s = dataclasses.replace(s, sessions=tuple(
        dataclasses.replace(x, title=long_title) if x.id == "s1" else x for x in s.sessions))
    built = confirmation(job_for("Heidi Rønde", sessions=("s1",)), s)
    message = wire(mime.build(built))
    assert len(built.subject) > 200
    assert str(message["Subject"]) == built.subject


def test_list_unsubscribe_header_survives_intact() -> None:
    token = "r0123456789abcdef0123456789abcde.AAAAAAAAAAAAAAAAAAAAAAAA"
    value = (f"<https://api.webinars.example/unsubscribe/reirradiation-2023/{token}>, "
             f"<mailto:unsubscribe+{token}@webinars.example>")
    built = dataclasses.replace(confirmation(job_for("Heidi Rønde")), headers={
        "List-Unsubscribe": value,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    })
    message = wire(mime.build(built))
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(message["List-Unsubscribe"]) == value


# --- the calendar module on its own ---------------------------------------------------------


def test_cancel_keeps_uid_with_status_cancelled_and_method_param() -> None:
    s = series()
    s4 = s.session("s4")
    assert s4 is not None
    changed = dataclasses.replace(s4, sequence=2, status="cancelled",
                                  updated_at=datetime(2023, 12, 20, 9, 30, tzinfo=UTC))
    part = session_invite(s, changed, "heidi@example.org", "Heidi Rønde", stamp=NOW,
                          method="CANCEL")
    calendar = check_ics(part.content, s, "s4", "heidi@example.org", "CANCEL")
    event = calendar.walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == 2
    assert not calendar.walk("VALARM")
    # DTSTAMP: when this object was made (RFC 5545 3.8.7.2); the revision is LAST-MODIFIED
    assert "DTSTAMP:20231001T120000Z" in unfolded_lines(part.content)
    assert "LAST-MODIFIED:20231220T093000Z" in unfolded_lines(part.content)
    built = dataclasses.replace(confirmation(job_for("Heidi Rønde", sessions=("s4",))),
                                calendars=[part])
    message = wire(mime.build(built))
    inline = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert inline.get_param("method") == "CANCEL"


def test_update_has_same_uid_higher_sequence_newer_stamp() -> None:
    s = series()
    s6 = s.session("s6")
    assert s6 is not None
    before = session_invite(s, s6, "heidi@example.org", "Heidi", stamp=NOW)
    moved = dataclasses.replace(s6, start=s6.start.replace(hour=16), sequence=1,
                                updated_at=datetime(2024, 2, 1, 8, 0, tzinfo=UTC))
    after = session_invite(s, moved, "heidi@example.org", "Heidi",
                           stamp=datetime(2024, 2, 1, 8, 0, 5, tzinfo=UTC))
    old = check_ics(before.content, s, "s6", "heidi@example.org", "REQUEST").walk("VEVENT")[0]
    new = check_ics(after.content, s, "s6", "heidi@example.org", "REQUEST").walk("VEVENT")[0]
    assert str(old["UID"]) == str(new["UID"])
    assert int(new["SEQUENCE"]) > int(old["SEQUENCE"])
    assert new.decoded("DTSTAMP") > old.decoded("DTSTAMP")
    assert new.decoded("DTSTAMP") == datetime(2024, 2, 1, 8, 0, 5, tzinfo=UTC)
    assert new.decoded("LAST-MODIFIED") == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    assert dtstart_line(after.content) == "DTSTART:20240305T150000Z"


def test_each_recipient_gets_only_their_own_attendee() -> None:
    s = series()
    s1 = s.session("s1")
    assert s1 is not None
    first = session_invite(s, s1, "a@example.org", "Anne", stamp=NOW)
    second = session_invite(s, s1, "b@example.org", "Bob", stamp=NOW)
    assert b"a@example.org" not in second.content
    assert b"b@example.org" not in first.content
    check_ics(second.content, s, "s1", "b@example.org", "REQUEST")
    assert isinstance(first, CalendarPart)
    assert first.filename == "reirradiation-2023-s1.ics"


def test_attendee_name_with_caret_keeps_its_text() -> None:
    # RFC 6868: "^n" in a quoted parameter value means a line break, so a CN written without
    # ^-escaping reads back with a newline (checklist: no raw LF in CN).
    s = series()
    s1 = s.session("s1")
    assert s1 is not None
    part = session_invite(s, s1, "a@example.org", "Anne ^nNguyen", stamp=NOW)
    event = Calendar.from_ical(part.content).walk("VEVENT")[0]
    assert event["ATTENDEE"].params["CN"] == "Anne ^nNguyen"


@pytest.mark.parametrize("text", [
    "ATTENDEE;CN=\"Heidi Rønde\";PARTSTAT=NEEDS-ACTION:mailto:heidi@example.org",
    "X" * 300,
    "田" * 100,
    "ab" + "ø" * 80,
])
def test_fold_keeps_lines_within_75_octets_and_unfolds_back(text: str) -> None:
    folded = fold(text)
    assert folded.endswith("\r\n")
    lines = folded[:-2].split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert folded[:-2].replace("\r\n ", "") == text


def test_attendee_mailto_percent_encodes_uri_characters_of_the_local_part() -> None:
    from webinar_notify.core.calendar import session_invite

    s = series()
    part = session_invite(s, s.sessions[0], "a?b%c#d&e@example.org", "Odd Address",
                          stamp=NOW)
    unfolded = part.content.decode().replace("\r\n ", "")
    assert "mailto:a%3Fb%25c%23d%26e@example.org" in unfolded
