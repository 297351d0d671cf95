"""Replays a scenario in virtual time and prints what happened, step by step."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from ..adapters.clock import VirtualClock
from ..adapters.outbox import OutboxMailer
from ..core.errors import InvalidInputError
from ..core.text import registrant_id
from ..organiser_requests import to_request
from .runtime import HttpAnswer, LocalRuntime, LocalSettings, local_runtime
from .scenario import HttpStep, Scenario, Step

TICK = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SimulationReport:
    outbox: Path
    index: Path
    requests: int
    emails: int
    dead_letters: int


def simulate(scenario: Scenario, outbox: Path, out: TextIO,
             every_tick: bool = False) -> SimulationReport:
    """Run every step at its time and the scheduler every 5 virtual minutes.

    Ticks at which nothing can be due (no reminder slot opens, no delayed message becomes
    visible, no step comes) are skipped unless ``every_tick``: they would find nothing to do.
    """
    outbox.mkdir(parents=True, exist_ok=True)
    for stale in ("log.jsonl", "requests.jsonl", "index.html"):
        (outbox / stale).unlink(missing_ok=True)
    for old_email in outbox.glob("*.eml"):
        old_email.unlink()
    clock = VirtualClock(scenario.start)
    mailer = OutboxMailer(outbox, clock)
    settings = LocalSettings(webhook_secrets=scenario.secrets)
    if scenario.token_secret:
        settings = replace(settings, token_secret=scenario.token_secret)
    timeline = _Timeline(out, mailer, settings.registrant_key)
    steps = list(scenario.steps)
    requests = 0
    with local_runtime(clock, mailer, settings) as runtime, \
            (outbox / "requests.jsonl").open("w", encoding="utf-8") as log:
        pushed = runtime.push_series(scenario.series)
        timeline.line(clock.now(), f"series {scenario.series.id} {pushed.outcome} "
                                   f"(revision {pushed.revision}, "
                                   f"{len(scenario.series.sessions)} sessions)")
        tick = scenario.start
        while tick <= scenario.until or steps:
            while steps and (steps[0].at <= tick or tick > scenario.until):
                step = steps.pop(0)
                clock.set(step.at)
                requests += 1
                path, answer = _perform(runtime, scenario, step, requests)
                log.write(json.dumps({"at": _iso(step.at), "path": path,
                                      "status": answer.status, "body": answer.body},
                                     ensure_ascii=False) + "\n")
                timeline.request(step.at, step, path, answer)
                runtime.drain()
                timeline.emails()
            if tick > scenario.until:
                break
            clock.set(tick)
            timeline.scheduler(tick, runtime.tick())
            runtime.drain()
            timeline.emails()
            tick = _next_tick(scenario, tick, runtime, steps, every_tick)
        dead = runtime.dead_letters()
    index = mailer.write_index()
    return SimulationReport(outbox=outbox, index=index, requests=requests,
                            emails=len(mailer.entries()), dead_letters=dead)


def _perform(runtime: LocalRuntime, scenario: Scenario, step: Step,
             number: int) -> tuple[str, HttpAnswer]:
    """A provider's request as it was sent, or an organiser action through the organiser API."""
    if isinstance(step, HttpStep):
        return step.path, runtime.request(step.method, step.path, step.headers, step.body)
    try:
        path, body = to_request(step.action, scenario.series.id, scenario.base)
    except InvalidInputError as error:
        return f"organiser:{step.action.get('action')}", HttpAnswer(400, {"error": str(error)})
    return path, runtime.organiser(path, body, idempotency_key=f"scenario-step-{number}")


def _next_tick(scenario: Scenario, tick: datetime, runtime: LocalRuntime,
               steps: list[Step], every_tick: bool) -> datetime:
    """The next 5-minute tick at which anything can happen."""
    following = tick + TICK
    if every_tick:
        return following
    candidates = [t for t in (runtime.next_wakeup(), steps[0].at if steps else None) if t]
    target = max(min(candidates, default=scenario.until + TICK), following)
    periods = -(-(target - scenario.start) // TICK)  # round up to the tick grid
    return scenario.start + periods * TICK


class _Timeline:
    """The readable log of a run: requests and emails, with registrant ids, never addresses."""

    def __init__(self, out: TextIO, mailer: OutboxMailer, registrant_key: str) -> None:
        self.out = out
        self.mailer = mailer
        self.registrant_key = registrant_key
        self.seen = 0

    def line(self, at: datetime, text: str) -> None:
        self.out.write(f"{at:%Y-%m-%d %H:%M}Z  {text}\n")

    def request(self, at: datetime, step: Step, path: str, answer: HttpAnswer) -> None:
        body = answer.body
        detail = body.get("status") or body.get("outcome") or body.get("error") or ""
        who = f" {body['registrant']}" if "registrant" in body else ""
        reach = f" ({body['recipients']} recipients)" if "recipients" in body else ""
        note = f"  ({step.note})" if step.note else ""
        if isinstance(step, HttpStep):
            self.line(at, f"{step.method} {path} -> {answer.status} {detail}{who}{note}")
        else:
            self.line(at, f"organiser {step.action.get('action')}: {path} -> {answer.status} "
                          f"{detail}{reach}{note}")

    def scheduler(self, at: datetime, report: dict[str, Any]) -> None:
        for slot in report.get("sent_slots", []):
            self.line(at, f"scheduler: reminder {slot} due")
        for slot in report.get("dropped_slots", []):
            self.line(at, f"scheduler: reminder {slot} dropped (its moment had passed)")

    def emails(self) -> None:
        entries = self.mailer.entries()
        for entry in entries[self.seen:]:
            rid = registrant_id(self.registrant_key, str(entry["series"]), str(entry["to"]))
            sessions = ",".join(entry["sessions"])  # type: ignore[arg-type]
            moment = datetime.fromisoformat(str(entry["sent_at"]).replace("Z", "+00:00"))
            self.line(moment, f"  mail {entry['kind']:<12} to {rid} [{sessions}] "
                              f"{entry['file']}")
        self.seen = len(entries)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
