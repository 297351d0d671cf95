"""Signed, scoped tokens for the links in every email (manage, unsubscribe, calendar, opt-in).

A token is ``<registrant id>.<expiry day>.<signature>``: a truncated HMAC-SHA256 over purpose,
series, registrant and expiry. It is unguessable without the secret, valid for one purpose
and one series, until its day, and carries no address. Several secrets verify at once (the
first one signs), so the signing secret can be rotated without breaking links in old emails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date, timedelta

SIGNATURE_BYTES = 18
_EPOCH = date(1970, 1, 1)


def make(secret: str, purpose: str, series_id: str, registrant_id: str, *,
         expires: date | None = None) -> str:
    day = str((expires - _EPOCH).days) if expires else "-"
    return f"{registrant_id}.{day}.{_signature(secret, purpose, series_id, registrant_id, day)}"


def check(secrets: list[str], purpose: str, series_id: str, token: str, *,
          today: date | None = None) -> str | None:
    """The registrant id the token was made for, or None when it is forged, altered, for
    another purpose or series, or expired."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 200 or not token.isascii() or not all(parts):
        return None
    registrant_id, day, signature = parts
    valid = False
    for secret in secrets:
        valid |= hmac.compare_digest(
            _signature(secret, purpose, series_id, registrant_id, day), signature)
    if not valid:
        return None
    if day != "-" and today is not None and (not day.isdigit()
                                             or today > _EPOCH + timedelta(days=int(day))):
        return None
    return registrant_id


def _signature(secret: str, purpose: str, series_id: str, registrant_id: str, day: str) -> str:
    message = f"{purpose}\n{series_id}\n{registrant_id}\n{day}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")
