"""Verification of our own webhook signature scheme (provider ``generic``).

Header ``Webinar-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`` where each hex is
HMAC-SHA256(secret, f"{t}." + raw body). Several v1 entries and several secrets are accepted
at once, so a secret can be rotated without dropping a single delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from .errors import SignatureError

TOLERANCE_SECONDS = 300
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a sender puts on ``body`` (used by our CLI, tests and scripts)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(header: str | None, body: bytes, secrets: Iterable[str], now: int) -> int:
    """Return the signed timestamp, or raise SignatureError saying what is wrong."""
    if not header:
        raise SignatureError("missing Webinar-Signature header")
    timestamp, candidates = _parse(header)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("signature timestamp is outside the 300 s tolerance")
    expected = [_digest(secret, timestamp, body) for secret in secrets if secret]
    if not expected:
        raise SignatureError("no webhook secret is configured for this series and provider")
    matched = False
    for want in expected:  # every pair is compared, so timing says nothing about which matched
        for got in candidates:
            matched |= hmac.compare_digest(want, got)
    if not matched:
        raise SignatureError("signature does not match")
    return timestamp


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and _HEX.fullmatch(value.strip()):
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise SignatureError("malformed Webinar-Signature header: expected t=<unix>,v1=<hex>")
    return timestamp, candidates


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
