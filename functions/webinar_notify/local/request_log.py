"""What the local server prints about a request: method, path and status, never a link token.

Links in emails carry their credential in the path (``/manage/<series>/<token>``,
``/calendar/<series>/<token>.ics``) and some forms put a secret in the query string (Jotform's
``?token=``), so a console log or a pasted terminal would hand them on. Only the webhook and
organiser routes are printed whole; everywhere else the segment after the series id is hidden,
every query value is hidden, and anything over-long or unprintable is cut.
"""

from __future__ import annotations

import threading
import traceback
from typing import TextIO
from urllib.parse import urlsplit

HIDDEN = "…"
SHOWN_WHOLE = ("webhooks", "organiser")  # their paths hold ids only, never a credential
MAX_SEGMENT = 64
MAX_NAME = 32
MAX_LINE = 300
_WRITING = threading.Lock()


def loggable(target: str) -> str:
    """The request target as it may be printed."""
    if target.startswith(("http://", "https://")):  # absolute-form request target
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    path, has_query, query = target.partition("?")
    segments = path.split("/")
    if len(segments) > 3 and segments[1] not in SHOWN_WHOLE:
        segments[3] = HIDDEN  # /<page>/<series>/<token>...
        segments[4:] = [s if len(s) <= 16 else HIDDEN for s in segments[4:]]
    shown = "/".join(s if len(s) <= MAX_SEGMENT else HIDDEN for s in segments)
    if has_query:
        names = (pair.partition("=")[0] for pair in query.split("&") if pair)
        shown += "?" + "&".join(f"{n if len(n) <= MAX_NAME else HIDDEN}={HIDDEN}" for n in names)
    return printable(shown)[:MAX_LINE]


def printable(text: str) -> str:
    """Control characters shown as escapes, so a request cannot forge log lines."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def describe(error: BaseException) -> str:
    """An error as the console may show it: its type and the place in this package that raised
    it. Not its message, which may quote what a person typed (an address, a name)."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "webinar_notify" in f.filename] or frames
    if not ours:
        return type(error).__name__
    where = ours[-1]
    place = where.filename.replace("\\", "/").rpartition("webinar_notify/")[2] or where.filename
    return f"{type(error).__name__} at {place}:{where.lineno} in {where.name}"


def log_line(out: TextIO, line: str) -> None:
    """One whole line, never interleaved with another thread's."""
    with _WRITING:
        out.write(line + "\n")
        out.flush()
