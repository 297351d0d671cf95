"""Signatures that are an HMAC-SHA256 of the raw body alone (Typeform, Tally)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from .. import edge
from ..errors import SignatureError


def verify_body_hmac(signature: str | None, body: bytes, secrets: Sequence[str],
                     header: str) -> None:
    """Constant-time check of a base64 HMAC-SHA256 of the raw body, against every secret."""
    if not signature:
        raise SignatureError(f"missing {header} header")
    expected = [base64.b64encode(hmac.new(s.encode(), body, hashlib.sha256).digest()).decode()
                for s in secrets if s]
    if not expected:
        raise SignatureError("no webhook secret is configured for this series and provider")
    matched = False
    for want in expected:
        matched |= hmac.compare_digest(want.encode(), signature.strip().encode("ascii", "replace"))
    if not matched:
        raise SignatureError("signature does not match")


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, parsed to a bounded depth (a PayloadError otherwise)."""
    return edge.json_object(body)
