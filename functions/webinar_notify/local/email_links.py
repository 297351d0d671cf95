"""Following a link from an email the rehearsal sent, named by what it is rather than by its
URL ("the List-Unsubscribe link of the last reminder to X"), so a scenario is written once.

An email is picked from the outbox log by recipient and optionally kind, series, session or
announcement (``first``, ``last`` or the nth of those that match); its links are read from the
.eml as a mail client reads them: the ``List-Unsubscribe`` header, the HTML part's hrefs and the
URLs in the plain-text part. The forms of a page a link led to can be read back too, to press
a button that only that answer carries (the erase confirmation).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..adapters.mailer import delivery_tag
from ..core.errors import InvalidInputError
from ..core.jobs import delivery_key
from ..core.text import registrant_id

# The links a registrant's email carries, by the name a scenario gives them.
LINK_PATHS = {"manage": "/manage/", "calendar": "/calendar/", "unsubscribe": "/unsubscribe/",
              "opt_in": "/optin/"}
_URL_IN_TEXT = re.compile(r"(?:https?|webcal)://[^\s<>\"')]+")
_URL_IN_HEADER = re.compile(r"<((?:https?)://[^>]+)>")


class StepError(InvalidInputError):
    """A step that cannot be played as written (a reference that matches no email, a link
    the email does not have); shown in the timeline, the run goes on."""


@dataclass(frozen=True, slots=True)
class EmailRef:
    to: str
    kind: str | None = None
    series: str | None = None
    session: str | None = None
    announcement: str | None = None
    pick: str | int = "last"  # "first", "last" or the nth match (1 is the first)

    def describe(self) -> str:
        """The reference as a timeline may show it: no address."""
        parts = [self.kind or "email", f"pick={self.pick}"]
        parts += [f"{name}={value}" for name, value in (
            ("series", self.series), ("session", self.session),
            ("announcement", self.announcement)) if value]
        return " ".join(parts)


def find_email(entries: Sequence[Mapping[str, Any]], ref: EmailRef,
               registrant_key: str) -> Mapping[str, Any]:
    """The outbox log entry the reference names; StepError when none (or too few) match."""
    matching = [e for e in entries if _matches(e, ref, registrant_key)]
    if not matching:
        raise StepError(f"no {ref.describe()} email to that address has been sent yet")
    if ref.pick == "first":
        return matching[0]
    if ref.pick == "last":
        return matching[-1]
    number = int(ref.pick)
    if number > len(matching):
        raise StepError(f"only {len(matching)} {ref.describe()} emails match, not {number}")
    return matching[number - 1]


def _matches(entry: Mapping[str, Any], ref: EmailRef, registrant_key: str) -> bool:
    if str(entry.get("to", "")).lower() != ref.to.lower():
        return False
    if ref.kind and entry.get("kind") != ref.kind:
        return False
    if ref.series and entry.get("series") != ref.series:
        return False
    if ref.session and ref.session not in (entry.get("sessions") or ()):
        return False
    if ref.announcement:
        series = str(entry.get("series", ""))
        rid = registrant_id(registrant_key, series, str(entry["to"]))
        # An announcement's email is keyed by the announcement's task (core/tasks.py).
        key = delivery_key("announcement", series, rid, f"announcement#{ref.announcement}")
        return dict(entry.get("tags") or {}).get("delivery") == delivery_tag(key)
    return True


def read_email(outbox: Path, entry: Mapping[str, Any]) -> EmailMessage:
    raw = (outbox / str(entry["file"])).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def email_links(message: EmailMessage) -> list[tuple[str, str]]:
    """Every link of an email as ``(where, url)``: ``list-unsubscribe`` first, then ``html``
    and ``text``, each in the order it appears."""
    found = [("list-unsubscribe", url)
             for url in _URL_IN_HEADER.findall(str(message.get("List-Unsubscribe", "")))]
    html_part = message.get_body(("html",))
    if html_part is not None:
        found += [("html", url) for url in _hrefs(str(html_part.get_content()))]
    text_part = message.get_body(("plain",))
    if text_part is not None:
        found += [("text", url) for url in _URL_IN_TEXT.findall(str(text_part.get_content()))]
    return found


def pick_link(message: EmailMessage, link: str, base_url: str) -> str:
    """The path (and query) on this API of the named link: ``manage``, ``calendar``,
    ``unsubscribe`` (the List-Unsubscribe header's, else the body's), ``opt_in``, or a path
    prefix such as ``/manage/``. Links elsewhere (a recording, a survey) are not followed."""
    prefix = LINK_PATHS.get(link, link)
    base = urlsplit(base_url)
    for _where, url in email_links(message):
        parts = urlsplit(url)
        scheme = base.scheme if parts.scheme == "webcal" else parts.scheme
        if (scheme, parts.netloc) != (base.scheme, base.netloc):
            continue
        if parts.path.startswith(prefix):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    raise StepError(f"the email has no {link} link to this API")


def form_on_page(page: str, wanted: Mapping[str, str]) -> dict[str, str]:
    """The fields of the page's form that carries every ``wanted`` field with that value (its
    hidden inputs as the browser would send them); StepError when no form does."""
    for fields in _forms(page):
        if all(fields.get(name) == value for name, value in wanted.items()):
            return fields
    shown = ", ".join(f"{k}={v}" for k, v in wanted.items())
    raise StepError(f"the page shows no form with {shown}")


def _hrefs(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.hrefs


def _forms(page: str) -> list[dict[str, str]]:
    parser = _Links()
    parser.feed(page)
    return parser.forms


class _Links(HTMLParser):
    """The hrefs of a page and the named fields of each of its forms (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.forms: list[dict[str, str]] = []
        self._form: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])
        elif tag == "form":
            self._form = {}
            self.forms.append(self._form)
        elif tag in ("input", "button") and self._form is not None and values.get("name") \
                and (values.get("type", "").lower() not in ("checkbox", "radio")
                     or "checked" in values):  # what the browser sends: checked boxes only
            self._form.setdefault(values["name"], values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
