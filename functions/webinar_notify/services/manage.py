"""The page behind the "manage your registration" link: what a person is registered for.

Read-only for now; changing sessions and leaving from this page come with self-service. The
token in the link is the only credential: no login, no cookie, nothing changes on a GET.
"""

from __future__ import annotations

from ..adapters.clock import Clock
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core.calendar import personal_feed
from ..core.compose import session_view
from ..core.render import Renderer
from .linked import linked_registration


class ManagePage:
    def __init__(self, store: Store, secrets: Secrets, renderer: Renderer, clock: Clock) -> None:
        self.store = store
        self.secrets = secrets
        self.renderer = renderer
        self.clock = clock

    def feed(self, series_id: str, token: str) -> tuple[bytes, str]:
        """The person's calendar feed and its ETag (changes with the series and registration)."""
        series, registration = linked_registration(self.store, self.secrets, "calendar",
                                                   series_id, token.removesuffix(".ics"))
        registered = set(registration.sessions_in([s.id for s in series.sessions]))
        sessions = [s for s in series.sessions if s.id in registered]
        body = personal_feed(series, sessions)
        return body, f'"{series.revision}-{registration.version}"'

    def render(self, series_id: str, token: str) -> str:
        """The page as HTML; NotFoundError for an unknown series or a token not valid for it."""
        series, registration = linked_registration(self.store, self.secrets, "manage",
                                                   series_id, token)
        now = self.clock.now()
        registered = set(registration.sessions_in([s.id for s in series.sessions]))
        zone = registration.registrant.time_zone
        sessions = [
            session_view(series, s, zone, registration.registrant.join_url, now)
            | {"past": s.end <= now, "cancelled": s.cancelled}
            for s in series.sessions if s.id in registered
        ]
        return self.renderer.render("manage.html", {
            "series": series, "sessions": sessions, "time_zone": zone,
            "active": registration.status == "active", "subject": series.title,
        })
