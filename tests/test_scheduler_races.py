"""Two scheduler runs interleaved at every step of one of them: the mail, the decision and the
schedule index come out as after one run.

Run A is slowed down at its n-th call to the schedule store: there, run B (another container,
started after A's lease ran out) runs to its end, then A carries on. Without fencing, A's late
writes overwrite B's fan-out; without a condition on the index, A's stale plan hides a change
made while it ran."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import SERIES_ID, Harness
from webinar_notify import bootstrap
from webinar_notify.adapters.schedule_store import ScheduleStore
from webinar_notify.services.scheduling import Scheduler, ScheduleSettings

S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PAGE = 2
SLOT = "s1#1d#20231026T1300Z"
# series_due, decisions, tasks, claim, progress x3 (pages of 2 of 7 registrants), settle,
# then the plan's reads and write
FAN_OUT_STEPS = 12


class SlowStore:
    """The schedule store as run A sees it: before its n-th call, ``interrupt`` runs."""

    def __init__(self, inner: ScheduleStore, at_call: int, interrupt: Callable[[], None]) -> None:
        self.inner = inner
        self.at_call = at_call
        self.interrupt = interrupt
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.at_call:
                self.interrupt()
            return method(*args, **kwargs)
        return call


def count_queued(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every job put on the send queue from now on, by registrant (duplicates included)."""
    queue = bootstrap.services().scheduler.queue
    real_send, queued = queue.send, Counter[str]()

    def counting_send(jobs: Any, delay_seconds: int = 0) -> None:
        queued.update(job.registrant_id for job in jobs)
        real_send(jobs, delay_seconds)

    monkeypatch.setattr(queue, "send", counting_send)
    return queued


def reminders(harness: Harness) -> Counter[str]:
    harness.runtime.drain()
    return Counter(str(e["to"]) for e in harness.outbox.entries() if e["kind"] == "reminder")


def slow_run(harness: Harness, at_call: int, interrupt: Callable[[], None]) -> SlowStore:
    services = bootstrap.services()
    store = SlowStore(services.organiser.schedule, at_call, interrupt)
    run_a = Scheduler(services.store, store, services.scheduler.queue,  # type: ignore[arg-type]
                      services.scheduler.secrets, harness.clock,
                      ScheduleSettings(lease=LEASE, page_size=PAGE))
    run_a.run()
    return store


@pytest.mark.parametrize("step", range(1, FAN_OUT_STEPS + 1))
def test_a_run_that_overruns_its_lease_cannot_undo_its_successor(
        harness: Harness, step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = harness.register_many(7)
    harness.clock.set(S1 - timedelta(days=1))

    queued = count_queued(monkeypatch)

    def successor() -> None:
        harness.clock.advance(LEASE + timedelta(seconds=1))
        harness.runtime.tick()

    store = slow_run(harness, step, successor)
    assert store.calls >= step  # the interruption happened
    # A stops at its first write after B took over: at most the page it had in hand again.
    assert sum(queued.values()) <= len(addresses) + PAGE

    decision = harness.runtime.schedule.decisions(SERIES_ID)[SLOT]
    assert decision.state == "done"
    assert decision.enqueued == len(addresses)  # as one run counts it, not A's or B's share
    assert reminders(harness) == Counter(dict.fromkeys(addresses, 1))
    harness.clock.advance(timedelta(minutes=5))
    assert harness.runtime.tick()["enqueued"] == 0  # nothing left over for a third run


class OnceBefore:
    """Run A's schedule store: ``interrupt`` runs once, just before A's first call of
    ``method`` (e.g. its plan's write: the last moment a change can slip in between what A
    read and what A writes)."""

    def __init__(self, inner: ScheduleStore, method: str, interrupt: Callable[[], None]) -> None:
        self.inner = inner
        self.method = method
        self.interrupt = interrupt
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name != self.method or self.calls:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.interrupt()
            return method(*args, **kwargs)
        return call


def test_a_change_made_during_a_run_is_not_hidden_by_its_stale_plan(harness: Harness) -> None:
    """An announcement due soon, stored while a run is busy: the run's plan (made from what it
    read before) must not move the index past the announcement."""
    harness.register_many(3)
    harness.clock.set(S1 - timedelta(days=1))
    soon = harness.clock.now() + timedelta(minutes=30)

    def organiser_announces() -> None:
        answer = harness.runtime.organiser(
            f"/organiser/series/{SERIES_ID}/announcements",
            {"id": "room-change", "subject": "Room change", "body_markdown": "We moved.",
             "audience": {"all": True}, "send_at": soon.isoformat()}, "key-room")
        assert answer.status == 202, answer.body

    services = bootstrap.services()
    store = OnceBefore(services.organiser.schedule, "set_next_due", organiser_announces)
    Scheduler(services.store, store, services.scheduler.queue,  # type: ignore[arg-type]
              services.scheduler.secrets, harness.clock, ScheduleSettings()).run()

    assert store.calls == 1
    wakeup = harness.runtime.schedule.next_wakeup()
    assert wakeup is not None and wakeup <= soon
    harness.clock.set(soon)
    harness.runtime.tick()
    harness.runtime.drain()
    assert sum(e["kind"] == "announcement" for e in harness.outbox.entries()) == 3


class DiesAtProgress:
    """Run B's schedule store: B dies (its container is stopped) at its n-th progress write,
    leaving its claim live, with its own fence, mid-way through the fan-out."""

    def __init__(self, inner: ScheduleStore, at_progress: int) -> None:
        self.inner = inner
        self.at_progress = at_progress
        self.progressed = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name != "progress":
            return method

        def progress(*args: Any, **kwargs: Any) -> Any:
            self.progressed += 1
            if self.progressed == self.at_progress:
                raise RuntimeError("run B was stopped")
            return method(*args, **kwargs)
        return progress


def test_an_overrun_run_cannot_write_over_a_successor_that_is_still_fanning_out(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A is slowed before its first progress write; meanwhile B takes the slot over, gets two
    pages further and is stopped with its lease still live. A's write must be refused by the
    fence (the state alone says "fanning" for both), and A must stop there."""
    addresses = harness.register_many(7)
    harness.clock.set(S1 - timedelta(days=1))
    services = bootstrap.services()
    queue = services.scheduler.queue
    queued = count_queued(monkeypatch)

    def run(store: Any) -> Any:
        return Scheduler(services.store, store, queue, services.scheduler.secrets,
                         harness.clock, ScheduleSettings(lease=LEASE, page_size=PAGE)).run()

    def successor_stopped_mid_way() -> None:
        harness.clock.advance(LEASE + timedelta(seconds=1))
        assert run(DiesAtProgress(services.organiser.schedule, 3)).failed == [SERIES_ID]

    report_a = run(OnceBefore(services.organiser.schedule, "progress",
                              successor_stopped_mid_way))

    held = harness.runtime.schedule.decisions(SERIES_ID)[SLOT]
    assert report_a.overtaken == 1  # A found its write refused and stopped
    assert (held.state, held.enqueued, held.fence) == ("fanning", 2 * PAGE, 2)  # B's, kept
    assert sum(queued.values()) == PAGE + 3 * PAGE  # A's first page, B's three: nothing more
    harness.clock.advance(LEASE + timedelta(seconds=1))  # B's lease runs out
    assert harness.runtime.tick()["enqueued"] == len(addresses) - 2 * PAGE  # from B's cursor
    assert reminders(harness) == Counter(dict.fromkeys(addresses, 1))
    assert harness.runtime.schedule.decisions(SERIES_ID)[SLOT].enqueued == len(addresses)
