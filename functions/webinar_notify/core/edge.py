"""What a request may carry, checked before anything is looked up.

Every path segment ends up in a DynamoDB key or a signed message, and AWS refuses over-long
keys with an error rather than an empty answer; so a segment outside its documented pattern is
refused here (404, naming the rule) before any AWS call. JSON from outside is parsed only to a
bounded depth: Python's parser recurses once per level and would otherwise raise
RecursionError (a 5xx) on a body of a few kilobytes of brackets. docs/webhooks.md lists both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, cast

from . import tokens
from .errors import NotFoundError, PayloadError

ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
"""Series, session, coming-item and announcement ids: the rule series files use for ids."""
MAX_JSON_DEPTH = 64
"""Objects and arrays nested deeper than this are refused; real payloads nest fewer than 10."""

_ID = re.compile(ID_PATTERN)
# What the depth count looks at: brackets, and the quotes and backslashes that make strings
# (brackets inside a string do not count).
_SIGNIFICANT = re.compile(rb'[\[\]{}"\\]')
_OPENING, _CLOSING = frozenset(b"[{"), frozenset(b"]}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([A-Za-z0-9;-]+)")


def check_id(value: str, what: str) -> None:
    """Refuse an id that no series file could hold (e.g. ``what="series id"``)."""
    if not _ID.fullmatch(value):
        raise NotFoundError(f"{what} must be 1 to 63 lower-case letters, digits and hyphens, "
                            "starting with a letter or digit")


def check_token(value: str) -> None:
    if not tokens.is_token(value):
        raise NotFoundError("link token must be <registrant id>.<expiry day>.<signature> as in "
                            "the emails; check that the whole link was copied")


def check_provider(value: str, known: Collection[str]) -> None:
    if value not in known:
        raise NotFoundError(f"provider must be one of {', '.join(sorted(known))}")


def check_page_path(series_id: str, token: str) -> None:
    """A registrant's page (manage, unsubscribe, opt-in, calendar): NotFoundError when the
    series id or the token cannot be one we made."""
    check_id(series_id, "series id")
    check_token(token)


def signed_header_names(authorization: str, query: Mapping[str, str]) -> frozenset[str]:
    """The headers a SigV4 request signed (from its Authorization header, or from
    X-Amz-SignedHeaders when signed in the query string); API Gateway has checked them."""
    match = _SIGNED_HEADERS.search(authorization)
    names = match.group(1) if match else query.get("X-Amz-SignedHeaders", "")
    return frozenset(name.strip().lower() for name in names.split(";") if name.strip())


def check_json_depth(data: bytes | str) -> None:
    """PayloadError when objects/arrays nest deeper than MAX_JSON_DEPTH.

    Works on any text (a multipart body holding JSON too): strings are skipped, brackets
    counted, in linear time and without recursion.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return  # cannot nest deeper than it has brackets
    depth, in_string, escaped = 0, False, -1
    for match in _SIGNIFICANT.finditer(raw):  # one pass: every byte is looked at once
        at, byte = match.start(), raw[match.start()]
        if in_string:
            if at == escaped:
                continue  # the character after a backslash
            if byte == _BACKSLASH:
                escaped = at + 1
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENING:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise PayloadError(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels")
        elif byte in _CLOSING:
            depth = max(depth - 1, 0)


def json_value(data: bytes | str, what: str = "body") -> Any:
    """Parse JSON from outside: a PayloadError (400), never a RecursionError, for bad input."""
    check_json_depth(data)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PayloadError(f"{what} is not valid UTF-8 JSON") from None


def json_object(data: bytes | str, what: str = "body") -> dict[str, Any]:
    value = json_value(data, what)
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be a JSON object")
    return cast(dict[str, Any], value)
