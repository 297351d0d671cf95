"""The demo's state in a runtime: the seed series with the demo's registrants and mail history,
replayed up to a moment in the middle of the series, so that the console has something to show
(emails that went out, and emails still ahead) as soon as ``serve --demo`` starts.

The moment is 15 January 2024, 08:00 UTC: four sessions have taken place (the last on
9 January), four are ahead (the next on 5 February), every confirmation and the reminders of
the first four sessions have gone out, and the reminders of the last four are still due.
From there the clock runs at real speed and ``serve`` runs the scheduler on it, every 5 minutes
of that clock (:mod:`.scheduled_runs`), so what falls due while it serves goes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from .. import kit
from ..core.errors import InvalidInputError, SignatureError
from ..core.signatures import sign, verify
from ..organiser_requests import to_request
from .runtime import LocalRuntime
from .scenario import HttpStep, OrganiserStep, Scenario, Step, load_scenario

DEMO_SCENARIO = kit.demo_scenario()
DEMO_MOMENT = datetime(2024, 1, 15, 8, 0, tzinfo=UTC)
TICK = timedelta(minutes=5)
_WEBHOOK = re.compile(r"^/webhooks/(?P<provider>[a-z0-9-]+)/")


class CarryOnClock:
    """Set by hand while the demo is replayed; then, from ``carry_on()``, it runs at real speed
    from the moment it was left at (so a served demo stays in the middle of its series)."""

    def __init__(self, start: datetime) -> None:
        self._moment = start.astimezone(UTC)
        self._offset: timedelta | None = None

    def now(self) -> datetime:
        if self._offset is None:
            return self._moment
        return datetime.now(UTC) + self._offset

    def set(self, moment: datetime) -> None:
        if self._offset is not None:
            raise RuntimeError("the clock already runs at real speed")
        self._moment = moment.astimezone(UTC)

    def carry_on(self) -> None:
        self._offset = self._moment - datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Replayed:
    requests: int
    emails: int  # sent while replaying
    moment: datetime  # where the clock was left


def demo_scenario() -> Scenario:
    return load_scenario(DEMO_SCENARIO)


def replay(runtime: LocalRuntime, clock: CarryOnClock, scenario: Scenario,
           until: datetime = DEMO_MOMENT, webhook_secrets: dict[str, str] | None = None
           ) -> Replayed:
    """Publish the scenario's series and play its steps and scheduler runs up to ``until``
    (as ``simulate`` does, only the ticks at which something can be due).

    ``webhook_secrets``: the runtime's own secrets, when they are not the scenario's; requests
    the scenario signed correctly are signed again with them (at the same moment), and the
    ones it signed wrongly stay wrong.
    """
    until = min(until, scenario.until)
    runtime.push_series(scenario.series)
    steps = [_resigned(step, scenario.secrets, webhook_secrets or scenario.secrets)
             for step in scenario.steps if step.at <= until]
    sent = 0
    tick = scenario.start
    for number, step in enumerate(steps, start=1):
        sent += _run_ticks(runtime, clock, tick, step.at)
        tick = _grid(scenario.start, step.at)
        clock.set(step.at)
        _perform(runtime, scenario, step, number)
        sent += runtime.drain_sent()
    sent += _run_ticks(runtime, clock, tick, until + timedelta(seconds=1))
    clock.set(until)
    return Replayed(requests=len(steps), emails=sent, moment=until)


def _run_ticks(runtime: LocalRuntime, clock: CarryOnClock, tick: datetime,
               before: datetime) -> int:
    """Scheduler runs at the 5-minute ticks from ``tick`` until just before ``before`` (a step
    at a tick comes before that tick's run, as in ``simulate``), skipping the ticks at which
    nothing can be due."""
    sent = 0
    while True:
        wakeup = runtime.next_wakeup()
        if wakeup is None or wakeup >= before:
            return sent
        tick = max(tick, _grid(tick, wakeup))
        if tick >= before:
            return sent
        clock.set(tick)
        runtime.tick()
        sent += runtime.drain_sent()
        tick += TICK


def _grid(start: datetime, moment: datetime) -> datetime:
    """The first tick of the 5-minute grid from ``start`` at or after ``moment``."""
    periods = -(-(moment - start) // TICK)
    return start + max(periods, 0) * TICK


def _perform(runtime: LocalRuntime, scenario: Scenario, step: Step, number: int) -> None:
    if isinstance(step, HttpStep):
        runtime.request(step.method, step.path, step.headers, step.body)
        return
    if not isinstance(step, OrganiserStep):
        return  # the demo holds requests and organiser actions only
    try:
        path, body = to_request(step.action, step.series_id or scenario.series.id,
                                scenario.base)
    except InvalidInputError:
        return  # the scenario's own mistake: simulate shows it; the demo state goes without
    runtime.organiser(path, body, idempotency_key=f"demo-step-{number}")


def _resigned(step: Step, theirs: dict[str, str], ours: dict[str, str]) -> Step:
    if not isinstance(step, HttpStep) or theirs == ours:
        return step
    match = _WEBHOOK.match(step.path)
    header = next((v for k, v in step.headers.items() if k.lower() == "webinar-signature"), None)
    if match is None or header is None or match["provider"] not in ours:
        return step
    stamp = int(step.at.timestamp())
    try:
        signed = verify(header, step.body, [theirs.get(match["provider"], "")], stamp)
    except SignatureError:
        return step  # signed wrongly on purpose: it stays wrong
    headers = {k: v for k, v in step.headers.items() if k.lower() != "webinar-signature"}
    headers["Webinar-Signature"] = sign(ours[match["provider"]], signed, step.body)
    return replace(step, headers=headers)
