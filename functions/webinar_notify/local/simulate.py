"""Replays a scenario in virtual time and prints what happened, step by step.

Every step leaves one line in the timeline (printed, with registrant ids, never addresses)
and one in ``requests.jsonl`` (the whole answer); at the end, ``state.json`` holds everything
stored and queued, so an erasure or a suppression can be checked from outside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from ..adapters.clock import VirtualClock
from ..adapters.outbox import OutboxMailer
from ..adapters.secrets import split_secrets
from ..core.errors import InvalidInputError
from ..core.text import registrant_id
from ..organiser_requests import to_request
from .email_links import StepError, find_email, form_on_page, pick_link, read_email
from .rehearsal_record import request_record, write_state
from .request_log import loggable
from .runtime import HttpAnswer, LocalRuntime, LocalSettings, local_runtime
from .scenario import FollowStep, HttpStep, OrganiserStep, Scenario, SesStep, Step, ZoomStep
from .ses_events import EventType, ses_event
from .signed_events import zoom_participant

TICK = timedelta(minutes=5)
OUTPUTS = ("log.jsonl", "requests.jsonl", "index.html", "state.json")
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"  # RFC 8058
FORM_TYPE = "application/x-www-form-urlencoded"
# What SES publishes for each event a scenario names: type, bounce type and subtype.
SES_EVENTS: dict[str, tuple[EventType, str, str]] = {
    "delivery": ("Delivery", "", ""), "hard_bounce": ("Bounce", "Permanent", "General"),
    "soft_bounce": ("Bounce", "Transient", "MailboxFull"),
    "complaint": ("Complaint", "", ""), "reject": ("Reject", "", "")}


@dataclass(frozen=True, slots=True)
class SimulationReport:
    outbox: Path
    index: Path
    requests: int
    emails: int
    dead_letters: int
    step_errors: int = 0  # steps that could not be played as written (see the timeline)
    state: Path | None = None  # state.json


@dataclass(frozen=True, slots=True)
class Played:
    """One step as it was played: what went where, what came back, and how to show it."""

    method: str
    path: str
    answer: HttpAnswer
    label: str  # the timeline's words for it, without addresses or link tokens
    who: str = ""  # the registrant id it concerns, when known


def simulate(scenario: Scenario, outbox: Path, out: TextIO,
             every_tick: bool = False) -> SimulationReport:
    """Run every step at its time and the scheduler every 5 virtual minutes.

    Ticks at which nothing can be due (no reminder slot opens, no delayed message becomes
    visible, no step comes) are skipped unless ``every_tick``: they would find nothing to do.
    """
    outbox.mkdir(parents=True, exist_ok=True)
    for stale in OUTPUTS:
        (outbox / stale).unlink(missing_ok=True)
    for old_email in outbox.glob("*.eml"):
        old_email.unlink()
    clock = VirtualClock(scenario.start)
    mailer = OutboxMailer(outbox, clock)
    settings = LocalSettings(webhook_secrets=scenario.secrets,
                             provider_api=scenario.provider_api)
    if scenario.token_secret:
        settings = replace(settings, token_secret=scenario.token_secret)
    timeline = _Timeline(out, mailer, settings.registrant_key)
    steps = list(scenario.steps)
    requests = errors = 0
    with local_runtime(clock, mailer, settings) as runtime, \
            (outbox / "requests.jsonl").open("w", encoding="utf-8") as log:
        for series in scenario.all_series:
            pushed = runtime.push_series(series)
            timeline.line(clock.now(), f"series {series.id} {pushed.outcome} "
                                       f"(revision {pushed.revision}, "
                                       f"{len(series.sessions)} sessions)")
        player = _Player(runtime, scenario, mailer, outbox, settings)
        tick = scenario.start
        while tick <= scenario.until or steps:
            while steps and (steps[0].at <= tick or tick > scenario.until):
                step = steps.pop(0)
                clock.set(step.at)
                requests += 1
                played = player.play(step, requests)
                errors += played.method == "STEP"
                log.write(json.dumps(request_record(step.at, played.method, played.path,
                                                    played.answer, step.note),
                                     ensure_ascii=False) + "\n")
                timeline.step(step, played)
                timeline.fetched(step.at, runtime)
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
        state = write_state(runtime, outbox)
    index = mailer.write_index()
    return SimulationReport(outbox=outbox, index=index, requests=requests,
                            emails=len(mailer.entries()), dead_letters=dead,
                            step_errors=errors, state=state)


class _Player:
    """Plays one step of any kind against the runtime, as what it stands for would."""

    def __init__(self, runtime: LocalRuntime, scenario: Scenario, mailer: OutboxMailer,
                 outbox: Path, settings: LocalSettings) -> None:
        self.runtime = runtime
        self.scenario = scenario
        self.mailer = mailer
        self.outbox = outbox
        self.settings = settings
        self.pages: dict[str, str] = {}  # a link's last HTML answer, for from_page

    def play(self, step: Step, number: int) -> Played:
        try:
            if isinstance(step, HttpStep):
                answer = self.runtime.request(step.method, step.path, step.headers, step.body)
                return Played(step.method, step.path, answer,
                              f"{step.method} {loggable(step.path)}")
            if isinstance(step, OrganiserStep):
                return self._organiser(step, number)
            if isinstance(step, FollowStep):
                return self._follow(step)
            if isinstance(step, SesStep):
                return self._ses(step)
            return self._zoom(step)
        except StepError as error:
            return Played("STEP", _kind(step), _json_answer(400, {"error": str(error)}),
                          f"{_kind(step)}: step error")

    def _organiser(self, step: OrganiserStep, number: int) -> Played:
        label = f"organiser {step.action.get('action')}:"
        try:
            path, body = to_request(step.action, step.series_id or self.scenario.series.id,
                                    self.scenario.base)
        except InvalidInputError as error:
            path = f"organiser:{step.action.get('action')}"
            return Played("POST", path, _json_answer(400, {"error": str(error)}),
                          f"{label} {path}")
        answer = self.runtime.organiser(path, body, idempotency_key=f"scenario-step-{number}")
        return Played("POST", path, answer, f"{label} {path}")

    def _follow(self, step: FollowStep) -> Played:
        entry = find_email(self.mailer.entries(), step.email, self.settings.registrant_key)
        path = pick_link(read_email(self.outbox, entry), step.link,
                         self.settings.public_base_url)
        headers: dict[str, str] = {}
        body = b""
        if step.one_click:  # a mail provider's server: no browser, no page, just the POST
            headers = {"Content-Type": FORM_TYPE}
            body = ONE_CLICK_BODY
        elif step.method == "POST":  # a button on the page, pressed in a browser
            fields = dict(step.form)
            if step.from_page:
                page = self.pages.get(path.partition("?")[0])
                if page is None:
                    raise StepError("from_page: no earlier page on this link to take the "
                                    "form from")
                fields = form_on_page(page, step.form) | fields
            headers = {"Content-Type": FORM_TYPE, "Sec-Fetch-Site": "same-origin",
                       "Origin": "null"}
            body = urlencode(fields).encode("utf-8")
        else:  # a click in the email: the browser opens the link
            headers = {"Sec-Fetch-Site": "none"}
            if step.form:
                path += ("&" if "?" in path else "?") + urlencode(step.form)
        answer = self.runtime.request(step.method, path, headers | step.headers, body)
        if answer.content_type.startswith("text/html"):
            self.pages[path.partition("?")[0]] = answer.text
        label = (f"follow {step.link} of {step.email.describe()}: "
                 f"{step.method}{' one-click' if step.one_click else ''} {loggable(path)}")
        return Played(step.method, path, answer, label, self._who(entry))

    def _ses(self, step: SesStep) -> Played:
        entry = find_email(self.mailer.entries(), step.email, self.settings.registrant_key)
        event_type, bounce_type, subtype = SES_EVENTS[step.event]
        event = ses_event(entry, event_type, at=self.runtime.clock.now(),
                          **({"bounce_type": bounce_type, "bounce_subtype": subtype}
                             if bounce_type else {}))
        totals = self.runtime.feedback(event)
        path = f"feedback:{step.event}:{entry['file']}"
        return Played("SNS", path, _json_answer(200, totals),
                      f"ses {step.event} of {entry['file']}", self._who(entry))

    def _zoom(self, step: ZoomStep) -> Played:
        secret = split_secrets(self.scenario.secrets.get("zoom", ""))[0]
        headers, body = zoom_participant(step.event, step.webinar, step.email, step.name,
                                         self.runtime.clock.now(), secret,
                                         step.occurrence_start)
        path = f"/webhooks/zoom/{step.series_id}"
        answer = self.runtime.request("POST", path, headers, body)
        who = registrant_id(self.settings.registrant_key, step.series_id, step.email)
        return Played("POST", path, answer,
                      f"zoom participant {step.event} webinar {step.webinar}: POST {path}", who)

    def _who(self, entry: Any) -> str:
        return registrant_id(self.settings.registrant_key, str(entry["series"]),
                             str(entry["to"]))


def _json_answer(status: int, body: dict[str, Any]) -> HttpAnswer:
    return HttpAnswer(status, body, json.dumps(body, ensure_ascii=False))


def _kind(step: Step) -> str:
    names = {HttpStep: "request", OrganiserStep: "organiser", FollowStep: "follow",
             SesStep: "ses", ZoomStep: "zoom"}
    return names[type(step)]


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
        self.fetches = 0

    def line(self, at: datetime, text: str) -> None:
        self.out.write(f"{at:%Y-%m-%d %H:%M}Z  {text}\n")

    def step(self, step: Step, played: Played) -> None:
        answer, body = played.answer, played.answer.body
        detail = body.get("status") or body.get("outcome") or body.get("error") or \
            _counts(body) or answer.content_type.partition(";")[0]
        who = f" {body['registrant']}" if "registrant" in body else ""
        who = who or (f" {played.who}" if played.who else "")
        reach = f" ({_reach(body)})" if body.get("recipients") is not None else ""
        note = f"  ({step.note})" if step.note else ""
        self.line(step.at, f"{played.label} -> {answer.status} {detail}{who}{reach}{note}")

    def fetched(self, at: datetime, runtime: LocalRuntime) -> None:
        """What the step read from a provider's API stand-in (the URL; never the token)."""
        for call in runtime.fetcher.fetched[self.fetches:]:
            self.line(at, f"  provider API GET {call.url} -> {call.status}")
        self.fetches = len(runtime.fetcher.fetched)

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


def _counts(body: dict[str, Any]) -> str:
    """The feedback function's totals, as ``hard_bounces=1``."""
    return " ".join(f"{k}={v}" for k, v in sorted(body.items())
                    if isinstance(v, int) and not isinstance(v, bool) and v)


def _reach(body: dict[str, Any]) -> str:
    """How many an organiser action reaches, as its answer counted them: exactly (a dry run
    counted one by one), or about so many (kept counts; a job sends them)."""
    bound = body.get("recipients_bound", "about" if not body.get("dry_run") else "exact")
    prefix = "" if bound == "exact" else f"{bound} "
    return f"{prefix}{body['recipients']} recipients"
