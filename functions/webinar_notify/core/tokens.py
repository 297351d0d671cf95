"""Signed, scoped tokens for the links in every email (manage, unsubscribe, calendar, opt-in).

A token is ``<registrant id>.<expiry day>.<signature>``: a truncated HMAC-SHA256 over purpose,
series, registrant and expiry. It is unguessable without the secret, valid for one purpose
and one series, until its day, and carries no address. Several secrets verify at once (the
first one signs), so the signing secret can be rotated without breaking links in old emails.
Every token expires: one without a day is refused, whatever its signature.

A confirmation value (``<expiry second>.<signature>``) is the same HMAC over a one-time
purpose such as "confirm-erase": a page hands it out, valid for minutes, and the next press
must bring it back, so a step that cannot be undone is never taken in one request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import date, timedelta

SIGNATURE_BYTES = 18
LINK_SHAPE = r"[a-z0-9][a-z0-9-]{0,63}\.[0-9]{1,7}\.[A-Za-z0-9_-]{24}"
"""What ``make`` writes: <registrant id>.<expiry day>.<18 bytes of signature, base64url>."""
_TOKEN = re.compile(LINK_SHAPE)
_EPOCH = date(1970, 1, 1)


def make(secret: str, purpose: str, series_id: str, registrant_id: str, *,
         expires: date) -> str:
    day = str((expires - _EPOCH).days)
    return f"{registrant_id}.{day}.{_signature(secret, purpose, series_id, registrant_id, day)}"


def is_token(value: str) -> bool:
    """Shaped as ``make`` shapes tokens (says nothing of the signature)."""
    return _TOKEN.fullmatch(value) is not None


def check(secrets: list[str], purpose: str, series_id: str, token: str, *,
          today: date) -> str | None:
    """The registrant id the token was made for, or None when it is forged, altered, for
    another purpose or series, without an expiry, or expired."""
    if not _TOKEN.fullmatch(token):  # also refuses "-", a day that never expires
        return None
    registrant_id, day, signature = token.split(".")
    if not _valid(secrets, signature, purpose, series_id, registrant_id, day):
        return None
    if today > _EPOCH + timedelta(days=int(day)):
        return None
    return registrant_id


def confirmation(secret: str, purpose: str, series_id: str, registrant_id: str, *,
                 expires_at: int) -> str:
    """A short-lived value that proves the page asking "are you sure?" was shown."""
    when = str(expires_at)
    return f"{when}.{_signature(secret, purpose, series_id, registrant_id, when)}"


def confirmed(secrets: list[str], purpose: str, series_id: str, registrant_id: str,
              value: str, *, now: int) -> bool:
    """True when ``value`` was made for this purpose, series and registrant, and is not
    past its second."""
    when, _, signature = value.partition(".")
    if not when.isdigit() or len(when) > 12 or not signature or not value.isascii():
        return False
    return _valid(secrets, signature, purpose, series_id, registrant_id, when) \
        and now <= int(when)


def _valid(secrets: list[str], signature: str, purpose: str, series_id: str,
           registrant_id: str, stamp: str) -> bool:
    valid = False
    for secret in secrets:  # every secret, always: the time taken says nothing
        valid |= hmac.compare_digest(
            _signature(secret, purpose, series_id, registrant_id, stamp), signature)
    return valid


def _signature(secret: str, purpose: str, series_id: str, registrant_id: str, day: str) -> str:
    message = f"{purpose}\n{series_id}\n{registrant_id}\n{day}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")
