"""CPU per email, for every kind, against the bare Jinja2 render of the same email.

For each kind (confirmation, reminder, update, cancellation, announcement), with the series'
shared join links and with a personal join link per registrant (Zoom-style ``join_url``), it
composes the whole email (``compose`` + MIME) for many registrants in several zones and
languages, then has Jinja2 render the same two templates again with the very contexts
``compose`` passed on (``Renderer.render_templates``, nothing reused): the bare render.

Honest by construction: every round writes to new people (new names, addresses and personal
links), so nothing cached per person can help, and the clock moves on between emails as it
does in use: 1/14 s in a fan-out (SES's default rate), 61 s between two confirmations (one
registration at a time, so a confirmation never finds its body rendered already). Only what
a long-lived sender has already seen is warm: the templates, the sessions' shared parts, and
the bodies of the minute (one warm-up round). ``--whole-renders`` turns off the reuse of
bodies (core/render.py) to show what the other caches do alone. Prints figures; asserts
nothing (machines are noisy).

    .venv/bin/python benchmarks/emails.py [--emails 1000] [--repeats 5] [--kinds reminder ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from webinar_notify.core import mime
from webinar_notify.core.announcements import Announcement, Audience
from webinar_notify.core.compose import Links, compose
from webinar_notify.core.jobs import EmailJob, EmailKind, delivery_key
from webinar_notify.core.kinds import (
    AnnouncementPayload,
    CancellationPayload,
    ConfirmationPayload,
    Payload,
    UpdatePayload,
)
from webinar_notify.core.registration import Registrant
from webinar_notify.core.render import Renderer
from webinar_notify.core.series import Series, Session
from webinar_notify.core.series_document import parse_series

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5  # CPU per email, as a multiple of the bare render (issue: every kind, both links)
KINDS: tuple[EmailKind, ...] = ("confirmation", "reminder", "update", "cancellation",
                                "announcement")
ZONES = ("America/Toronto", "Asia/Riyadh", "Australia/Sydney", "Europe/Copenhagen",
         "America/Sao_Paulo", "Asia/Kolkata", "America/Los_Angeles", "Africa/Casablanca")
LANGUAGES = ("", "fr", "de-DE", "es", "pt-BR", "it", "en-GB")  # "": the series' default
NAMES = ("Ane Appelt", "Heidi Rønde", "José Núñez", "Zoë O'Brien", "Łukasz Wróbel",
         "Marie-Hélène Dupont", "Ali Zaila", "")
# How far the clock moves between two emails: a fan-out goes at SES's default 14 emails/s
# (the slowest, so the fewest emails share a minute); confirmations come one registration
# at a time, each in a minute of its own, so no two of them ever read the same body.
FAN_OUT_PACE = timedelta(seconds=1 / 14)
TRICKLE_PACE = timedelta(seconds=61)
ANNOUNCEMENT = """\
The **pre-meeting course** on reirradiation at ESTRO24 in Glasgow is now open for
registration: a one-day live event with the full journey from principles to the clinic.

- Practical sessions on *dose accumulation* and image registration
- Live debates with the faculty of this series
- Networking with experts and peers

Register at <https://www.estro.org/congresses/estro-2024/pre-meeting-courses>; places are
limited. See [the programme](https://www.estro.org/congresses/estro-2024/programme) for times.
"""


class RecordingRenderer(Renderer):
    """The real renderer, which also keeps each ``render_pair`` call's arguments when asked,
    so the bare render can be run again with exactly the contexts ``compose`` made."""

    recorded: list[tuple[tuple[Any, ...], dict[str, Any]]] | None = None

    def render_pair(self, *args: Any, **kwargs: Any) -> tuple[str, str]:
        if self.recorded is not None:
            self.recorded.append((args, kwargs))
        return super().render_pair(*args, **kwargs)


@dataclass(frozen=True, slots=True)
class Case:
    """One kind of email, with shared or personal join links, and what it is composed from."""

    kind: EmailKind
    personal: bool
    series: Series
    start: datetime  # the clock when the first email is composed
    make_job: Callable[[Series, Registrant, str, bool], EmailJob]
    announcement: Announcement | None = None

    @property
    def pace(self) -> timedelta:
        return TRICKLE_PACE if self.kind == "confirmation" else FAN_OUT_PACE

    @property
    def label(self) -> str:
        return f"{self.kind:<13}{'personal' if self.personal else 'shared':<9}"


def load_series() -> Series:
    """The seed series as it stands at the reminder of session 3: every session has its
    (shared) webinar link and session 3 was moved once."""
    series = parse_series(yaml.safe_load((ROOT / "series" / "reirradiation-2023.yaml")
                                         .read_text()))
    changed = datetime(2023, 11, 20, 10, tzinfo=UTC)
    sessions: list[Session] = []
    for number, session in enumerate(series.sessions, start=1):
        link = f"https://us06web.zoom.us/j/8{number:010d}?pwd=Rk9SRVNUTkVXU3Z{number}UT0Zx"
        session = dataclasses.replace(session, join_url=link)
        if session.id == "s3":
            session = dataclasses.replace(session, start=session.start + timedelta(hours=1),
                                          sequence=1, updated_at=changed)
        sessions.append(session)
    return dataclasses.replace(series, sessions=tuple(sessions), revision=7)


def personal_link(person: str, session_id: str) -> str:
    """A Zoom-style personal join link: long, and different for every registrant."""
    token = f"{person}{session_id}".encode().hex()
    return (f"https://us06web.zoom.us/w/8{sum(map(ord, session_id)):010d}?"
            f"tk={token}{'x' * 40}.DQMAAAA{token[:24]}&uuid=WN_{token[:22]}")


def _job(kind: EmailKind, series: Series, person: Registrant, rid: str,
         sessions: tuple[str, ...], payload: Payload | None = None,
         also: tuple[str, ...] = ()) -> EmailJob:
    return EmailJob(kind, series.id, series.revision, rid, person, sessions,
                    delivery_key(kind, series.id, rid, *sessions), also=also, payload=payload)


def confirmation_job(series: Series, person: Registrant, rid: str, personal: bool) -> EmailJob:
    ids = tuple(s.id for s in series.sessions if not s.cancelled)
    links = {s: personal_link(rid, s) for s in ids} if personal else {}
    person = dataclasses.replace(person, join_url=None)
    return _job("confirmation", series, person, rid, ids,
                ConfirmationPayload.of(opted_in=True, join_urls=links))


def reminder_job(series: Series, person: Registrant, rid: str, personal: bool) -> EmailJob:
    return _job("reminder", series, person, rid, ("s3",),
                also=tuple(s.id for s in series.sessions))


def update_job(series: Series, person: Registrant, rid: str, personal: bool) -> EmailJob:
    session = series.session("s3")
    assert session is not None
    before = session.start - timedelta(hours=1)
    return _job("update", series, person, rid, ("s3",),
                UpdatePayload(previous_start=before, previous_end=before + session.duration))


def cancellation_job(series: Series, person: Registrant, rid: str, personal: bool) -> EmailJob:
    return _job("cancellation", series, person, rid, ("s4",), CancellationPayload())


def announcement_job(series: Series, person: Registrant, rid: str, personal: bool) -> EmailJob:
    return _job("announcement", series, person, rid, (),
                AnnouncementPayload(announcement_id="glasgow"))


def with_cancelled(series: Series, session_id: str) -> Series:
    """The series after the organisers cancelled one session (its SEQUENCE raised)."""
    changed = datetime(2023, 11, 20, 10, tzinfo=UTC)
    return dataclasses.replace(series, revision=series.revision + 1, sessions=tuple(
        dataclasses.replace(s, status="cancelled", sequence=s.sequence + 1, updated_at=changed)
        if s.id == session_id else s for s in series.sessions))


def cases(series: Series) -> list[Case]:
    s3 = series.session("s3")
    assert s3 is not None
    before_s3 = s3.start.astimezone(UTC) - timedelta(days=1)
    announcement = Announcement("glasgow", "Reirradiation course at ESTRO24: registration open",
                                ANNOUNCEMENT, Audience("all"),
                                datetime(2023, 11, 21, 9, tzinfo=UTC))
    starts: dict[EmailKind, tuple[datetime, Callable[..., EmailJob]]] = {
        "confirmation": (datetime(2023, 10, 2, 9, tzinfo=UTC), confirmation_job),
        "reminder": (before_s3, reminder_job),
        "update": (datetime(2023, 11, 20, 10, 1, tzinfo=UTC), update_job),
        "cancellation": (datetime(2023, 11, 20, 10, 1, tzinfo=UTC), cancellation_job),
        "announcement": (announcement.send_at, announcement_job),
    }
    cancelled = with_cancelled(series, "s4")
    return [Case(kind, personal, cancelled if kind == "cancellation" else series, start, make,
                 announcement if kind == "announcement" else None)
            for kind, (start, make) in starts.items() for personal in (False, True)]


def people(case: Case, count: int, round_number: int) -> list[EmailJob]:
    """``count`` registrants no earlier round has seen, across zones, languages and names."""
    jobs = []
    for i in range(count):
        rid = f"r{round_number}x{i:06d}"
        name = NAMES[i % len(NAMES)]
        person = Registrant(f"person.{round_number}.{i}@example.org",
                            f"{name} {i}" if name else "", ZONES[i % len(ZONES)],
                            personal_link(rid, "s3") if case.personal else None,
                            LANGUAGES[(i // len(ZONES)) % len(LANGUAGES)])
        jobs.append(case.make_job(case.series, person, rid, case.personal))
    return jobs


def links_for(job: EmailJob) -> Links:
    base = f"https://webinars.estro.example/{job.series_id}"
    return Links(manage=f"{base}/manage/{job.registrant_id}.tok3n",
                 unsubscribe=f"{base}/unsubscribe/{job.registrant_id}.tok3n",
                 calendar=f"{base}/calendar/{job.registrant_id}.tok3n.ics")


@dataclass
class Timing:
    whole: list[float] = dataclasses.field(default_factory=list)  # CPU s per email
    bare: list[float] = dataclasses.field(default_factory=list)
    size: int = 0

    @property
    def ratio(self) -> float:
        return statistics.median(w / b for w, b in zip(self.whole, self.bare, strict=True))


def measure(case: Case, renderer: RecordingRenderer, count: int, repeats: int) -> Timing:
    """One warm-up round, then ``repeats`` rounds of new people: each round times the whole
    emails (recording their contexts), then the bare render of those contexts."""
    timing = Timing()
    moment = case.start
    for round_number in range(repeats + 1):
        jobs = people(case, count, round_number)
        links = [links_for(job) for job in jobs]
        moments = [moment + case.pace * i for i in range(count)]
        moment += case.pace * count
        recorded: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        gc.collect()
        renderer.recorded = recorded
        started = time.process_time()
        for job, link, now in zip(jobs, links, moments, strict=True):
            message = mime.build(compose(case.series, job, now=now, renderer=renderer,
                                         links=link, announcement=case.announcement))
        whole = time.process_time() - started
        renderer.recorded = None
        gc.collect()
        started = time.process_time()
        for args, kwargs in recorded:
            renderer.render_templates(*args, **kwargs)
        bare = time.process_time() - started
        if round_number:  # round 0 only warms what every sender has warm
            timing.whole.append(whole / count)
            timing.bare.append(bare / count)
            timing.size = len(message)
    return timing


def run(count: int, repeats: int, kinds: Sequence[str] = KINDS, links: str = "both",
        reuse_bodies: bool = True) -> list[tuple[Case, Timing]]:
    """Measures each chosen case in turn, with one renderer, as one sender would."""
    series = load_series()
    renderer = RecordingRenderer(ROOT / "templates", reuse_bodies=reuse_bodies)
    chosen = [c for c in cases(series) if c.kind in kinds
              and links in ("both", "personal" if c.personal else "shared")]
    return [(case, measure(case, renderer, count, repeats)) for case in chosen]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=1000, help="emails per kind and round")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (medians)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--links", choices=("shared", "personal", "both"), default="both")
    parser.add_argument("--whole-renders", action="store_true",
                        help="render every body in full (no reuse of bodies between readers)")
    args = parser.parse_args(argv)
    if args.emails < 1 or args.repeats < 1:
        parser.error("--emails and --repeats must be at least 1")
    print(f"{args.emails} emails per kind and round, {args.repeats} rounds after a warm-up "
          f"(medians), registrants in {len(ZONES)} zones and {len(LANGUAGES)} languages; "
          f"CPU per email{'; every body rendered in full' if args.whole_renders else ''}")
    print(f"{'kind':<13}{'links':<9}{'render':>10}{'email':>10}{'ratio':>8}  goal")
    for case, timing in run(args.emails, args.repeats, args.kinds, args.links,
                            not args.whole_renders):
        verdict = "met" if timing.ratio <= GOAL else "NOT met"
        print(f"{case.label}{statistics.median(timing.bare) * 1e3:>8.3f}ms"
              f"{statistics.median(timing.whole) * 1e3:>8.3f}ms{timing.ratio:>7.2f}x"
              f"  <= {GOAL}x {verdict}  ({timing.size / 1024:.1f} KiB)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
