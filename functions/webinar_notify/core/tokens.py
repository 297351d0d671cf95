"""Signed, scoped tokens for the links in every email (manage now; unsubscribe later).

A token is ``<registrant id>.<signature>`` where the signature is a truncated
HMAC-SHA256 over purpose, series and registrant. It is unguessable without the secret, valid
for one purpose only, and carries no address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_BYTES = 18


def make(secret: str, purpose: str, series_id: str, registrant_id: str) -> str:
    return f"{registrant_id}.{_signature(secret, purpose, series_id, registrant_id)}"


def check(secrets: list[str], purpose: str, series_id: str, token: str) -> str | None:
    """The registrant id the token was made for, or None when it is not valid here."""
    registrant_id, _, signature = token.partition(".")
    if not registrant_id or not signature or len(token) > 200 or not token.isascii():
        return None
    valid = False
    for secret in secrets:
        valid |= hmac.compare_digest(
            _signature(secret, purpose, series_id, registrant_id), signature)
    return registrant_id if valid else None


def _signature(secret: str, purpose: str, series_id: str, registrant_id: str) -> str:
    message = f"{purpose}\n{series_id}\n{registrant_id}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")
