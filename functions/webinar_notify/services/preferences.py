"""What a person receives: one-click unsubscribe (RFC 8058), the page behind the link, and
the way back in. The token in the link is the only credential; a GET never changes anything,
because mail scanners follow links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from ..adapters.clock import Clock
from ..adapters.dynamo import StaleWriteError
from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import i18n
from ..core.errors import PayloadError, RetryableError
from ..core.registration import Registration
from ..core.render import Renderer
from ..core.series import Series
from .linked import linked_registration

Scope = Literal["announcements", "all"]
SCOPES: tuple[Scope, ...] = ("announcements", "all")


class Preferences:
    def __init__(self, store: Store, secrets: Secrets, renderer: Renderer, clock: Clock) -> None:
        self.store = store
        self.secrets = secrets
        self.renderer = renderer
        self.clock = clock

    def page(self, series_id: str, token: str, scope: str, done: str = "",
             accept_language: str = "") -> str:
        """The confirmation page: says what the button will do; changes nothing. In the
        person's language, else their browser's, else the series' default."""
        series, registration = self._find(series_id, token)
        return self.renderer.render("unsubscribe.html", {
            "series": series, "subject": series.title, "scope": _scope(scope), "done": done,
            "reminders_off": registration.reminders_off,
            "announcements_off": registration.announcements_off},
            _language(series, registration, accept_language), series)

    def unsubscribe(self, series_id: str, token: str, scope: str) -> Registration:
        """Idempotent: unsubscribing twice leaves the same state."""
        chosen = _scope(scope)
        return self._update(series_id, token, lambda r: replace(
            r, announcements_off=True, reminders_off=r.reminders_off or chosen == "all"))

    def resubscribe(self, series_id: str, token: str) -> Registration:
        return self._update(series_id, token, lambda r: replace(
            r, announcements_off=False, reminders_off=False))

    def opt_in_page(self, series_id: str, token: str, done: bool = False,
                    accept_language: str = "") -> str:
        series, registration = linked_registration(self.store, self.secrets, "optin",
                                                   series_id, token,
            today=self.clock.now().date())
        return self.renderer.render("optin.html", {
            "series": series, "subject": series.title,
            "confirmed": done or registration.opted_in},
            _language(series, registration, accept_language), series)

    def opt_in(self, series_id: str, token: str, accept_language: str = "") -> str:
        self._update(series_id, token, lambda r: replace(r, opted_in=True), purpose="optin")
        return self.opt_in_page(series_id, token, done=True, accept_language=accept_language)

    def _update(self, series_id: str, token: str,
                change: Callable[[Registration], Registration],
                purpose: str = "unsubscribe") -> Registration:
        for _attempt in range(5):
            _series, registration = linked_registration(self.store, self.secrets, purpose,
                                                        series_id, token,
            today=self.clock.now().date())
            updated = change(registration)
            if updated == registration:
                return registration
            try:
                return self.store.put_registration(updated, self.clock.now())
            except StaleWriteError:
                continue
        raise RetryableError("your preferences are being changed right now; try again")

    def _find(self, series_id: str, token: str) -> tuple[Series, Registration]:
        return linked_registration(self.store, self.secrets, "unsubscribe", series_id, token,
            today=self.clock.now().date())


def _language(series: Series, registration: Registration, accept_language: str) -> str:
    return i18n.for_page(registration.registrant.language, accept_language, series.language)


def _scope(value: str) -> Scope:
    if value not in SCOPES:
        raise PayloadError("scope must be announcements or all")
    return value
