"""Quiet hours: day-offset reminders reach each registrant in their own daytime; hour offsets
stay exact; the series file sets them or turns them off."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import SERIES_FILE, Harness
from webinar_notify import bootstrap
from webinar_notify.adapters.store import DynamoStore
from webinar_notify.core.errors import SeriesFileError
from webinar_notify.core.quiet_hours import QuietHours
from webinar_notify.core.schedule import first_moment, registrant_moment, slots
from webinar_notify.core.series_document import parse_series, series_to_document
from webinar_notify.series_files import load_series_file
from webinar_notify.services.scheduling import reminder_passes

ZONES = ("Australia/Sydney", "Pacific/Auckland", "Asia/Tokyo", "Asia/Kathmandu", "Asia/Riyadh",
         "Europe/Brussels", "America/Sao_Paulo", "America/Toronto", "America/Los_Angeles",
         "Pacific/Honolulu", "Pacific/Kiritimati", "Pacific/Pago_Pago")


def _series_slots() -> list:  # type: ignore[type-arg]
    return slots(load_series_file(SERIES_FILE))


def test_day_reminders_land_between_08_and_21_local_and_hour_reminders_stay_exact() -> None:
    quiet = QuietHours()
    for slot in _series_slots():
        for zone in ZONES:
            moment = registrant_moment(slot, zone, quiet)
            if not slot.whole_days:
                assert moment == slot.opens
                continue
            local = moment.astimezone(ZoneInfo(zone))
            assert time(8, 0) <= local.time() <= time(21, 0), (slot.key, zone, local)
            assert slot.after is None or moment >= slot.after
            assert moment < slot.closes
            assert abs(moment - slot.opens) <= timedelta(hours=6)  # half the 11 quiet hours


def test_the_nearest_allowed_moment_wins_and_the_earlier_on_a_tie() -> None:
    one_day = next(s for s in _series_slots() if s.key == "s1#1d#20231026T1300Z")
    # 15:00 Brussels = 00:00 in Sydney (AEDT): 21:00 is 3 hours earlier, 08:00 8 hours later.
    sydney = registrant_moment(one_day, "Australia/Sydney", QuietHours())
    assert sydney == datetime(2023, 10, 25, 10, 0, tzinfo=UTC)
    # 06:00 in Los Angeles: 08:00 is 2 hours later, 21:00 the evening before is 9 hours earlier.
    assert registrant_moment(one_day, "America/Los_Angeles", QuietHours()) == \
        datetime(2023, 10, 25, 15, 0, tzinfo=UTC)
    # Quiet from 19:00 to 05:00 makes 00:00 in Sydney a tie: 5 hours either way, the earlier.
    assert registrant_moment(one_day, "Australia/Sydney", QuietHours(time(19), time(5))) == \
        datetime(2023, 10, 25, 8, 0, tzinfo=UTC)
    # Brussels itself is in daytime: the nominal moment.
    assert registrant_moment(one_day, "Europe/Brussels", QuietHours()) == one_day.opens


def test_never_before_the_previous_reminder_nor_at_the_next() -> None:
    base = next(s for s in _series_slots() if s.key == "s1#1d#20231026T1300Z")
    # A previous reminder two hours earlier: 21:00 Sydney (3 h earlier) is out of bounds, and
    # 08:00 is after the next reminder opens: nothing allowed fits, the nominal moment stands.
    squeezed = replace(base, after=base.opens - timedelta(hours=2),
                       closes=base.opens + timedelta(hours=4))
    assert registrant_moment(squeezed, "Australia/Sydney", QuietHours()) == base.opens
    later_only = replace(base, after=base.opens - timedelta(hours=2))
    assert registrant_moment(later_only, "Australia/Sydney", QuietHours()) == \
        datetime(2023, 10, 25, 21, 0, tzinfo=UTC)  # 08:00 the next morning in Sydney


def test_off_keeps_every_moment_nominal_and_needs_no_early_pass() -> None:
    series = replace(load_series_file(SERIES_FILE), quiet_hours=None)
    for slot in slots(series):
        assert registrant_moment(slot, "Australia/Sydney", None) == slot.opens
        assert first_moment(slot, None) == slot.opens
    assert [p.key for p in reminder_passes(series)] == [s.key for s in slots(series)]


def test_day_slots_get_an_early_pass_from_the_first_moment_anyone_gets_them() -> None:
    series = load_series_file(SERIES_FILE)
    passes = reminder_passes(series)
    early = [p for p in passes if p.early]
    assert {p.slot.key for p in early} == {s.key for s in slots(series) if s.whole_days}
    for task in early:
        assert task.key == task.slot.key + "#early"
        assert task.closes == task.slot.opens
        # Somewhere on Earth it is 02:30 at the nominal moment: 21:00 there is 5.5 hours back.
        assert task.opens == task.slot.opens - timedelta(hours=5, minutes=30)
        assert task.main.key == task.slot.key


def _doc(**changes: object) -> dict[str, object]:
    return series_to_document(load_series_file(SERIES_FILE)) | changes


def test_the_series_file_sets_quiet_hours_or_turns_them_off() -> None:
    assert load_series_file(SERIES_FILE).quiet_hours == QuietHours(time(21), time(8))
    assert parse_series(_doc(quiet_hours="off")).quiet_hours is None
    assert parse_series(_doc(quiet_hours=False)).quiet_hours is None
    custom = parse_series(_doc(quiet_hours={"from": "22:30", "to": "07:00"}))
    assert custom.quiet_hours == QuietHours(time(22, 30), time(7))
    assert parse_series(series_to_document(custom)) == custom
    off = parse_series(_doc(quiet_hours="off"))
    assert parse_series(series_to_document(off)).quiet_hours is None
    assert parse_series(_doc(quiet_hours={"from": 1260, "to": "08:00"})).quiet_hours == \
        QuietHours()  # YAML 1.1 reads an unquoted 21:00 as 1260 minutes


@pytest.mark.parametrize(("value", "message"), [
    ({"from": "25:00", "to": "08:00"}, 'quiet_hours: from: expected a time of day'),
    ({"from": "21:00"}, "quiet_hours: expected off, or from and to times"),
    ({"from": "08:00", "to": "08:00"}, "quiet_hours: from and to are the same time"),
    ("sometimes", "quiet_hours: expected off, or from and to times"),
    ({"from": "9pm", "to": "08:00"}, "quiet_hours: from: expected a time of day"),
])
def test_a_bad_quiet_hours_field_is_one_clear_error(value: object, message: str) -> None:
    with pytest.raises(SeriesFileError) as error:
        parse_series(_doc(quiet_hours=value))
    assert str(error.value).startswith(message)


S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)  # s1 starts: 15:00 CEST
SERIES = "reirradiation-2023"


def _run_until(harness: Harness, end: datetime) -> None:
    """Every scheduler run the index asks for, up to ``end``, with the senders after each."""
    while (wake := harness.runtime.next_wakeup()) is not None and wake <= end:
        harness.clock.set(max(wake, harness.clock.now()))
        harness.runtime.tick()
        harness.runtime.drain()


def test_a_world_wide_audience_gets_each_reminder_once_in_its_daytime_in_two_passes(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, zone in enumerate(ZONES):
        answer = harness.register(email=f"p{i}@example.org", name=f"P{i}", event_id=f"e{i}",
                                  time_zone=zone, sessions=["s1"])
        assert answer.status == 202, answer.body
    harness.runtime.drain()
    read: list[int] = []
    page = DynamoStore.registrations_page

    def counted(self: DynamoStore, *args: object) -> object:
        found = page(self, *args)  # type: ignore[arg-type]
        read.append(len(found[0]))
        return found

    monkeypatch.setattr(DynamoStore, "registrations_page", counted)
    _run_until(harness, S1)

    zone_of = {f"p{i}@example.org": zone for i, zone in enumerate(ZONES)}
    sent = [e for e in harness.outbox.entries() if e["kind"] == "reminder"]
    got = Counter((str(e["to"]), _offset_of(str(e["sent_at"]))) for e in sent)
    assert got == Counter({(a, o): 1 for a in zone_of for o in ("7d", "1d", "1h")})
    moments = {_offset_of(str(e["sent_at"])): set() for e in sent}  # type: ignore[var-annotated]
    for entry in sent:
        at = datetime.fromisoformat(str(entry["sent_at"]).replace("Z", "+00:00"))
        offset = _offset_of(str(entry["sent_at"]))
        moments[offset].add(at)
        if offset == "1h":
            assert at == S1 - timedelta(hours=1)
        else:
            local = at.astimezone(ZoneInfo(zone_of[str(entry["to"])]))
            assert time(8) <= local.time() <= time(21), (entry["to"], offset, local)
    # Registrations are read by the passes only: the 1-hour slot once, each day slot twice
    # (early and main pass), however many distinct moments the zones make.
    assert len(moments["7d"]) >= 6 and len(moments["1d"]) >= 6
    assert sum(read) == 5 * len(ZONES)


def _offset_of(sent_at: str) -> str:
    at = datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
    before_start = S1 - at
    if before_start <= timedelta(hours=1):
        return "1h"
    return "1d" if before_start < timedelta(days=3) else "7d"


def test_reminders_decided_before_quiet_hours_existed_are_not_sent_again(
        harness: Harness) -> None:
    harness.register(email="far@example.org", name="Far", event_id="e-far",
                     time_zone="Australia/Sydney", sessions=["s1"])
    harness.runtime.drain()
    old = replace(load_series_file(SERIES_FILE), quiet_hours=None)
    harness.clock.set(S1 - timedelta(days=7))  # the 7-day slot, sent as before the change
    with_quiet_hours_off = harness.runtime.push_series(old)
    assert with_quiet_hours_off is not None
    harness.runtime.tick()
    harness.runtime.drain()
    assert [e["kind"] for e in harness.outbox.entries()].count("reminder") == 1
    # The change is deployed (quiet hours on by default): the 7-day slot is decided already.
    harness.runtime.push_series(replace(old, quiet_hours=QuietHours()))
    _run_until(harness, S1 - timedelta(days=2))
    assert [e["kind"] for e in harness.outbox.entries()].count("reminder") == 1


def test_a_parked_chunk_written_again_replaces_itself_and_a_begun_wave_takes_no_more(
        harness: Harness) -> None:
    schedule = bootstrap.services().scheduler.schedule
    expires = S1 + timedelta(days=7)
    wave = "wave#s1#1d#20231026T1300Z#20231025T1500Z"
    assert schedule.park(SERIES, wave, "page-0", ["a", "b"], expires)
    assert schedule.park(SERIES, wave, "page-0", ["a", "b"], expires)  # a resumed pass
    assert schedule.park(SERIES, wave, "page-1", ["c"], expires)
    jobs, cursor = schedule.parked_page(SERIES, wave, None)
    assert (sorted(jobs), cursor) == (["a", "b", "c"], None)
    assert schedule.claim(SERIES, wave, S1, timedelta(minutes=5)) is not None
    assert not schedule.park(SERIES, wave, "page-2", ["d"], expires)  # the pass sends it now


def test_a_parked_reminder_keeps_no_address_and_an_erasure_meanwhile_stops_it(
        harness: Harness) -> None:
    """Los Angeles wakes after the series' moment (06:00 there), so its 7-day reminder waits
    for 08:00: parked without address or name, addressed again from the registration then."""
    import re

    for who in ("leaving", "staying"):
        answer = harness.register(email=f"{who}@example.org", name=f"Name {who}",
                                  event_id=f"e-{who}", time_zone="America/Los_Angeles",
                                  sessions=["s1"])
        assert answer.status == 202, answer.body
    manage = harness.manage_path("leaving@example.org")
    _run_until(harness, S1 - timedelta(days=7))  # the main pass: both parked
    parked = harness.items("PARKED#")
    assert parked and all("@" not in str(item) and "Name " not in str(item) for item in parked)

    form = {"content-type": "application/x-www-form-urlencoded"}
    asked = harness.runtime.request("POST", manage, form, b"action=erase")
    confirm = re.search(r'name="confirm" value="([^"]+)"', asked.text)
    assert confirm, asked.text
    erased = harness.runtime.request(
        "POST", manage, form, f"action=erase_confirmed&confirm={confirm[1]}".encode())
    assert erased.status == 200
    _run_until(harness, S1 - timedelta(days=6))
    week = [e for e in harness.outbox.entries()
            if e["kind"] == "reminder" and e["sessions"] == ["s1"]
            and str(e["sent_at"]) < (S1 - timedelta(days=6)).isoformat()]
    assert [e["to"] for e in week] == ["staying@example.org"]
    local = datetime.fromisoformat(str(week[0]["sent_at"]).replace("Z", "+00:00"))
    assert local.astimezone(ZoneInfo("America/Los_Angeles")).time() == time(8)
