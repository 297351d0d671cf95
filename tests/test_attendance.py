"""Minutes present per person and session: from Zoom's join and leave webhooks (reconnects
merged, overlaps counted once, clipped to the session, missing halves filled and counted), from
Zoom's attendee report and from a generic CSV (a bad row refuses the file, naming the line)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from conftest import SERIES_FILE
from webinar_notify.core.attendance import (
    AttendanceFileError,
    Interval,
    PresenceEvent,
    merged,
    parse_generic_csv,
    parse_zoom_report,
    presence,
    presence_from_events,
)
from webinar_notify.core.errors import InvalidInputError, PayloadError
from webinar_notify.core.providers.zoom_participants import parse_participant_event
from webinar_notify.series_files import load_series_file

START = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)  # s1, 15:00 CEST, one hour
END = START + timedelta(hours=1)
BRUSSELS = ZoneInfo("Europe/Brussels")


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def joined(minutes: float, connection: str = "c1") -> PresenceEvent:
    return PresenceEvent("joined", at(minutes), connection)


def left(minutes: float, connection: str = "c1") -> PresenceEvent:
    return PresenceEvent("left", at(minutes), connection)


# -- intervals --------------------------------------------------------------------------------
def test_a_whole_session_is_all_of_it() -> None:
    seen = presence_from_events([joined(-5), left(65)], START, END)
    assert (seen.seconds, seen.minutes, seen.fraction) == (3600, 60, Fraction(1))
    assert seen.meets() and seen.assumed == 0


def test_a_reconnect_is_merged_and_the_gap_is_not_counted() -> None:
    events = [joined(0, "a"), left(20, "a"), joined(23, "b"), left(60, "b")]
    seen = presence_from_events(events, START, END)
    assert seen.minutes == 57
    assert [(i.start, i.end) for i in seen.intervals] == [(at(0), at(20)), (at(23), at(60))]


def test_two_devices_at_once_count_each_minute_once() -> None:
    events = [joined(0, "laptop"), joined(10, "phone"), left(30, "laptop"), left(50, "phone")]
    assert presence_from_events(events, START, END).minutes == 50


def test_time_outside_the_session_does_not_count() -> None:
    assert presence_from_events([joined(-30), left(10)], START, END).minutes == 10
    assert presence_from_events([joined(50), left(120)], START, END).minutes == 10
    assert presence_from_events([joined(-30), left(-10)], START, END).seconds == 0


def test_a_retried_webhook_counts_once() -> None:
    events = [joined(0), joined(0), left(30), left(30)]
    seen = presence_from_events(events, START, END)
    assert (seen.minutes, seen.assumed) == (30, 0)


def test_a_leave_without_its_join_counts_from_the_start_and_is_flagged() -> None:
    seen = presence_from_events([left(40)], START, END)
    assert (seen.minutes, seen.assumed) == (40, 1)


def test_a_leave_whose_join_was_lost_after_other_events_counts_nothing() -> None:
    """In 0', out 10', then a leave at 59' whose join was lost: the join could have been at
    any time since 10', so only the first ten minutes are certain, and the guess is flagged."""
    seen = presence_from_events([joined(0), left(10), left(59)], START, END)
    assert (seen.minutes, seen.assumed) == (10, 1)
    other = presence_from_events([joined(0, "c1"), left(10, "c1"), left(59, "c2")], START, END)
    assert (other.minutes, other.assumed) == (10, 1)


def test_a_join_without_its_leave_counts_to_the_end_and_is_flagged() -> None:
    seen = presence_from_events([joined(10)], START, END)
    assert (seen.minutes, seen.assumed) == (50, 1)


def test_joins_and_leaves_without_connection_ids_pair_in_order() -> None:
    events = [joined(0, ""), left(10, ""), joined(20, ""), left(30, "")]
    assert presence_from_events(events, START, END).minutes == 20


@pytest.mark.parametrize(("minutes_present", "meets"), [
    (51, True), (50.99, False), (60, True), (0, False)])
def test_the_default_threshold_is_85_percent_exactly(minutes_present: float,
                                                     meets: bool) -> None:
    seen = presence([Interval(at(0), at(minutes_present))], START, END)
    assert seen.meets() is meets  # 85 % of 60 min is 51 min, with no float rounding


def test_a_threshold_of_the_series_applies() -> None:
    seen = presence([Interval(at(0), at(30))], START, END)
    assert seen.meets(Fraction(1, 2)) and not seen.meets(Fraction(3, 4))


def test_merged_joins_touching_and_nested_intervals() -> None:
    parts = [Interval(at(30), at(40)), Interval(at(0), at(10)), Interval(at(10), at(20)),
             Interval(at(2), at(5))]
    assert merged(parts) == [Interval(at(0), at(20)), Interval(at(30), at(40))]


# -- Zoom's attendee report ---------------------------------------------------------------------
ZOOM_REPORT = """\ufeffAttendee Report
Report Generated:,"10/26/2023 17:05:12"
Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registered,# Cancelled,\
Unique Viewers,Total Users,Max Concurrent Views
Reirradiation: Patient selection,812 3456 7890,10/26/2023 02:55:40 PM,70,120,2,80,95,78
Host Details,
Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),\
Is Guest,Country/Region Name
Yes,Host,host@example.org,10/26/2023 02:50:00 PM,10/26/2023 04:05:00 PM,75,No,Belgium
Panelist Details,
Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),\
Is Guest,Country/Region Name
--,
Attendee Details,
Attended,User Name (Original Name),First Name,Last Name,Email,Registration Time,\
Approval Status,Join Time,Leave Time,Time in Session (minutes),Is Guest,Country/Region Name
Yes,Ana,Ana,Lima,ana@example.org,10/01/2023 09:00:00 AM,approved,\
10/26/2023 02:58:00 PM,10/26/2023 04:01:00 PM,63,Yes,Brazil
Yes,"Nguyễn Thị Minh Khai",Khai,Nguyễn,Khai@Example.org,10/01/2023 09:00:00 AM,approved,\
10/26/2023 03:00:00 PM,10/26/2023 03:30:00 PM,30,Yes,Viet Nam
Yes,"Nguyễn Thị Minh Khai",Khai,Nguyễn,khai@example.org,10/01/2023 09:00:00 AM,approved,\
10/26/2023 03:34:00 PM,10/26/2023 04:00:00 PM,26,Yes,Viet Nam
No,Absent,Ab,Sent,absent@example.org,10/01/2023 09:00:00 AM,approved,--,--,--,,
"""


def test_the_zoom_report_gives_each_person_their_merged_minutes() -> None:
    upload = parse_zoom_report(ZOOM_REPORT, BRUSSELS, START)
    seen = upload.presence(START, END)
    assert seen["ana@example.org"].minutes == 60  # 14:58 to 16:01 CEST, clipped
    assert seen["khai@example.org"].minutes == 56  # two rows, the 4-minute gap not counted
    assert seen["host@example.org"].minutes == 60
    assert "absent@example.org" not in seen
    assert upload.rows == 4


def test_the_zoom_report_is_read_in_the_zone_it_was_downloaded_in() -> None:
    seen = parse_zoom_report(ZOOM_REPORT, ZoneInfo("UTC")).presence(START, END)
    assert seen["ana@example.org"].minutes == 0  # 14:58 UTC is after s1 ended


def test_a_report_of_another_day_is_refused() -> None:
    with pytest.raises(AttendanceFileError, match="started 2023-10-26 12:55 UTC, not of this"):
        parse_zoom_report(ZOOM_REPORT, BRUSSELS, START + timedelta(days=11))


def test_a_bad_row_refuses_the_whole_report_naming_the_line_not_the_person() -> None:
    broken = ZOOM_REPORT.replace("10/26/2023 03:34:00 PM", "tomorrow-ish")
    with pytest.raises(AttendanceFileError) as caught:
        parse_zoom_report(broken, BRUSSELS)
    assert caught.value.errors == ("line 15: the join time is not a date and time this file "
                                   "format uses",)
    assert "khai" not in str(caught.value).lower()
    assert isinstance(caught.value, InvalidInputError)


def test_a_file_that_is_not_a_zoom_report_is_refused() -> None:
    with pytest.raises(AttendanceFileError, match="no \"Attendee Details\" section"):
        parse_zoom_report("email,minutes\na@example.org,50\n", BRUSSELS)


# -- the generic CSV ----------------------------------------------------------------------------
def test_a_generic_csv_with_minutes_sums_rows_and_caps_at_the_session() -> None:
    upload = parse_generic_csv("Email,Minutes\na@example.org,30\nA@example.org,25.5\n"
                               "b@example.org,90\n", BRUSSELS)
    seen = upload.presence(START, END)
    assert (seen["a@example.org"].minutes, seen["b@example.org"].minutes) == (55, 60)


def test_a_generic_csv_with_times_reads_offsets_and_the_given_zone() -> None:
    text = ("email,join,leave\n"
            "a@example.org,2023-10-26T13:00:00Z,2023-10-26T13:30:00Z\n"
            "a@example.org,2023-10-26 15:40,2023-10-26 16:10\n")  # Brussels wall time
    assert parse_generic_csv(text, BRUSSELS).presence(START, END)["a@example.org"].minutes \
        == 50


@pytest.mark.parametrize(("text", "error"), [
    ("email,minutes\nnot-an-address,30\n", "line 2: the email column does not hold an email"),
    ("email,minutes\na@example.org,-3\n", "line 2: minutes must be a number of minutes"),
    ("email,minutes\na@example.org,nan\n", "line 2: minutes must be a number of minutes"),
    ("email,join,leave\na@example.org,2023-10-26T14:00:00Z,2023-10-26T13:00:00Z\n",
     "line 2: the leave time is before the join time"),
    ("email,join,leave\na@example.org,,\n", "line 2: the row gives neither minutes nor"),
    ("address,minutes\na@example.org,30\n", 'line 1: the header needs "email"'),
    ("", "the file is empty"),
])
def test_a_bad_generic_csv_is_refused_with_its_line(text: str, error: str) -> None:
    with pytest.raises(AttendanceFileError, match=error):
        parse_generic_csv(text, BRUSSELS)


def test_every_bad_row_is_listed_once() -> None:
    text = "email,minutes\n" + "".join(f"bad{i},x\n" for i in range(3)) + "ok@example.org,5\n"
    with pytest.raises(AttendanceFileError) as caught:
        parse_generic_csv(text, BRUSSELS)
    assert [e.split(":")[0] for e in caught.value.errors] == ["line 2", "line 3", "line 4"]


# -- Zoom's participant webhooks ----------------------------------------------------------------
SERIES = load_series_file(SERIES_FILE)
MAPPED = replace(SERIES, forms={**SERIES.forms, "zoom": {"webinars": {"81234567890": "s1",
                                                                      "89999999999": "*"}}})


def zoom_body(event: str, participant: dict[str, object], webinar: str = "81234567890",
              start: str = "2023-10-26T13:00:00Z") -> bytes:
    return json.dumps({"event": event, "event_ts": 1698325200000, "payload": {
        "account_id": "acc", "object": {"id": webinar, "uuid": "u==", "start_time": start,
                                        "participant": participant}}}).encode()


def test_a_join_and_a_leave_become_presence_events_of_the_mapped_session() -> None:
    came = parse_participant_event(zoom_body("webinar.participant_joined", {
        "email": "Ana@Example.org", "join_time": "2023-10-26T13:02:00Z",
        "participant_uuid": "p-1", "id": "x"}), MAPPED)
    went = parse_participant_event(zoom_body("webinar.participant_left", {
        "email": "ana@example.org", "leave_time": "2023-10-26T13:50:00Z",
        "participant_uuid": "p-1", "leave_reason": "left the webinar"}), MAPPED)
    assert came is not None and went is not None
    assert (came.session_id, came.email, came.event.kind) == ("s1", "ana@example.org", "joined")
    assert went.event == PresenceEvent("left", at(50), "p-1")
    assert presence_from_events([came.event, went.event], START, END).minutes == 48
    assert came.event_id != went.event_id


def test_two_people_joining_in_the_same_second_without_ids_get_two_event_ids() -> None:
    first, second = (parse_participant_event(zoom_body("webinar.participant_joined", {
        "email": email, "join_time": "2023-10-26T13:02:00Z"}), MAPPED)
        for email in ("ana@example.org", "khai@example.org"))
    assert first is not None and second is not None
    assert first.event_id != second.event_id
    assert "example.org" not in first.event_id  # no address in the id
    again = parse_participant_event(zoom_body("webinar.participant_joined", {
        "email": "ANA@example.org", "join_time": "2023-10-26T13:02:00Z"}), MAPPED)
    assert again is not None and again.event_id == first.event_id  # a retry is the same


def test_a_recurring_webinar_finds_its_session_by_the_occurrence() -> None:
    seen = parse_participant_event(zoom_body("webinar.participant_joined", {
        "email": "a@example.org", "join_time": "2023-11-06T14:01:00Z", "id": "z"},
        webinar="89999999999", start="2023-11-06T14:00:00Z"), MAPPED)
    assert seen is not None and seen.session_id == "s2"


@pytest.mark.parametrize("body", [
    zoom_body("webinar.registration_created", {"email": "a@example.org"}),
    zoom_body("webinar.participant_joined", {"email": "a@example.org",
                                             "join_time": "2023-10-26T13:02:00Z"},
              webinar="80000000000"),
    zoom_body("webinar.participant_joined", {"user_name": "guest",
                                             "join_time": "2023-10-26T13:02:00Z"}),
])
def test_other_events_webinars_and_guests_without_address_are_not_presence(body: bytes) -> None:
    assert parse_participant_event(body, MAPPED) is None


def test_a_join_without_its_time_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match=r"participant\.join_time"):
        parse_participant_event(zoom_body("webinar.participant_joined",
                                          {"email": "a@example.org"}), MAPPED)


def test_a_report_resaved_with_day_first_dates_is_refused_not_misread() -> None:
    s5 = datetime(2024, 2, 5, 14, 0, tzinfo=UTC)  # 5 February, 15:00 CET
    month_first = ZOOM_REPORT.replace("10/26/2023", "02/05/2024")
    assert parse_zoom_report(month_first, BRUSSELS, s5).rows == 4
    day_first = ZOOM_REPORT.replace("10/26/2023", "05/02/2024")  # read as 2 May
    with pytest.raises(AttendanceFileError, match="not of this session"):
        parse_zoom_report(day_first, BRUSSELS, s5)
