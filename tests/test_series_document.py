"""The series file format: the shipped ESTRO series, round trips, and errors that name fields."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from webinar_notify.core.errors import SeriesFileError
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series, series_to_document

SERIES_FILE = Path(__file__).resolve().parents[1] / "series" / "reirradiation-2023.yaml"

# From seed/reirradiation-webinar-series.txt, "Webinars dates" (id, weekday, local start, local
# end, abbreviation, title exactly as announced).
SEED_SESSIONS = [
    ("s1", "Thursday", "2023-10-26 15:00", "16:00", "CEST",
     "Reirradiation Challenges & Opportunities"),
    ("s2", "Monday", "2023-11-06 15:00", "16:00", "CET",
     "Challenges in the Clinical Reirradiation Workflow"),
    ("s3", "Monday", "2023-12-04 15:00", "16:00", "CET",
     "Practical Radiobiology for Clinical Reirradiations Challenges"),
    ("s4", "Tuesday", "2024-01-09 15:00", "16:00", "CET",
     "Challenges in Accumulating Doses"),
    ("s5", "Monday", "2024-02-05 15:00", "16:30", "CET",
     "Dose Constraints for Reirradiation: What Do We Know?"),
    ("s6", "Tuesday", "2024-03-05 15:00", "16:00", "CET",
     "Proton Reirradiation: Current Status & Challenges"),
    ("s7", "Thursday", "2024-04-11 15:00", "16:00", "CEST",
     "Other Reirradiation Techniques Available"),
    ("s8", "Thursday", "2024-05-23 15:00", "16:00", "CEST",
     "Going Forward: How we do learn? How do we improve?"),
]

SEED_ORGANISERS = [
    ("Ane Appelt", "University of Leeds, UK"),
    ("Marija Popovic", "McGill University, Canada"),
    ("Heidi Rønde", "Danish Centre for Particle Therapy, Aarhus University Hospital, Denmark"),
    ("Eliana Vasquez-Osorio", "University of Manchester, UK"),
    ("Nick West", "Newcastle Upon Tyne Hospitals NHS Foundation Trust, UK"),
    ("Ali Zaila",
     "King Faisal Specialist Hospital and Research Center (KFSHRC), Saudi Arabia"),
]


def load_document() -> dict[str, Any]:
    with SERIES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)  # type: ignore[no-any-return]


def shipped() -> Series:
    return parse_series(load_document())


# --- the shipped file ---------------------------------------------------------------------


def test_shipped_file_parses_with_series_fields() -> None:
    series = shipped()
    assert series.id == "reirradiation-2023"
    assert series.title == "Challenges in Reirradiation: From Art to Science"
    assert series.time_zone == "Europe/Brussels"
    assert series.sender.email == "webinars@estro.example"
    assert series.reply_to is not None
    assert series.reply_to.email == "education@estro.example"
    assert series.uid_domain == "events.estro.example"
    assert series.reminder_offsets == (timedelta(days=7), timedelta(days=1), timedelta(hours=1))


def test_shipped_file_has_eight_sessions_in_date_order() -> None:
    sessions = shipped().sessions
    assert [s.id for s in sessions] == [f"s{n}" for n in range(1, 9)]
    starts = [s.start for s in sessions]
    assert starts == sorted(starts)
    assert len(set(starts)) == 8


def test_session_titles_are_exactly_the_seed_titles() -> None:
    assert [s.title for s in shipped().sessions] == [row[5] for row in SEED_SESSIONS]


@pytest.mark.parametrize(("session_id", "weekday", "start", "end", "abbreviation", "_title"),
                         SEED_SESSIONS)
def test_session_times_match_the_seed(session_id: str, weekday: str, start: str, end: str,
                                      abbreviation: str, _title: str) -> None:
    session = shipped().session(session_id)
    assert session is not None
    assert session.start.strftime("%A") == weekday
    assert session.start.strftime("%Y-%m-%d %H:%M") == start
    assert session.end.strftime("%H:%M") == end
    assert session.start.tzname() == abbreviation
    assert session.status == "scheduled"


def test_first_two_sessions_in_utc_across_the_dst_switch() -> None:
    series = shipped()
    s1, s2 = series.session("s1"), series.session("s2")
    assert s1 is not None and s2 is not None
    assert s1.start.astimezone(UTC) == datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
    assert s2.start.astimezone(UTC) == datetime(2023, 11, 6, 14, 0, tzinfo=UTC)


def test_fifth_session_lasts_ninety_minutes_until_1630_brussels() -> None:
    s5 = shipped().session("s5")
    assert s5 is not None
    assert s5.duration == timedelta(minutes=90)
    assert s5.end.strftime("%Y-%m-%d %H:%M %Z") == "2024-02-05 16:30 CET"
    assert s5.end.astimezone(UTC) == datetime(2024, 2, 5, 15, 30, tzinfo=UTC)
    others = [s for s in shipped().sessions if s.id != "s5"]
    assert all(s.duration == timedelta(minutes=60) for s in others)


def test_six_organisers_with_affiliations() -> None:
    organisers = shipped().organisers
    assert [(o.name, o.affiliation) for o in organisers] == SEED_ORGANISERS


def test_endorsement_topics_and_audience() -> None:
    series = shipped()
    assert series.endorsements == ("The Interdisciplinary webinar series are endorsed by AAPM",)
    assert series.topics == (
        "Clinical workflow considerations",
        "Radiobiology fundamental to accumulating dose",
        "Image registration & dose accumulation",
        "Normal tissue dose constraints & recovery factors",
        "The future of reirradiation",
    )
    assert series.audience.startswith("We welcome all disciplines")
    assert series.description.startswith("Reirradiation is becoming a routine component")


def test_coming_pre_meeting_course() -> None:
    coming = shipped().coming
    assert [c.id for c in coming] == ["estro24-pre-meeting"]
    assert "Glasgow" in coming[0].title
    assert "ESTRO24" in coming[0].title
    assert "will soon be made available" in coming[0].description
    assert coming[0].url is None  # the registration link is not out yet


def test_calendar_uid_is_derived_from_series_and_session() -> None:
    series = shipped()
    assert series.calendar_uid("s1") == "s1.reirradiation-2023@events.estro.example"
    assert series.calendar_uid("s8") == "s8.reirradiation-2023@events.estro.example"


# --- round trips ----------------------------------------------------------------------------


def test_round_trip_through_document_is_equal() -> None:
    series = shipped()
    again = parse_series(series_to_document(series))
    assert again == series


def test_round_trip_through_stored_json_is_equal_and_keeps_utc_instants() -> None:
    series = shipped()
    stored = json.loads(json.dumps(series_to_document(series)))
    again = parse_series(stored)
    assert again == series
    assert [s.start.astimezone(UTC) for s in again.sessions] == \
        [s.start.astimezone(UTC) for s in series.sessions]


def test_round_trip_keeps_session_overrides() -> None:
    doc = load_document()
    doc["sessions"][2].update({
        "join_url": "https://zoom.example/j/123",
        "status": "cancelled",
        "description": "Moved to spring.",
        "reminders": ["1h", "2d"],
        "sequence": 3,
        "updated_at": "2023-11-20T10:15:00+00:00",
    })
    series = parse_series(doc)
    s3 = series.session("s3")
    assert s3 is not None
    assert s3.cancelled
    assert s3.reminder_offsets == (timedelta(days=2), timedelta(hours=1))
    assert s3.updated_at == datetime(2023, 11, 20, 10, 15, tzinfo=UTC)
    assert parse_series(series_to_document(series)) == series


def test_round_trip_keeps_the_instant_of_a_repeated_local_hour() -> None:
    # 2023-10-29 02:30 happens twice in Brussels; "+01:00" is the second one (01:30Z).
    doc = load_document()
    doc["sessions"][0]["start"] = "2023-10-29T02:30+01:00"
    series = parse_series(doc)
    s1 = series.session("s1")
    assert s1 is not None
    assert s1.start.astimezone(UTC) == datetime(2023, 10, 29, 1, 30, tzinfo=UTC)
    again = parse_series(series_to_document(series)).session("s1")
    assert again is not None
    assert again.start.astimezone(UTC) == datetime(2023, 10, 29, 1, 30, tzinfo=UTC)


# --- accepted variants ----------------------------------------------------------------------


def test_start_with_explicit_offset_is_converted_to_series_zone() -> None:
    doc = load_document()
    doc["sessions"][0]["start"] = "2023-10-26T13:00+00:00"
    s1 = parse_series(doc).sessions[0]
    assert s1.start.strftime("%H:%M %Z") == "15:00 CEST"


def test_unquoted_yaml_date_time_is_accepted() -> None:
    doc = load_document()
    text = "start: 2023-10-26 15:00:00\n"
    doc["sessions"][0]["start"] = yaml.safe_load(text)["start"]  # a datetime, not a string
    s1 = parse_series(doc).sessions[0]
    assert s1.start.astimezone(UTC) == datetime(2023, 10, 26, 13, 0, tzinfo=UTC)


# --- errors name the field ------------------------------------------------------------------


def _set(path: list[Any], value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _delete(path: list[Any]) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _rename_top(old: str, new: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc[new] = doc.pop(old)
    return change


def _duplicate_session(doc: dict[str, Any]) -> None:
    doc["sessions"][1]["id"] = "s1"


def _duplicate_coming(doc: dict[str, Any]) -> None:
    doc["coming"].append(copy.deepcopy(doc["coming"][0]))


BAD_DOCUMENTS = [
    ("bad start format", _set(["sessions", 1, "start"], "06/11/2023 15:00"),
     "sessions[1].start:"),
    ("missing start", _delete(["sessions", 1, "start"]), "sessions[1].start: required"),
    ("date without time", _set(["sessions", 1, "start"], "2023-11-06"), "sessions[1].start:"),
    ("yaml date without time", _set(["sessions", 1, "start"], date(2023, 11, 6)),
     "sessions[1].start: a time of day is required"),
    ("nonexistent local time", _set(["sessions", 0, "start"], "2024-03-31T02:30"),
     "sessions[0].start: 2024-03-31 02:30 does not exist in Europe/Brussels"),
    ("unknown time zone", _set(["time_zone"], "Europe/Bruxelles"), "time_zone:"),
    ("time zone that is a folder", _set(["time_zone"], "Europe"), "time_zone:"),
    ("missing time zone", _delete(["time_zone"]), "time_zone: required"),
    ("bad sender email", _set(["sender", "email"], "webinars.estro.example"), "sender.email:"),
    ("missing sender email", _delete(["sender", "email"]), "sender.email: required"),
    ("missing sender", _delete(["sender"]), "sender:"),
    ("bad reply-to email", _set(["reply_to", "email"], "education@"), "reply_to.email:"),
    ("typo in top-level field", _rename_top("sessions", "sesions"), "sesions: unknown field"),
    ("typo in session field", _set(["sessions", 0, "titel"], "x"),
     "sessions[0].titel: unknown field"),
    ("duplicate session id", _duplicate_session, "sessions[1].id: duplicate id 's1'"),
    ("duplicate coming id", _duplicate_coming, "coming[1].id: duplicate id"),
    ("zero duration", _set(["sessions", 4, "duration_minutes"], 0),
     "sessions[4].duration_minutes:"),
    ("unknown status", _set(["sessions", 0, "status"], "postponed"), "sessions[0].status:"),
    ("bad session id", _set(["sessions", 0, "id"], "Session 1"), "sessions[0].id:"),
    ("missing session title", _delete(["sessions", 3, "title"]),
     "sessions[3].title: required"),
    ("no sessions", _set(["sessions"], []), "sessions:"),
    ("bad reminder", _set(["reminders"], ["2w"]), "reminders:"),
    ("negative sequence", _set(["sessions", 0, "sequence"], -1), "sessions[0].sequence:"),
    ("organiser without name", _delete(["organisers", 0, "name"]),
     "organisers[0].name: required"),
    ("non-http url", _set(["url"], "ftp://estro.example/"), "url:"),
    ("multi-line title", _set(["title"], "Challenges\nin Reirradiation"), "title:"),
    ("session not a mapping", _set(["sessions", 2], "s3"), "sessions[2]: expected a mapping"),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in BAD_DOCUMENTS],
                         ids=[name for name, _, _ in BAD_DOCUMENTS])
def test_bad_document_names_the_field(change: Any, message: str) -> None:
    doc = load_document()
    change(doc)
    with pytest.raises(SeriesFileError) as caught:
        parse_series(doc)
    assert str(caught.value).startswith(message), str(caught.value)


def test_document_that_is_not_a_mapping() -> None:
    with pytest.raises(SeriesFileError, match=r"^series: expected a mapping"):
        parse_series(["not", "a", "mapping"])


def test_a_null_start_and_a_bad_uid_domain_name_the_field() -> None:
    base = {"id": "x", "title": "T", "time_zone": "Europe/Brussels",
            "sender": {"email": "a@b.example"},
            "sessions": [{"id": "s1", "title": "A", "start": None}]}
    with pytest.raises(SeriesFileError, match=r"^sessions\[0\]\.start: required"):
        parse_series(base)
    good_session = [{"id": "s1", "title": "A", "start": "2024-01-09T15:00"}]
    for bad in ("events example.org", "évents.example.org", "nodots", "-x.example"):
        with pytest.raises(SeriesFileError, match=r"^uid_domain: "):
            parse_series(base | {"sessions": good_session, "uid_domain": bad})


def test_a_session_across_the_autumn_change_lasts_its_duration() -> None:
    from datetime import UTC, timedelta

    from webinar_notify.core.times import describe

    doc = {"id": "x", "title": "T", "time_zone": "Europe/Brussels",
           "sender": {"email": "a@b.example"},
           "sessions": [{"id": "s1", "title": "Night", "start": "2023-10-29T01:30",
                         "duration_minutes": 90}]}
    [session] = parse_series(doc).sessions
    assert session.end.astimezone(UTC) - session.start.astimezone(UTC) == timedelta(minutes=90)
    assert session.end.astimezone(UTC).isoformat() == "2023-10-29T01:00:00+00:00"
    when = describe(session.start, session.end, "Europe/Brussels", "Europe/Brussels")
    assert when.minutes == 90
    assert when.ends == "02:00 CET"
