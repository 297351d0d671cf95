"""The registration a personal link points at: the signed token is the only credential."""

from __future__ import annotations

from datetime import date

from ..adapters.secrets import Secrets
from ..adapters.store import Store
from ..core import tokens
from ..core.errors import NotFoundError
from ..core.registration import Registration
from ..core.series import Series


def linked_registration(store: Store, secrets: Secrets, purpose: str, series_id: str,
                        token: str, today: date) -> tuple[Series, Registration]:
    """The series and registration a token of this purpose was made for; NotFoundError for a
    forged, altered, foreign or expired token (the page says so and nothing changes)."""
    registrant_id = tokens.check(secrets.token_secrets(), purpose, series_id, token,
                                 today=today)
    series = store.get_series(series_id) if registrant_id else None
    registration = store.get_registration(series_id, registrant_id) \
        if series and registrant_id else None
    if series is None or registration is None:
        raise NotFoundError("this link is not valid or has expired; use the link from your "
                            "latest email")
    return series, registration
