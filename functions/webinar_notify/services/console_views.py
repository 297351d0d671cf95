"""The organiser console's read side: one view model per page, shared by the pages and the
JSON read routes. Every view reads with Get and Query (kept counters, one page of
registrations, one registrant's mail from their part of the ledger), never a Scan, so a page costs
the same few requests whatever the series' size; only the CSV export pages through everyone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..adapters.audit import Audit
from ..adapters.clock import Clock
from ..adapters.schedule_store import ScheduleStore
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import console_views as views
from ..core.announcements import parse_announcement
from ..core.counts import SeriesCounts
from ..core.errors import NotFoundError, PayloadError
from ..core.jobs import EmailJob, delivery_key
from ..core.kinds import AnnouncementPayload
from ..core.registration import Registrant, Registration
from ..core.schedule import slots
from ..core.series import Series
from ..core.tasks import AnnouncementTask, task_from_doc
from ..core.text import is_time_zone, normalise_email, suppression_id
from .announcing import ORGANISER_COPY, Announcing, organiser_recipient, preview_email
from .seat_views import seat_counts

if TYPE_CHECKING:
    from ..bootstrap import Services
    from ..core.organiser_access import OrganiserIdentity

PAGE_SIZE = 50
AUDIT_PAGE = 50
_REGISTRANT_ID = re.compile(r"r[0-9a-f]{31}")


class ConsoleViews:
    def __init__(self, store: Store, schedule: ScheduleStore, audit: Audit, secrets: Secrets,
                 clock: Clock) -> None:
        self.store = store
        self.schedule = schedule
        self.audit = audit
        self.secrets = secrets
        self.clock = clock

    def series(self, series_id: str) -> Series:
        series = self.store.get_series(series_id)
        if series is None:
            raise NotFoundError(f"unknown series {series_id[:80]!r}")
        return series

    def home(self, identity: OrganiserIdentity) -> list[dict[str, Any]]:
        """The series this organiser holds a role on, with titles (blank for one now gone)."""
        listed = []
        for series_id in identity.series_ids:
            series = self.store.get_series(series_id)
            listed.append({"id": series_id, "title": series.title if series else "",
                           "role": identity.roles[series_id], "exists": series is not None})
        return listed

    def suppression_of(self, address: str) -> str:
        """The suppression id of a typed address (what is stored and audited, never the
        address itself); an address that is not one is an InvalidInputError."""
        return suppression_id(self.secrets.registrant_key(),
                              normalise_email(address, field="address"))

    def head(self, series: Series) -> dict[str, Any]:
        """The series' header (id, title, zone, sessions): no counts read."""
        return _series_head(series)

    def overview(self, series: Series, viewer_zone: str = "") -> dict[str, Any]:
        """Each session with its times, state and registrations; the next emails due."""
        zone = viewer_zone_or_series(series, viewer_zone)
        counts = self.store.counts(series.id)
        now = self.clock.now()
        ahead = self._upcoming(series, counts, now)
        return {
            "series": _series_head(series), "viewer_zone": zone,
            "sessions": [views.session_row(series, s, counts, zone, now)
                         for s in series.sessions],
            "totals": {"registered": counts.registered, "awaiting_opt_in": counts.awaiting_opt_in,
                       "cancelled": counts.cancelled, "whole_series": counts.whole_series,
                       "awaiting_approval": counts.awaiting_approval,
                       "declined": counts.declined},
            "seats": seat_counts(self.store, series),  # per session; {} without a policy
            "next_due": [views.due_view(d, series.time_zone, zone) for d in ahead[:10]],
            "attendance_unmatched": counts.attendance_unmatched,
        }

    def registrants(self, series: Series, query: str = "", cursor: str | None = None,
                    limit: int = PAGE_SIZE) -> dict[str, Any]:
        """One page of the registrant list, searched by name or address."""
        query = query.strip()
        if len(query) > 200:
            raise PayloadError("q: at most 200 characters")
        page, next_cursor = self.store.registrations_matching(
            series.id, query, cursor or None, limit,
            registrant_key=self.secrets.registrant_key())
        return {"series": _series_head(series), "q": query, "cursor": cursor or "",
                "next_cursor": next_cursor or "", "registrants": self._rows(series, page)}

    def registrant(self, series: Series, registrant_id: str, viewer_zone: str = ""
                   ) -> dict[str, Any]:
        """One person: what is stored, and every email sent to them with its delivery state."""
        registration = self.store.get_registration(series.id, registrant_id)
        if registration is None:
            raise NotFoundError("no such registrant in this series")
        zone = viewer_zone_or_series(series, viewer_zone)
        mail = self.store.registrant_mail(series.id, registrant_id)
        return {"series": _series_head(series), "viewer_zone": zone,
                "registrant": self._rows(series, [registration])[0],
                "mail": views.mail_rows(series, mail, zone)}

    def timeline(self, series: Series, viewer_zone: str = "") -> dict[str, Any]:
        """What went out (per kind and session) and what will go out when, with counts."""
        zone = viewer_zone_or_series(series, viewer_zone)
        counts = self.store.counts(series.id)
        ahead = self._upcoming(series, counts, self.clock.now())
        return {"series": _series_head(series), "viewer_zone": zone,
                "sent": views.mail_table(series, counts),
                "ahead": [views.due_view(d, series.time_zone, zone) for d in ahead]}

    def delivery(self, series: Series, cursor: str | None = None,
                 limit: int = PAGE_SIZE) -> dict[str, Any]:
        """Per-state totals, bounce and complaint rates, and the series' suppressed addresses
        (as their keyed hashes: the address itself is not kept with them)."""
        counts = self.store.counts(series.id)
        suppressions, next_cursor = self.store.suppressions(series.id, cursor or None, limit)
        zone = series.time_zone
        return {"series": _series_head(series), "totals": views.state_totals(counts),
                "rates": views.rates(counts), "cursor": cursor or "",
                "next_cursor": next_cursor or "",
                "suppressions": [{"id": s.suppression_id, "reason": s.reason,
                                  "since": views.instant_in(s.since, zone),
                                  "since_utc": s.since} for s in suppressions]}

    def audit_trail(self, series: Series, names: Mapping[str, str], cursor: str | None = None,
                    limit: int = AUDIT_PAGE) -> dict[str, Any]:
        """Who did what and when, newest first; ``names`` gives display names of callers."""
        entries, next_cursor = self.audit.entries(series.id, cursor or None, limit)
        return {"series": _series_head(series), "cursor": cursor or "",
                "next_cursor": next_cursor or "",
                "entries": [views.audit_row(e, names, series.time_zone) for e in entries]}

    def csv_text(self, series: Series, page: list[Registration] | None) -> str:
        """CSV lines for one page of registrants (formulas neutralised), or the header line
        when given no page: the export job writes the file from these, page by page."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if page is None:
            writer.writerow(views.CSV_COLUMNS)
        else:
            writer.writerows(views.csv_row(row) for row in self._rows(series, page))
        return out.getvalue()

    def compose_preview(self, series: Series, doc: dict[str, Any], preview_as: str,
                        organiser: Announcing) -> dict[str, Any]:
        """An announcement as one registrant would read it (their name and zone), or as the
        organiser's own copy; and whom it would reach. Nothing is stored or sent."""
        now = self.clock.now()
        announcement = parse_announcement(doc, series, now)
        recipient, shown_as = organiser_recipient(series), "your own copy"
        registration = self.store.get_registration(series.id, preview_as) \
            if _REGISTRANT_ID.fullmatch(preview_as) else None
        if registration is not None:
            person = registration.registrant
            recipient = Registrant("preview@invalid", person.full_name,
                                   person.time_zone or series.time_zone)
            shown_as = f"{person.full_name or 'a registrant'} ({recipient.time_zone})"
        job = EmailJob(
            kind="announcement", series_id=series.id, series_revision=series.revision,
            registrant_id=ORGANISER_COPY, recipient=recipient, session_ids=(),
            key=delivery_key("announcement", series.id, ORGANISER_COPY, announcement.id,
                             "console-preview"),
            payload=AnnouncementPayload(test_copy=announcement))
        email = preview_email(series, job, now, organiser.renderer, announcement)
        counts = self.store.counts(series.id)
        audience = announcement.audience
        estimate = views.audience_estimate(audience.kind, audience.values, counts)
        recipients, bound = (estimate, "about") if estimate is not None else \
            organiser.count(series, AnnouncementTask(announcement))
        return {"subject": email.subject, "html": email.html, "text": email.text,
                "recipients": recipients, "bound": bound,
                "audience": views.audience_label(series, audience.kind, audience.values),
                "shown_as": shown_as}

    def _rows(self, series: Series, page: list[Registration]) -> list[dict[str, Any]]:
        key = self.secrets.registrant_key()
        ids = {r.registrant_id: suppression_id(key, r.registrant.email) for r in page}
        blocked = self.store.suppressed(list(ids.values())) if ids else set()
        return [views.registrant_row(series, r, ids[r.registrant_id] in blocked) for r in page]

    def _upcoming(self, series: Series, counts: SeriesCounts, now: datetime) -> list[views.Due]:
        decisions = self.schedule.decisions(series.id)
        settled = {k for k, d in decisions.items() if d.state != "fanning"}
        stored = [task_from_doc(doc) for doc in self.schedule.tasks(series.id).values()]
        return views.upcoming(series, slots(series), stored, settled, counts, now)


def views_from(services: Services) -> ConsoleViews:
    """The console's views over these services: the one way the pages and the read API get
    them (the services are built once per container, the views are a few references)."""
    organiser = services.organiser
    return ConsoleViews(services.store, organiser.schedule, organiser.audit, organiser.secrets,
                        services.clock)


def viewer_zone_or_series(series: Series, zone: str) -> str:
    """The zone the viewer chose, when it is a real one; else the series' zone."""
    return zone if zone and is_time_zone(zone) else series.time_zone


def zone_choices(series: Series, chosen: str) -> list[str]:
    """The zones offered in the page's select: the series', the chosen one, and common ones."""
    common = ["UTC", "Europe/London", "Europe/Brussels", "America/New_York",
              "America/Chicago", "America/Los_Angeles", "America/Toronto", "America/Sao_Paulo",
              "Asia/Riyadh", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
              "Australia/Sydney"]
    ordered = [series.time_zone, chosen, *common]
    return [z for z in dict.fromkeys(ordered) if z and _valid(z)]


def _valid(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        return False
    return True


def _series_head(series: Series) -> dict[str, Any]:
    return {"id": series.id, "title": series.title, "time_zone": series.time_zone,
            "revision": series.revision,
            "sessions": [{"id": s.id, "title": s.title} for s in series.sessions]}
