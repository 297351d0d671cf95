"""The page behind the "manage your registration" link: what a person is registered for.

A person can add or drop sessions, cancel, download what is stored or their certificates'
PDFs, or erase it. The token in the link is the only credential: no login, no cookie, and
nothing changes on a GET.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..adapters.certificate_store import CertificateStore
from ..adapters.clock import Clock
from ..adapters.queue import SendQueue
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import i18n, tokens
from ..core.calendar import personal_feed
from ..core.certificates import Certificate, normalised_id
from ..core.compose import session_view
from ..core.errors import InvalidInputError, NotFoundError, PayloadError
from ..core.jobs import EmailJob
from ..core.policies import SeatState, Standing
from ..core.registration import Registration, RegistrationEvent
from ..core.render import Renderer
from ..core.series import Series
from .intake import apply_and_store, confirmation_job
from .linked import linked_registration
from .registrant_care import erase, withdraw
from .seating import (
    SeatNews,
    ahead,
    dropped_sessions,
    give_up_and_tell,
    give_up_seats,
    news_jobs,
    promotion_jobs,
    seated_cancels,
    send_and_mark,
    take_seats,
)
from .suppression import is_suppressed

ERASE_PURPOSE = "confirm-erase"
ERASE_WINDOW = timedelta(minutes=10)  # how long "Yes, delete my data" stays valid


class ManagePage:
    def __init__(self, store: Store, secrets: Secrets, renderer: Renderer, clock: Clock,
                 queue: SendQueue, records: CertificateStore | None = None) -> None:
        self.records = records  # presence, evaluations, certificates: downloaded, erased
        self.queue = queue
        self.store = store
        self.secrets = secrets
        self.renderer = renderer
        self.clock = clock

    def feed(self, series_id: str, token: str) -> tuple[bytes, str]:
        """The person's calendar feed and its ETag (changes with the series and registration)."""
        series, registration = linked_registration(self.store, self.secrets, "calendar",
                                                   series_id, token.removesuffix(".ics"),
            today=self.clock.now().date())
        registered = set(registration.sessions_in([s.id for s in series.sessions]))
        seated = self._seated(series, registration, [s.id for s in series.sessions
                                                     if s.id in registered])
        sessions = [s for s in series.sessions if s.id in seated]
        body = personal_feed(series, sessions,  # what it adds, in the person's language
                             {s.id: registration.join_url_for(s.id) for s in sessions},
                             i18n.choose(registration.registrant.language, series.language))
        # Seats change without the registration: the sessions listed are in the tag too.
        listed = hashlib.sha256(",".join(s.id for s in sessions).encode()).hexdigest()[:8]
        return body, f'"{series.revision}-{registration.version}-{listed}"'

    def render(self, series_id: str, token: str, notice: str = "",
               accept_language: str = "") -> str:
        """The page as HTML; NotFoundError for an unknown series or a token not valid for it.
        It speaks the person's language, else their browser's (``Accept-Language``), else the
        series' default."""
        series, registration = linked_registration(self.store, self.secrets, "manage",
                                                   series_id, token,
            today=self.clock.now().date())
        return self._page(series, registration, notice, token,
                          language=_language(series, registration, accept_language))

    def act(self, series_id: str, token: str, form: dict[str, str],
            accept_language: str = "") -> str:
        """A button on the page: drop or add a session, cancel, or erase everything. Once
        the link is known good, an error is shown in the person's language."""
        series, registration = linked_registration(self.store, self.secrets, "manage",
                                                   series_id, token,
            today=self.clock.now().date())
        lang = _language(series, registration, accept_language)
        try:
            return self._act(series, registration, token, form, lang)
        except InvalidInputError as error:
            error.language = lang
            raise

    def _act(self, series: Series, registration: Registration, token: str,
             form: dict[str, str], lang: str) -> str:
        action, now = form.get("action", ""), self.clock.now()
        if action == "erase":  # one more press: erasure cannot be undone
            return self._page(series, registration, "", token,
                              confirm_erase=self._erase_value(series, registration, now),
                              language=lang)
        if action == "erase_confirmed":
            return self._erase(series, registration, form.get("confirm", ""), now, lang)
        if action not in ("drop", "add", "cancel"):
            raise PayloadError("unknown action")
        if action == "add" and registration.approval == "declined":
            raise PayloadError("the organisers did not approve this registration")
        sessions: tuple[str, ...] | None = None
        if action != "cancel":
            session = series.session(form.get("session", ""))
            if session is None or session.cancelled or session.end <= now:
                raise PayloadError("that session cannot be changed any more")
            sessions = (session.id,)
        if action == "add":
            event = RegistrationEvent(
                provider="manage", event_id=f"manage-{now.timestamp()}", action="created",
                # after anything applied before, even within the same second
                created=max(int(now.timestamp()), registration.last_event + 1),
                registrant=registration.registrant, session_ids=sessions)
            updated = apply_and_store(self.store, self.clock, series, event,
                                      registration.registrant_id) or registration
            cancels: list[EmailJob] = []
        else:  # the same write as an organiser's cancellation on the person's request
            updated, cancels = withdraw(self.store, self.clock, series, registration,
                                        "manage", sessions)
        seated = self._seats(series, action, sessions, updated, now)
        if seated is not None:  # a registration policy: seats decide what is confirmed
            cancels = seated_cancels(cancels, seated.held)
        confirmation = confirmation_job(series, updated, now) \
            if action == "add" and seated is None else None
        own = cancels + ([confirmation] if confirmation is not None else []) \
            + (seated.own if seated is not None else [])
        queued = bool(own) and not self._suppressed(registration)
        send_and_mark(self.queue, self.store.seats, series,
                      (own if queued else []) + (seated.others if seated else []),
                      seated.news if seated else SeatNews())
        notices = {
            "add": i18n.tr(lang, "Added: a confirmation with its calendar invitation is on "
                                 "its way."),
            "drop": i18n.tr(lang, "Dropped."),
            "cancel": i18n.tr(lang, "Your registration is cancelled.")}
        notice = notices[action]
        if seated is not None and action == "add" and not seated.news.confirmed:
            notice = i18n.tr(lang, "Added. This session is full: you are on its waitlist, "
                                   "and an email with your place is on its way.") \
                if seated.news.waitlisted else i18n.tr(
                    lang, "Added. It awaits the organisers' approval.")
        if seated is not None and action == "drop" and sessions \
                and seated.held.get(sessions[0]) == "waitlisted":
            notice = i18n.tr(lang, "You left the waitlist.")
        if queued and cancels:
            notice += " " + (
                i18n.tr(lang, "An email that takes the session out of your calendar is on its "
                              "way.")
                if len(cancels[0].session_ids) == 1 else
                i18n.tr(lang, "An email that takes the sessions out of your calendar is on its "
                              "way."))
        return self._page(series, updated, notice, token, language=lang)

    def _erase(self, series: Series, registration: Registration, confirm: str,
               now: datetime, language: str) -> str:
        """The second press: only with the value the first press handed out, still fresh.
        The tombstone's moment is after everything applied to the registration, so no
        earlier event (a replay, a late retry) can bring the person back."""
        if not tokens.confirmed(self.secrets.token_secrets(), ERASE_PURPOSE, series.id,
                                registration.registrant_id, confirm,
                                now=int(now.timestamp())):
            raise PayloadError("this confirmation is missing or has expired: press "
                               "\"Delete my data\" again, then confirm within 10 minutes")
        # Seats first: should that fail, the registration is still there to erase again.
        give_up_and_tell(self.store, self.queue, series, registration.registrant_id, None, now)
        erase(self.store, registration, now, self.records)
        return self.renderer.render("erased.html", {"series": series, "subject": series.title},
                                    language, series)

    def _erase_value(self, series: Series, registration: Registration, now: datetime) -> str:
        return tokens.confirmation(self.secrets.token_secrets()[0], ERASE_PURPOSE, series.id,
                                   registration.registrant_id,
                                   expires_at=int((now + ERASE_WINDOW).timestamp()))

    def _seats(self, series: Series, action: str, sessions: tuple[str, ...] | None,
               updated: Registration, now: datetime) -> _Seated | None:
        """Under a registration policy, the seats an add takes or a drop or cancel gives
        back, and the emails that owes the person and anyone promoted; None otherwise."""
        if not series.policy.counts_seats:
            return None
        seats = self.store.seats
        if action == "add":
            news = take_seats(seats, series, updated, now)
            news.confirmed = {s: t for s, t in news.confirmed.items() if s in (sessions or ())}
            news.waitlisted = {s: w for s, w in news.waitlisted.items()
                               if s in (sessions or ())}
            news.pending = [s for s in news.pending if s in (sessions or ())]
            own = [job for job in news_jobs(series, updated, news) if job.kind != "pending"]
            held: dict[str, SeatState] = {}
        else:
            held, promoted = give_up_seats(seats, series, updated.registrant_id,
                                           dropped_sessions(series, sessions, updated), now)
            news, own = SeatNews(promoted=promoted), []
        others = promotion_jobs(seats, self.store.get_registration, series, news.promoted)
        return _Seated(news, own, others, held)

    def certificate(self, series_id: str, token: str, certificate_id: str,
                    accept_language: str = "") -> tuple[bytes, str]:
        """One of the person's certificates as a PDF in their language, and its file name.
        NotFoundError (in their language) for an id that is not one of theirs, or revoked;
        CertificateUnprintableError (422, in their language) for one its fonts cannot draw."""
        from ..core.kinds.certificate import pdf_filename
        from .certificates import render_pdf

        series, registration = linked_registration(self.store, self.secrets, "manage",
                                                   series_id, token,
            today=self.clock.now().date())
        lang = _language(series, registration, accept_language)
        wanted = normalised_id(certificate_id)
        found = next((c for c in self._held(series, registration)
                      if c.certificate_id == wanted), None)
        if found is None or found.revoked:
            error = NotFoundError("this certificate was revoked: it can no longer be "
                                  "downloaded" if found else "no such certificate")
            error.language = lang
            raise error
        return render_pdf(found, lang), pdf_filename(found)

    def _held(self, series: Series, registration: Registration) -> list[Certificate]:
        if self.records is None or not series.certificates:
            return []
        return self.records.held(series.id, registration.registrant_id)

    def _certificates(self, series: Series, registration: Registration, token: str,
                      language: str) -> list[dict[str, Any]]:
        """The person's certificates as the page lists them, each with its download link."""
        from babel.numbers import format_decimal

        from ..core.kinds.certificate import certified_title
        from .certificates import certificate_texts, unprintable

        place = i18n.locale(language)
        order = {f"session:{s.id}": n for n, s in enumerate(series.sessions)}  # series: -1
        # No link that cannot work: one the fonts cannot draw says so instead.
        return [{"title": certified_title(series, c), "revoked": c.revoked,
                 "credits": format_decimal(c.credits, locale=place), "label": c.credit_label,
                 "unprintable": unprintable(c.scope, c.name, certificate_texts(c)) is not None,
                 "url": f"{token}/certificates/{c.certificate_id}"}
                for c in sorted(self._held(series, registration),
                                key=lambda c: order.get(c.scope, -1))]

    def _suppressed(self, registration: Registration) -> bool:
        return is_suppressed(self.store, self.secrets, registration.registrant.email)

    def data(self, series_id: str, token: str) -> dict[str, Any]:
        """Everything stored about the person in this series (the right of access)."""
        series, registration = linked_registration(self.store, self.secrets, "manage",
                                                   series_id, token,
            today=self.clock.now().date())
        r = registration
        return {"series": series.id, "email": r.registrant.email, "name": r.registrant.full_name,
                "time_zone": r.registrant.time_zone, "language": r.registrant.language,
                "status": r.status,
                "sessions": r.sessions_in([s.id for s in series.sessions]),
                "whole_series": r.whole_series, "interests": sorted(r.interests),
                "attended": sorted(r.attended), "registered_at": r.since,
                "consent": json.loads(r.consent) if r.consent else {},
                "reminders_off": r.reminders_off, "announcements_off": r.announcements_off,
                **({"approval": r.approval} if series.policy.approval == "manual"
                   or r.approval != "approved" else {}),
                **(self.records.person_data(series.id, r.registrant_id) if self.records
                   else {})}

    def _page(self, series: Series, registration: Registration, notice: str,
              token: str, confirm_erase: str = "", language: str = i18n.SOURCE) -> str:
        now = self.clock.now()
        registered = set(registration.sessions_in([s.id for s in series.sessions]))
        zone = registration.registrant.time_zone
        seats = self._standings(series, registration, now)
        sessions = [
            session_view(series, s, zone, registration.join_url_for(s.id), now, language)
            | {"past": s.end <= now, "cancelled": s.cancelled}
            | ({"seat": seats[s.id].state, "place": seats[s.id].place} if s.id in seats
               else {"seat": "", "place": None})
            for s in series.sessions if s.id in registered
        ]
        addable = [session_view(series, s, zone, None, now, language) for s in series.sessions
                   if s.id not in registered and not s.cancelled and s.end > now] \
            if registration.approval != "declined" else []
        held = [view["seat"] for view in sessions]
        return self.renderer.render("manage.html", {
            "series": series, "sessions": sessions, "addable": addable, "time_zone": zone,
            "seated": sum(seat not in ("waitlisted", "pending") for seat in held),
            "waiting": held.count("waitlisted"),
            "active": registration.status == "active", "subject": series.title,
            "approval": registration.approval,
            "certificates": self._certificates(series, registration, token, language),
            "notice": notice, "token": token, "confirm_erase": confirm_erase}, language, series)

    def _seated(self, series: Series, registration: Registration, session_ids: list[str]
                ) -> set[str]:
        """The sessions that belong in the person's calendar: under a policy, only once
        approved and seated (a standing from before the policy keeps its seat), as the
        sender decides for reminders (core/send_check.py); a waitlisted or pending person
        gets no join link this way either. The standings are read together (one request)."""
        if not series.policy.counts_seats:
            return set(session_ids)
        if registration.approval != "approved":
            return set()
        found = self.store.seats.standings(series.id, session_ids, registration.registrant_id,
                                           places=False)
        return {s for s in session_ids if s not in found or found[s].state == "confirmed"}

    def _standings(self, series: Series, registration: Registration, now: datetime
                   ) -> dict[str, Standing]:
        """Where the person stands in each session ahead, under a policy: read together (one
        request), and a counting Query for each waitlist place."""
        if not series.policy.counts_seats or registration.status != "active":
            return {}
        return self.store.seats.standings(series.id, registration.sessions_in(
            ahead(series, now)), registration.registrant_id)


@dataclass(frozen=True, slots=True)
class _Seated:
    news: SeatNews
    own: list[EmailJob]  # the person's confirmation or waitlist email
    others: list[EmailJob]  # the confirmations of those promoted into a freed seat
    held: dict[str, SeatState]  # what a drop or cancel gave back, by session


def _language(series: Series, registration: Registration, accept_language: str) -> str:
    return i18n.for_page(registration.registrant.language, accept_language, series.language)
