"""Times as readers see them, cleaning of outside text, registrations and the generic payload."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from webinar_notify.core.errors import PayloadError
from webinar_notify.core.jobs import EmailJob, delivery_key
from webinar_notify.core.providers import PROVIDERS
from webinar_notify.core.providers.generic import GenericProvider
from webinar_notify.core.registration import (
    Registrant,
    Registration,
    RegistrationEvent,
    apply_event,
)
from webinar_notify.core.schedule import until
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series
from webinar_notify.core.text import clean_name, normalise_email, registrant_id
from webinar_notify.core.times import describe, zone_label

BRUSSELS = ZoneInfo("Europe/Brussels")
SERIES_ZONE = "Europe/Brussels"
ROOT = Path(__file__).resolve().parents[1]
ALL = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"]


@cache
def series() -> Series:
    with (ROOT / "series" / "reirradiation-2023.yaml").open(encoding="utf-8") as handle:
        return parse_series(yaml.safe_load(handle))


KEY = "test-registrant-key"

def brussels(year: int, month: int, day: int, hour: int = 15, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS)


# --- zone labels and session times ----------------------------------------------------------


@pytest.mark.parametrize(("zone", "moment", "label"), [
    ("Asia/Riyadh", datetime(2023, 10, 26, 13, tzinfo=UTC), "UTC+3"),
    ("Asia/Kathmandu", datetime(2023, 10, 26, 13, tzinfo=UTC), "UTC+5:45"),
    ("America/Sao_Paulo", datetime(2023, 10, 26, 13, tzinfo=UTC), "UTC-3"),
    ("America/St_Johns", datetime(2023, 10, 26, 13, tzinfo=UTC), "NDT"),
    ("Europe/Brussels", datetime(2023, 10, 26, 13, tzinfo=UTC), "CEST"),
    ("Europe/Brussels", datetime(2023, 11, 6, 14, tzinfo=UTC), "CET"),
    ("America/Toronto", datetime(2023, 11, 6, 14, tzinfo=UTC), "EST"),
    ("UTC", datetime(2023, 11, 6, 14, tzinfo=UTC), "UTC"),
])
def test_zone_label(zone: str, moment: datetime, label: str) -> None:
    assert zone_label(moment.astimezone(ZoneInfo(zone))) == label


def test_toronto_sees_edt_then_est_across_both_dst_switches() -> None:
    first = describe(brussels(2023, 10, 26), brussels(2023, 10, 26, 16), "America/Toronto",
                     SERIES_ZONE)
    second = describe(brussels(2023, 11, 6), brussels(2023, 11, 6, 16), "America/Toronto",
                      SERIES_ZONE)
    assert first.starts == "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)"
    assert first.ends == "10:00 EDT (16:00 CEST)"
    assert second.starts == "Mon 6 Nov 2023 09:00 EST (15:00 CET)"
    assert second.ends == "10:00 EST (16:00 CET)"


def test_new_york_in_the_week_between_the_two_dst_ends() -> None:
    # Europe left summer time on 29 Oct 2023, the US only on 5 Nov: 15:00 CET is 10:00 EDT.
    when = describe(brussels(2023, 10, 30), brussels(2023, 10, 30, 16), "America/New_York",
                    SERIES_ZONE)
    assert when.starts == "Mon 30 Oct 2023 10:00 EDT (15:00 CET)"


def test_sydney_rolls_over_to_the_next_day() -> None:
    when = describe(brussels(2023, 10, 26), brussels(2023, 10, 26, 16), "Australia/Sydney",
                    SERIES_ZONE)
    assert when.starts == "Fri 27 Oct 2023 00:00 AEDT (Thu 26 Oct 15:00 CEST)"
    assert when.ends == "01:00 AEDT (16:00 CEST)"


def test_los_angeles_rolls_back_to_the_previous_day() -> None:
    when = describe(brussels(2023, 10, 26, 8), brussels(2023, 10, 26, 9), "America/Los_Angeles",
                    SERIES_ZONE)
    assert when.starts == "Wed 25 Oct 2023 23:00 PDT (Thu 26 Oct 08:00 CEST)"


def test_riyadh_reader_gets_numeric_label() -> None:
    when = describe(brussels(2024, 2, 5), brussels(2024, 2, 5, 16, 30), "Asia/Riyadh",
                    SERIES_ZONE)
    assert when.starts == "Mon 5 Feb 2024 17:00 UTC+3 (15:00 CET)"
    assert when.ends == "18:30 UTC+3 (16:30 CET)"
    assert when.minutes == 90


def test_series_zone_reader_gets_one_view() -> None:
    when = describe(brussels(2024, 2, 5), brussels(2024, 2, 5, 16, 30), SERIES_ZONE,
                    SERIES_ZONE)
    assert when.starts == "Mon 5 Feb 2024 15:00 CET"
    assert when.ends == "16:30 CET"
    assert when.minutes == 90


def test_describe_accepts_utc_instants() -> None:
    start = datetime(2023, 10, 26, 13, tzinfo=UTC)
    when = describe(start, start + timedelta(hours=1), "Europe/London", SERIES_ZONE)
    assert when.starts == "Thu 26 Oct 2023 14:00 BST (15:00 CEST)"


@pytest.mark.parametrize(("ahead", "said"), [
    (timedelta(days=7), "in 7 days"),
    (timedelta(days=6, hours=23, minutes=55), "in 6 days 23 hours"),
    (timedelta(hours=36), "in 1 day 12 hours"),
    (timedelta(hours=35, minutes=59), "in 35 hours 59 minutes"),
    (timedelta(hours=24), "in 24 hours"),
    (timedelta(hours=16, minutes=40), "in 16 hours 40 minutes"),
    (timedelta(hours=16, minutes=59, seconds=59), "in 16 hours 59 minutes"),
    (timedelta(hours=1), "in 1 hour"),
    (timedelta(minutes=59, seconds=30), "in 59 minutes"),
    (timedelta(minutes=1), "in 1 minute"),
    (timedelta(seconds=20), "in less than a minute"),
    (timedelta(0), "now"),
    (timedelta(minutes=-5), "now"),
])
def test_until_rounds_down_and_never_overstates(ahead: timedelta, said: str) -> None:
    now = datetime(2023, 10, 25, 20, 20, tzinfo=UTC)
    assert until(now + ahead, now) == said


def test_until_is_never_more_than_the_time_left() -> None:
    now = datetime(2023, 10, 1, tzinfo=UTC)
    units = {"day": 86400, "days": 86400, "hour": 3600, "hours": 3600, "minute": 60,
             "minutes": 60}
    for seconds in range(61, 9 * 86400, 3907):
        words = until(now + timedelta(seconds=seconds), now).split()[1:]
        said = sum(int(n) * units[u] for n, u in zip(words[::2], words[1::2], strict=True))
        assert 0 <= seconds - said < (3600 if seconds >= 36 * 3600 else 60), (seconds, words)



# --- clean_name -----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "clean"), [
    ("Heidi Rønde", "Heidi Rønde"),
    ("  Heidi   Rønde  ", "Heidi Rønde"),
    ("Eve\r\nBcc: victim@example.com", "Eve Bcc: victim@example.com"),
    ("Eve\nBcc:x", "Eve Bcc:x"),
    ("Nul\x00Byte", "Nul Byte"),
    ("Tab\tbed", "Tab bed"),
    ("Esc\x1b[31mRed", "Esc [31mRed"),
    ("Right\u202eto\u202cleft", "Right to left"),     # bidi override and pop (Cf)
    ("Zero\u200bwidth", "Zero width"),                # zero-width space (Cf)
    ("Line\u2028Para\u2029End", "Line Para End"),     # line / paragraph separators
    ("Del\x7fete", "Del ete"),
    ("\u0085Next line", "Next line"),                 # NEL (Cc)
    ("田中 愛子", "田中 愛子"),
    ("Zoë O'Brien-Łukasik", "Zoë O'Brien-Łukasik"),
    (None, ""),
])
def test_clean_name(raw: str | None, clean: str) -> None:
    assert clean_name(raw) == clean


def test_clean_name_caps_the_length() -> None:
    assert clean_name("a" * 500) == "a" * 200
    assert clean_name("a" * 199 + " b") == "a" * 199  # no trailing space after the cut


def test_clean_name_rejects_non_strings_naming_the_field() -> None:
    with pytest.raises(PayloadError, match=r"data\.registrant\.full_name"):
        clean_name(["Heidi"], field="data.registrant.full_name")


# --- normalise_email ------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "address"), [
    ("heidi@example.org", "heidi@example.org"),
    ("  Heidi.Ronde+webinar@Example.ORG ", "Heidi.Ronde+webinar@example.org"),
    ("anne@bücher.example", "anne@xn--bcher-kva.example"),
    ("ali@مثال.example", "ali@xn--mgbh0fb.example"),
    ("o'brien@sub.example.co.uk", "o'brien@sub.example.co.uk"),
])
def test_normalise_email_accepts(raw: str, address: str) -> None:
    assert normalise_email(raw) == address


@pytest.mark.parametrize("raw", [
    "",
    "   ",
    None,
    42,
    "heidi.example.org",            # missing @
    "heidi@@example.org",
    "a@b@example.org",
    "rønde@example.org",            # non-ASCII local part: no SMTPUTF8 at SES
    "田中@example.jp",
    "heidi@localhost",              # a single label
    "heidi@",
    "@example.org",
    ".heidi@example.org",
    "heidi.@example.org",
    "hei..di@example.org",
    "hei di@example.org",
    "heidi@-example.org",
    "heidi@example..org",
    "heidi@example.org.",
    "<heidi@example.org>",
    "Heidi <heidi@example.org>",
    "a" * 65 + "@example.org",
    "heidi@" + "a" * 64 + ".org",
    "heidi@example.org\r\nBcc: victim@example.com",
])
def test_normalise_email_rejects(raw: object) -> None:
    with pytest.raises(PayloadError):
        normalise_email(raw)


@pytest.mark.parametrize("raw", ["heidi\n@example.org", "heidi@example\n.org"])
def test_normalise_email_rejects_line_break_before_a_separator(raw: str) -> None:
    # re's "$" also matches just before a final "\n", so a label ending in "\n" must still fail.
    with pytest.raises(PayloadError):
        normalise_email(raw)


def test_normalise_email_error_names_the_field() -> None:
    with pytest.raises(PayloadError, match=r"^data\.registrant\.email "):
        normalise_email("nope", field="data.registrant.email")


def test_registrant_id_is_case_insensitive_keyed_and_pseudonymous() -> None:
    first = registrant_id(KEY, "reirradiation-2023", "Heidi.Ronde@Example.org")
    assert first == registrant_id(KEY, "reirradiation-2023", "heidi.ronde@example.org")
    assert first != registrant_id(KEY, "reirradiation-2023", "heidi.ronde2@example.org")
    assert first != registrant_id(KEY, "another-series", "heidi.ronde@example.org")
    # Without the key, nobody can compute the id of a known address.
    assert first != registrant_id("another-key", "reirradiation-2023", "heidi.ronde@example.org")
    assert len(first) == 32
    assert first.startswith("r")
    assert int(first[1:], 16) >= 0
    assert "heidi" not in first


# --- registration.apply_event ---------------------------------------------------------------


HEIDI = Registrant("heidi@example.org", "Heidi Rønde", "America/Toronto")
RID = registrant_id(KEY, "reirradiation-2023", HEIDI.email)


def event(action: str, created: int, sessions: tuple[str, ...] | None,
          registrant: Registrant = HEIDI) -> RegistrationEvent:
    return RegistrationEvent(provider="generic", event_id=f"evt-{created}",
                             action=action,  # type: ignore[arg-type]
                             created=created, registrant=registrant, session_ids=sessions)


def apply(existing: Registration | None, ev: RegistrationEvent) -> Registration | None:
    return apply_event(existing, ev, "reirradiation-2023", RID, ALL, "Europe/Brussels")


def registered(*steps: RegistrationEvent) -> Registration:
    current: Registration | None = None
    for step in steps:
        current = apply(current, step) or current
    assert current is not None
    return current


def test_first_registration() -> None:
    reg = apply(None, event("created", 100, ("s1", "s2")))
    assert reg is not None
    assert reg.status == "active"
    assert reg.session_ids == frozenset({"s1", "s2"})
    assert not reg.whole_series
    assert reg.last_event == 100
    assert reg.registrant == HEIDI
    assert reg.sessions_in(ALL) == ["s1", "s2"]


def test_repeat_registration_adds_sessions() -> None:
    reg = registered(event("created", 100, ("s2", "s1")), event("created", 200, ("s5", "s2")))
    assert reg.session_ids == frozenset({"s1", "s2", "s5"})
    assert reg.sessions_in(ALL) == ["s1", "s2", "s5"]
    assert reg.last_event == 200


def test_redelivered_event_changes_nothing() -> None:
    first = apply(None, event("created", 100, ("s1",)))
    assert apply(first, event("created", 100, ("s1",))) is None


def test_whole_series_registration() -> None:
    reg = apply(None, event("created", 100, None))
    assert reg is not None
    assert reg.whole_series
    assert reg.session_ids == frozenset()
    assert reg.sessions_in(ALL) == ALL
    assert reg.sessions_in([*ALL, "s9"]) == [*ALL, "s9"]  # later sessions are theirs too


def test_whole_series_stays_whole_when_sessions_are_added() -> None:
    reg = registered(event("created", 100, None), event("created", 200, ("s3",)))
    assert reg.whole_series
    assert reg.sessions_in(ALL) == ALL


def test_sessions_then_whole_series() -> None:
    reg = registered(event("created", 100, ("s3",)), event("created", 200, None))
    assert reg.whole_series
    assert reg.sessions_in(ALL) == ALL


def test_cancel_some_sessions() -> None:
    reg = registered(event("created", 100, ("s1", "s2", "s3")),
                     event("cancelled", 200, ("s2",)))
    assert reg.status == "active"
    assert reg.sessions_in(ALL) == ["s1", "s3"]


def test_cancel_some_sessions_of_a_whole_series_registration() -> None:
    reg = registered(event("created", 100, None), event("cancelled", 200, ("s1", "s8")))
    assert reg.status == "active"
    assert not reg.whole_series
    assert reg.sessions_in(ALL) == ["s2", "s3", "s4", "s5", "s6", "s7"]


def test_cancel_all_sessions() -> None:
    reg = registered(event("created", 100, ("s1", "s2")), event("cancelled", 200, None))
    assert reg.status == "cancelled"
    assert reg.sessions_in(ALL) == []


def test_cancelling_every_listed_session_cancels_the_registration() -> None:
    reg = registered(event("created", 100, ("s1", "s2")), event("cancelled", 200, ("s1", "s2")))
    assert reg.status == "cancelled"
    assert reg.sessions_in(ALL) == []


def test_a_cancellation_before_its_registration_is_kept_and_wins() -> None:
    # The cancellation overtook the registration (a retried webhook): the late registration
    # must not bring the person back.
    cancelled = apply(None, event("cancelled", 100, None))
    assert cancelled is not None and cancelled.status == "cancelled"
    assert cancelled.last_event == 100
    assert apply(cancelled, event("created", 90, ("s1",))) is None
    assert apply(cancelled, event("created", 100, ("s1",))) is None  # a tie: cancelling wins
    again = apply(cancelled, event("created", 101, ("s1",)))
    assert again is not None and again.status == "active"


def test_cancelling_twice_leaves_the_person_cancelled() -> None:
    cancelled = registered(event("created", 100, ("s1",)), event("cancelled", 200, None))
    twice = apply(cancelled, event("cancelled", 300, ("s1",)))
    assert twice is not None and twice.status == "cancelled" and twice.sessions_in(ALL) == []


def test_a_cancellation_keeps_the_stored_name_and_zone() -> None:
    first = registered(event("created", 100, ("s1", "s2")))
    sparse = Registrant("HEIDI@example.org", "", "")
    partial = apply(first, event("cancelled", 200, ("s1",), registrant=sparse))
    assert partial is not None and partial.registrant == first.registrant
    repeat = apply(partial, event("created", 300, ("s3",), registrant=sparse))
    assert repeat is not None
    assert repeat.registrant.full_name == "Heidi Rønde"
    assert repeat.registrant.time_zone == "America/Toronto"


def test_older_event_is_ignored() -> None:
    cancelled = registered(event("created", 100, ("s1",)), event("cancelled", 200, None))
    # A late retry of the registration must not undo the cancellation that followed it.
    assert apply(cancelled, event("created", 100, ("s1",))) is None
    assert apply(cancelled, event("created", 150, ("s4",))) is None
    active = registered(event("created", 300, ("s1",)))
    assert apply(active, event("cancelled", 299, None)) is None


def test_registering_again_after_cancelling_starts_afresh() -> None:
    reg = registered(event("created", 100, ("s1", "s2")), event("cancelled", 200, None),
                     event("created", 300, ("s5",)))
    assert reg.status == "active"
    assert reg.sessions_in(ALL) == ["s5"]
    assert reg.last_event == 300


def test_newer_event_updates_the_registrant_and_keeps_the_version() -> None:
    first = apply(None, event("created", 100, ("s1",)))
    assert first is not None
    stored = dataclasses.replace(first, version=7)
    moved = Registrant("heidi@example.org", "Heidi Rønde", "Europe/Copenhagen")
    again = apply(stored, event("created", 200, ("s1",), registrant=moved))
    assert again is not None
    assert again.registrant.time_zone == "Europe/Copenhagen"
    assert again.version == 7


# --- the generic provider's payload ---------------------------------------------------------


def payload(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "evt_123",
        "type": "registration.created",
        "created": 1_698_300_000,
        "data": {
            "registrant": {"email": "Heidi@Example.ORG", "full_name": "Heidi Rønde",
                           "time_zone": "America/Toronto"},
            "sessions": ["s1", "s2"],
            "consent": {"reminders": True},
        },
    }
    for key, value in changes.items():
        target = doc
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return doc


_DROP = object()


def parse(doc: object) -> RegistrationEvent:
    body = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    return GenericProvider().parse(body, series())


def test_generic_provider_is_registered() -> None:
    assert isinstance(PROVIDERS["generic"], GenericProvider)


def test_generic_payload_maps_to_an_event() -> None:
    ev = parse(payload())
    assert ev.provider == "generic"
    assert ev.event_id == "evt_123"
    assert ev.action == "created"
    assert ev.created == 1_698_300_000
    assert ev.registrant == Registrant("Heidi@example.org", "Heidi Rønde", "America/Toronto")
    assert ev.session_ids == ("s1", "s2")
    assert ev.consent == {"reminders": True}


def test_generic_cancellation_and_whole_series() -> None:
    ev = parse(payload(type="registration.cancelled", data__sessions=_DROP))
    assert ev.action == "cancelled"
    assert ev.session_ids is None


def test_generic_duplicate_sessions_are_kept_once_in_given_order() -> None:
    assert parse(payload(data__sessions=["s3", "s1", "s3"])).session_ids == ("s3", "s1")


def test_generic_name_is_cleaned() -> None:
    ev = parse(payload(data__registrant__full_name="Eve\r\nBcc: victim@example.com"))
    assert ev.registrant.full_name == "Eve Bcc: victim@example.com"
    assert parse(payload(data__registrant__full_name=_DROP)).registrant.full_name == ""


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", None, 5, "../../etc/passwd",
                                  "/etc/localtime", "America/Toronto\x00", "x" * 80,
                                  "zone.tab", "europe/brussels"])
def test_generic_unknown_time_zone_is_left_blank_for_the_series_zone(zone: object) -> None:
    ev = parse(payload(data__registrant__time_zone=zone))
    assert ev.registrant.time_zone == ""
    assert apply(None, ev) is not None
    assert apply(None, ev).registrant.time_zone == "Europe/Brussels"  # type: ignore[union-attr]


@pytest.mark.parametrize("zone", ["Europe", "America", "Etc"])
def test_generic_time_zone_that_names_a_folder_is_not_a_zone(zone: str) -> None:
    # With the tzdata package installed (icalendar requires it), ZoneInfo("Europe") raises
    # IsADirectoryError, which is neither ZoneInfoNotFoundError nor ValueError.
    ev = parse(payload(data__registrant__time_zone=zone))
    assert ev.registrant.time_zone == ""


def test_generic_missing_time_zone_is_left_blank() -> None:
    ev = parse(payload(data__registrant__time_zone=_DROP))
    assert ev.registrant.time_zone == ""


def test_generic_cancelled_session_cannot_be_chosen() -> None:
    s = series()
    with_cancelled = dataclasses.replace(s, sessions=tuple(
        dataclasses.replace(x, status="cancelled") if x.id == "s2" else x for x in s.sessions))
    body = json.dumps(payload()).encode()
    with pytest.raises(PayloadError, match="cancelled"):
        GenericProvider().parse(body, with_cancelled)


BAD_PAYLOADS: list[tuple[str, object, str]] = [
    ("not json", b"registration please", "not valid UTF-8 JSON"),
    ("not utf-8", b"\xff\xfe{}", "not valid UTF-8 JSON"),
    ("truncated json", b'{"id": "evt_1", ', "not valid UTF-8 JSON"),
    ("array body", b"[]", "body must be a JSON object"),
    ("missing id", payload(id=_DROP), "id must be"),
    ("empty id", payload(id="  "), "id must be"),
    ("id with line break", payload(id="evt\n1"), "id must be"),
    ("unknown type", payload(type="registration.updated"), "type must be one of"),
    ("created as text", payload(created="1698300000"), "created must be"),
    ("created as bool", payload(created=True), "created must be"),
    ("created zero", payload(created=0), "created must be"),
    ("data not object", payload(data=["s1"]), "data must be a JSON object"),
    ("registrant missing", payload(data__registrant=_DROP), "data.registrant must be"),
    ("email missing", payload(data__registrant__email=_DROP), "data.registrant.email"),
    ("email invalid", payload(data__registrant__email="heidi.example.org"),
     "data.registrant.email"),
    ("name not text", payload(data__registrant__full_name=["Heidi"]),
     "data.registrant.full_name"),
    ("sessions as text", payload(data__sessions="s1"), "data.sessions must be a non-empty list"),
    ("sessions empty", payload(data__sessions=[]), "data.sessions must be a non-empty list"),
    ("unknown session", payload(data__sessions=["s1", "s9"]), "unknown session 's9'"),
    ("session as number", payload(data__sessions=[1]), "unknown session '1'"),
    ("consent not object", payload(data__consent=["reminders"]), "data.consent must be"),
]


@pytest.mark.parametrize(("doc", "message"), [(d, m) for _, d, m in BAD_PAYLOADS],
                         ids=[name for name, _, _ in BAD_PAYLOADS])
def test_generic_bad_payload_is_a_payload_error(doc: object, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(doc)
    assert message in str(caught.value)


# --- email jobs -----------------------------------------------------------------------------


def test_job_round_trips_through_json() -> None:
    key = delivery_key("confirmation", "reirradiation-2023", RID, "s1", "s2")
    job = EmailJob(kind="confirmation", series_id="reirradiation-2023", series_revision=3,
                   registrant_id=RID, recipient=HEIDI, session_ids=("s1", "s2"), key=key)
    assert EmailJob.from_json(job.to_json()) == job
    assert key == delivery_key("confirmation", "reirradiation-2023", RID, "s1", "s2")
    assert key != delivery_key("confirmation", "reirradiation-2023", RID, "s1")
    assert key.startswith("confirmation#reirradiation-2023#")
    assert key.endswith("#" + RID)
    assert "heidi" not in key


@pytest.mark.parametrize("text", [
    "not json", "[]", "{}", '"text"',
    '{"v":1,"kind":"spam","series":"x","rev":0,"rid":"r","sessions":[],"key":"k",'
    '"to":{"email":"a@b.c","name":"","tz":"UTC"}}',
    '{"v":1,"kind":"confirmation","series":"x","rev":"new","rid":"r","sessions":[],"key":"k",'
    '"to":{"email":"a@b.c","name":"","tz":"UTC"}}',
    '{"v":1,"kind":"confirmation","series":"x","rev":0,"rid":"r","sessions":[],"key":"k",'
    '"to":"a@b.c"}',
])
def test_malformed_job_is_a_payload_error(text: str) -> None:
    with pytest.raises(PayloadError, match="malformed email job"):
        EmailJob.from_json(text)
