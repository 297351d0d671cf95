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

    queue = bootstrap.services().scheduler.queue
    real_send, queued = queue.send, Counter[str]()

    def counting_send(jobs: Any, delay_seconds: int = 0) -> None:
        queued.update(job.registrant_id for job in jobs)
        real_send(jobs, delay_seconds)

    monkeypatch.setattr(queue, "send", counting_send)

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


class PlanStepStore(SlowStore):
    """Interrupts once, just before run A writes its plan: the last moment a change can slip
    in between what A read and what A writes."""

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name != "set_next_due" or self.calls:
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
    store = PlanStepStore(services.organiser.schedule, 0, organiser_announces)
    Scheduler(services.store, store, services.scheduler.queue,  # type: ignore[arg-type]
              services.scheduler.secrets, harness.clock, ScheduleSettings()).run()

    assert store.calls == 1
    wakeup = harness.runtime.schedule.next_wakeup()
    assert wakeup is not None and wakeup <= soon
    harness.clock.set(soon)
    harness.runtime.tick()
    harness.runtime.drain()
    assert sum(e["kind"] == "announcement" for e in harness.outbox.entries()) == 3
