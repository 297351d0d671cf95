"""Deadline-aware fan-out: a slot too big for its window at the send rate opens early enough
for its last email to go before the window closes; publishing says so, with the figures."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import SERIES_FILE, Harness
from webinar_notify import bootstrap, organiser_cli
from webinar_notify.core import send_plan
from webinar_notify.core.send_plan import HEADROOM, SCHEDULER_PERIOD, plan, sending_time
from webinar_notify.entrypoints.console_sessions import _published_notice
from webinar_notify.entrypoints.organiser_routes import http_answer
from webinar_notify.series_files import load_series_file
from webinar_notify.services.scheduling import ScheduleSettings

TARGET = datetime(2023, 10, 26, 12, 0, tzinfo=UTC)
CLOSES = TARGET + timedelta(hours=1)
EARLIEST = TARGET - timedelta(hours=23)
S1 = CLOSES


def test_a_window_that_holds_the_audience_starts_at_the_target() -> None:
    fits = plan(10_000, 14.0, TARGET, CLOSES, EARLIEST)  # 13 min of sending, and 5 for a run
    assert fits.fits and fits.start == TARGET and fits.early_by == timedelta(0)
    assert fits.expected_late == 0
    assert plan(100_000, 0.0, TARGET, CLOSES, EARLIEST).start == TARGET  # rate unknown


def test_a_window_too_small_starts_early_by_n_over_r_and_names_the_rate_that_fits() -> None:
    crowded = plan(100_000, 14.0, TARGET, CLOSES, EARLIEST)
    assert not crowded.fits
    needs = timedelta(seconds=round(100_000 / 14 * HEADROOM)) + SCHEDULER_PERIOD
    assert abs(crowded.needs - needs) <= timedelta(seconds=1)
    assert crowded.start == CLOSES - crowded.needs  # about 2 h 16 min before the close
    assert crowded.expected_late == 0
    assert crowded.rate_needed == 34  # 110,000 in the 55 minutes a run may leave
    assert sending_time(100_000, crowded.rate_needed) <= CLOSES - TARGET


def test_never_earlier_than_the_previous_reminder_and_then_some_are_late() -> None:
    squeezed = plan(100_000, 14.0, TARGET, CLOSES, TARGET - timedelta(minutes=30))
    assert squeezed.start == TARGET - timedelta(minutes=30)
    # 90 minutes, less one run's delay, at 14/s with the margin: about 62,700 go in time.
    assert 35_000 < squeezed.expected_late < 40_000


def test_publishing_names_the_crowded_reminders_only() -> None:
    series = load_series_file(SERIES_FILE)
    now = TARGET - timedelta(days=30)
    found = send_plan.crowded(series, lambda _s: 100_000, 14.0, now)
    assert {c.offset for c in found} == {"1h"}  # the day reminders have room
    assert len(found) == 8 and send_plan.crowded(series, lambda _s: 100_000, 500.0, now) == []
    line = found[0].sentence()
    assert line.startswith("s1, the 1h reminder: 100,000 emails at 14/s need 2 h 16 min, "
                           "its window is 1 h 00 min; sending starts 1 h 16 min early.")
    assert line.endswith("A send rate of 34/s would fit the window.")


def test_the_scheduler_opens_a_crowded_slot_early_and_publishing_warns(
        harness: Harness) -> None:
    addresses = harness.register_many(12)
    services = bootstrap.services()
    # 12 emails at 0.002/s take 1 h 50 min (+ 5 min for a run): the 1-hour window is too small.
    services.scheduler.settings = ScheduleSettings(send_rate=0.002)
    published = services.organiser.publish(
        load_series_file(SERIES_FILE), quiet=True)  # unchanged: the index is planned anew
    assert [c.offset for c in published.crowded if c.session_id == "s1"] == ["1h"]
    answer = http_answer(published)
    body = answer.body
    assert body["crowded"][0]["rate_needed"] == 1 and "A send rate of 1/s" in body["warnings"][0]
    assert "Warning: s1, the 1h reminder: 12 emails at 0.002/s" in _published_notice(answer)

    opens = S1 - timedelta(hours=1) - published.crowded[0].plan.early_by
    harness.clock.set(opens - timedelta(minutes=1))  # the 1-day reminder is still open
    before = harness.runtime.tick()
    harness.runtime.drain()
    assert "reirradiation-2023/s1#1h#20231026T1300Z" not in before["sent_slots"]
    assert harness.runtime.next_wakeup() == opens  # the index knows the early opening
    already = len(harness.outbox.entries())
    harness.clock.set(opens)
    report = harness.runtime.tick()
    harness.runtime.drain()
    assert report["sent_slots"] == ["reirradiation-2023/s1#1h#20231026T1300Z"]
    sent = harness.outbox.entries()[already:]
    assert sorted(str(e["to"]) for e in sent) == sorted(addresses)
    assert opens < S1 - timedelta(hours=1, minutes=50)


def test_the_command_prints_publishing_warnings_after_the_answer(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    answer = {"outcome": "updated", "revision": 3, "warnings": ["s1, the 1h reminder: ..."]}
    monkeypatch.setattr(organiser_cli, "_request", lambda _args, _action: answer)
    assert organiser_cli._call(argparse.Namespace(), {"action": "push_series"}) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["revision"] == 3
    assert err == "warning: s1, the 1h reminder: ...\n"
