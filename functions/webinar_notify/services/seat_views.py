"""What organisers see of a series' registration policy: seats, waitlists and pending
approvals per session (the console's pages and the read API show the same models).

Every read is a fixed number of requests: the counts of every session in one BatchGetItem,
a page of the pending registrants (a Query and a BatchGetItem), and one session's line (a
Query, then one GetItem per person shown, at most ``LINE_PAGE``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..adapters.store import Store
from ..core.console_views import moment_in
from ..core.errors import NotFoundError
from ..core.series import Series

PENDING_PAGE = 25  # one console form: a checkbox each, within its 40 fields
LINE_PAGE = 25


def seat_counts(store: Store, series: Series) -> dict[str, dict[str, Any]]:
    """Each session's capacity (None: unlimited) and its confirmed, waitlisted and pending
    registrants; empty for a series without a policy (one BatchGetItem otherwise)."""
    if not series.policy.counts_seats:
        return {}
    found = store.seats.counts(series.id, [s.id for s in series.sessions])
    return {s.id: {"capacity": series.policy.capacity_of(s.id),
                   "confirmed": found[s.id].confirmed, "waitlisted": found[s.id].waitlisted,
                   "pending": found[s.id].pending}
            for s in series.sessions if s.id in found}


def approvals_view(store: Store, series: Series, cursor: str | None, session_id: str,
                   line_cursor: str | None, now: datetime) -> dict[str, Any]:
    """The pending registrants (a page), every session's seats, and one session's waitlist
    in order (``session_id``; default: the first session with a line)."""
    pending, next_cursor = store.pending_page(series.id, cursor or None, PENDING_PAGE)
    counts = seat_counts(store, series)
    sessions = [{"id": s.id, "title": s.title, "starts": moment_in(s.start, series.time_zone),
                 "over": s.end <= now or s.cancelled,
                 "capacity": None, "confirmed": 0, "waitlisted": 0, "pending": 0,
                 **counts.get(s.id, {})}
                for s in series.sessions]
    if not session_id:
        session_id = next((s["id"] for s in sessions if s.get("waitlisted")), "")
    line: list[dict[str, Any]] = []
    next_line = None
    if session_id:
        if series.session(session_id) is None:
            raise NotFoundError(f"unknown session {session_id[:40]!r}")
        entries, next_line = store.seats.waitlist(series.id, session_id, line_cursor or None,
                                                  LINE_PAGE)
        for entry in entries:
            registration = store.get_registration(series.id, entry.registrant_id)
            line.append({"place": entry.place, "id": entry.registrant_id,
                         "name": registration.registrant.full_name if registration else "",
                         "email": registration.registrant.email if registration else "",
                         "joined": moment_in(entry.joined, series.time_zone)})
    ids = [s.id for s in series.sessions]
    return {
        "policy": {"approval": series.policy.approval, "capacity": series.policy.capacity,
                   "auto_approve": sorted(series.policy.auto_approve_domains)},
        "pending": [{"id": r.registrant_id, "name": r.registrant.full_name,
                     "email": r.registrant.email,
                     "sessions": "all" if r.whole_series else r.sessions_in(ids),
                     "registered": moment_in(datetime.fromtimestamp(
                         min(r.since.values(), default=r.last_event), now.tzinfo),
                         series.time_zone)}
                    for r in pending],
        "cursor": cursor or "", "next_cursor": next_cursor or "",
        "sessions": sessions, "line_session": session_id, "line": line,
        "line_cursor": line_cursor or "", "next_line_cursor": next_line or "",
    }
