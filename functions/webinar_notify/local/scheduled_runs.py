"""The scheduler function while ``serve`` runs, as EventBridge runs it on AWS: every 5 minutes
of the server's clock. Locally it also runs at once when something falls due between two
marks (``LocalRuntime.next_wakeup``), so an announcement scheduled for 10:02 goes at 10:02.

One thread. A run takes the lock the request handler takes around its handler calls, so a run
and a request never use the runtime at once; between runs the thread sleeps outside the lock.
A request that may have changed the schedule nudges it to look again, and it looks again at
least every ``nap`` seconds anyway (a change made past the API, or a clock that jumped). A run
that fails prints one line and the next run tries again; a due moment that a run has already
passed is left to the next mark, so a failing run is retried every 5 minutes, not in a loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from .request_log import describe, log_line
from .runtime import LocalRuntime

EVERY = timedelta(minutes=5)  # the template's ScheduleExpression: rate(5 minutes)
NAP = 60.0  # seconds: the longest sleep before the clock and the schedule are read again
INDEX_GRAIN = timedelta(seconds=1)  # the schedule index keeps whole seconds, rounded down
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ScheduledRuns:
    """The scheduler's thread; ``start()`` once, ``stop()`` joins it (a run in progress ends
    first). ``after_sending`` is called, outside the lock, after a run that sent mail."""

    def __init__(self, runtime: LocalRuntime, invoking: threading.Lock, out: TextIO,
                 after_sending: Callable[[], None], every: timedelta = EVERY,
                 nap: float = NAP) -> None:
        if every <= timedelta(0) or nap <= 0:
            raise ValueError("the interval and the nap must be positive")
        self.runtime, self.invoking, self.out = runtime, invoking, out
        self.after_sending, self.every, self.nap = after_sending, every, nap
        self._last: datetime | None = None  # the server's clock at the last run
        self._started = runtime.clock.now()
        self._stopping, self._nudged = threading.Event(), threading.Event()
        self._running = threading.Event()  # a run holds the lock now
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Something may have changed the schedule: work out the next run again."""
        self._nudged.set()

    def stop(self) -> None:
        self._stopping.set()
        self._nudged.set()
        if not self._thread.is_alive() or self._thread is threading.current_thread():
            return
        if self._running.is_set():
            log_line(self.out, "scheduler: waiting for the run in progress to finish")
        self._thread.join()

    def _loop(self) -> None:
        due = self._next_run()
        while not self._stopping.is_set():
            now = self.runtime.clock.now()
            if now >= due:
                self._run()
                due = self._next_run()
                continue
            self._nudged.wait(min((due - now).total_seconds(), self.nap))
            self._nudged.clear()
            if not self._stopping.is_set():
                due = self._next_run()

    def _next_run(self) -> datetime:
        """The next 5-minute mark after the last run, or the next wakeup if earlier and not
        already passed by the last run (before the first run, any wakeup: due ones go now)."""
        mark = _next_mark(self._last or self._started, self.every)
        try:
            with self.invoking:
                wakeup = self.runtime.next_wakeup()
        except Exception as error:
            log_line(self.out, f"scheduler: the schedule could not be read: {describe(error)}; "
                               "trying at the next mark")
            return mark
        if wakeup is None:
            return mark
        target = wakeup + INDEX_GRAIN
        return min(mark, target) if self._last is None or target > self._last else mark

    def _run(self) -> None:
        """One scheduler invocation, then the sender over the queue (and waiting organiser
        jobs), as the send queue's event source would run it; the drain runs even when the
        scheduler failed, as delayed messages may have come due."""
        report: dict[str, Any] = {}
        problems: list[str] = []
        sent = 0
        with self.invoking:
            if self._stopping.is_set():
                return
            moment = self._last = self.runtime.clock.now()
            self._running.set()
            try:
                report = self.runtime.tick()
            except Exception as error:
                problems.append(f"the run failed: {describe(error)}; the next run tries again")
            try:
                sent = self.runtime.drain_sent()
            except Exception as error:  # the emails wait in the queue for the next drain
                problems.append(f"the sender failed: {describe(error)}")
            self._running.clear()
        if sent:
            self.after_sending()
        parts = [*_summary(report, sent), *problems]
        if parts:
            log_line(self.out, f"scheduler {_stamp(moment)}: " + "; ".join(parts))


def _next_mark(after: datetime, every: timedelta) -> datetime:
    """The first mark of the grid (every ``every`` since the epoch) after ``after``."""
    return _EPOCH + ((after - _EPOCH) // every + 1) * every


def _summary(report: dict[str, Any], sent: int) -> list[str]:
    """What a run did, by task key and count (ids only: never an address or a name)."""
    parts = [f"{slot} due" for slot in report.get("sent_slots", [])]
    parts += [f"{slot} dropped (its moment had passed)"
              for slot in report.get("dropped_slots", [])]
    if report.get("enqueued"):
        parts.append(f"{_emails(report['enqueued'])} enqueued")
    if report.get("suppressed"):
        parts.append(f"{report['suppressed']} suppressed")
    if report.get("unfinished"):
        parts.append(f"{report['unfinished']} left to the next run")
    parts += [f"series {series_id} failed (the next run tries again)"
              for series_id in report.get("failed", [])]
    if sent:
        parts.append(f"{_emails(sent)} sent")
    return parts


def _emails(count: int) -> str:
    return f"{count} email{'' if count == 1 else 's'}"


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
