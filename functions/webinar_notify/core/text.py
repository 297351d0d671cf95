"""Cleaning of text that came from outside before it reaches a header, a calendar or a key."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import PayloadError

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_DOMAIN_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# BCP 47 in its common shape: language[-script][-region][-variant...] (RFC 5646 §2.1).
_LANGUAGE_TAG = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)")
MAX_LANGUAGE_TAG_LENGTH = 35
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def nfc(text: str) -> str:
    """Text in Unicode NFC, so "José" typed with a combining accent equals the precomposed one."""
    return unicodedata.normalize("NFC", text)


def folded(text: str) -> str:
    """A label as compared loosely: NFC, case-folded, runs of white space as one space."""
    return " ".join(nfc(text).casefold().split())


def language_tag(raw: object, *, field: str = "language") -> str:
    """A well-formed BCP 47 tag in its usual case (``fr-be`` → ``fr-BE``), or a PayloadError.

    Only the form is checked, not that the language exists: a two- or three-letter language,
    then an optional script, region and variants (so "English" is refused, not read as a
    tag); ``_`` is read as ``-`` (locale names such as ``pt_BR``).
    """
    text = raw.strip().replace("_", "-") if isinstance(raw, str) else ""
    match = _LANGUAGE_TAG.fullmatch(text) if len(text) <= MAX_LANGUAGE_TAG_LENGTH else None
    if match is None:
        raise PayloadError(f"{field}: {str(raw)[:40]!r} is not a language tag such as fr or "
                           "pt-BR")
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts += [v.lower() for v in match["variants"].split("-") if v]
    return "-".join(parts)


def clean_name(raw: object, *, field: str = "full_name", limit: int = MAX_NAME_LENGTH) -> str:
    """A display name safe for any header or calendar: no control characters, no line breaks.

    Every Unicode control or format character (CR, LF, NUL, bidi overrides...) becomes a space,
    runs of white space collapse, and the result is capped, so "x\\r\\nBcc: y" can never become
    a header of its own.
    """
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise PayloadError(f"{field} must be a string")
    text = nfc(raw)
    if text.isprintable():  # no control, format or separator character but the space
        name = " ".join(text.split())
    else:
        kept = [" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text]
        name = " ".join("".join(kept).split())
    return name[:limit].strip()


def normalise_email(raw: object, *, field: str = "email") -> str:
    """A deliverable ASCII address, or a PayloadError naming the field.

    SES has no SMTPUTF8, so a non-ASCII local part cannot be delivered; a non-ASCII domain is
    converted to its IDNA (xn--) form. The local part keeps its case (some servers care), the
    domain is lower-cased.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise PayloadError(f"{field} is required")
    address = raw.strip()
    if len(address) > MAX_EMAIL_LENGTH or address.count("@") != 1:
        raise PayloadError(f"{field} is not a valid email address")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise PayloadError(f"{field} is not a valid email address")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise PayloadError(f"{field} is not a valid email address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise PayloadError(f"{field} has an invalid domain") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise PayloadError(f"{field} has an invalid domain")
    return f"{local}@{ascii_domain}"


def is_time_zone(name: object) -> bool:
    """True for an IANA zone name we can load ("Europe" is a directory, not a zone)."""
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isascii():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def suppression_id(key: str, email: str) -> str:
    """Keyed hash of an address for the suppression list (bounces, complaints), across series."""
    message = f"suppression\n{email.lower()}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def registrant_id(key: str, series_id: str, email: str) -> str:
    """Stable, pseudonymous id of an address within a series (case-insensitive).

    Keys, answers, links and log lines carry this id, never the address. It is keyed (HMAC),
    so nobody holding ids can test whether a known address registered; the key must never
    change once registrations exist.
    """
    message = f"{series_id}\n{email.lower()}".encode()
    return "r" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:31]


def whole_number(text: str) -> int | None:
    """A count or a number of minutes typed in a form or a query: up to nine ASCII digits, or
    None. ``str.isdigit`` also accepts "²" and 5,000-digit strings, which ``int`` refuses."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None
