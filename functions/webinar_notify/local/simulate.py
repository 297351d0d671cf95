"""Replays a scenario in virtual time and prints what happened, step by step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from ..adapters.clock import VirtualClock
from ..adapters.outbox import OutboxMailer
from ..core.text import registrant_id
from .runtime import LocalRuntime, LocalSettings, local_runtime
from .scenario import HttpStep, Scenario

TICK = timedelta(minutes=5)
Tick = Callable[[LocalRuntime], None]


@dataclass(frozen=True, slots=True)
class SimulationReport:
    outbox: Path
    index: Path
    requests: int
    emails: int
    dead_letters: int


def simulate(scenario: Scenario, outbox: Path, out: TextIO,
             on_tick: tuple[Tick, ...] = ()) -> SimulationReport:
    """Run every step at its time; every 5 virtual minutes give the scheduler hooks a turn."""
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
    requests = 0
    with local_runtime(clock, mailer, settings) as runtime, \
            (outbox / "requests.jsonl").open("w", encoding="utf-8") as log:
        pushed = runtime.push_series(scenario.series)
        timeline.line(clock.now(), f"series {scenario.series.id} {pushed.outcome} "
                                   f"(revision {pushed.revision}, "
                                   f"{len(scenario.series.sessions)} sessions)")
        for moment, step in _moments(scenario):
            clock.set(moment)
            if step is not None:
                requests += 1
                answer = runtime.request(step.method, step.path, step.headers, step.body)
                log.write(json.dumps({"at": _iso(moment), "path": step.path,
                                      "status": answer.status, "body": answer.body},
                                     ensure_ascii=False) + "\n")
                timeline.request(moment, step, answer.status, answer.body)
            elif on_tick:
                for hook in on_tick:
                    hook(runtime)
            else:
                continue  # nothing can have been queued
            runtime.drain()
            timeline.emails()
        dead = runtime.dead_letters()
    index = mailer.write_index()
    return SimulationReport(outbox=outbox, index=index, requests=requests,
                            emails=len(mailer.entries()), dead_letters=dead)


def _moments(scenario: Scenario) -> Iterator[tuple[datetime, HttpStep | None]]:
    """Steps at their own instants, interleaved with 5-minute scheduler ticks."""
    steps = list(scenario.steps)
    tick = scenario.start
    while tick <= scenario.until or steps:
        while steps and steps[0].at <= tick:
            yield steps[0].at, steps.pop(0)
        if tick > scenario.until:
            break
        yield tick, None
        tick += TICK


class _Timeline:
    """The readable log of a run: requests and emails, with registrant ids, never addresses."""

    def __init__(self, out: TextIO, mailer: OutboxMailer, registrant_key: str) -> None:
        self.out = out
        self.mailer = mailer
        self.registrant_key = registrant_key
        self.seen = 0

    def line(self, at: datetime, text: str) -> None:
        self.out.write(f"{at:%Y-%m-%d %H:%M}Z  {text}\n")

    def request(self, at: datetime, step: HttpStep, status: int, body: dict[str, object]
                ) -> None:
        detail = body.get("status") or body.get("error") or ""
        who = f" {body['registrant']}" if "registrant" in body else ""
        note = f"  ({step.note})" if step.note else ""
        self.line(at, f"{step.method} {step.path} -> {status} {detail}{who}{note}")

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
