"""A small, fast MIME writer for the one email shape we send.

    multipart/mixed
     ├ multipart/alternative
     │   ├ text/plain; charset=utf-8
     │   ├ text/html; charset=utf-8
     │   └ text/calendar; method=…   (only when the email carries exactly one calendar object)
     └ attachments (each .ics as text/calendar; method=…, or application/ics beside an inline one)

Everything is 7-bit: bodies are base64, non-ASCII header text becomes RFC 2047 encoded-words
(SES has no SMTPUTF8). Header values are cleaned of every control character before they are
written, so no input can start a header of its own. The writer is ours rather than
``email.message.EmailMessage`` because that one costs ~20x the template render per email; the
tests parse every message back with the standard library to hold this writer to the RFCs.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache
from itertools import chain

from .calendar import CalendarPart
from .series import Contact
from .text import clean_name


def _encoder() -> Callable[[bytes], bytes]:
    """SIMD base64 (pybase64): an email's parts are some 40 KiB, which the standard
    library's encoder spends a quarter of the email's own CPU time on (benchmarks/emails.py).
    Both write the same characters."""
    try:
        import pybase64
    except ImportError:  # pragma: no cover (a dependency; only slower without it)
        return base64.b64encode
    return pybase64.b64encode


_b64encode = _encoder()

_ATEXT_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
_Q_SAFE = re.compile(r"[A-Za-z0-9]")
_NOT_IN_ADDRESS = re.compile(r'[<>\r\n" ,]')
_Q_WORD = 75 - len("=?utf-8?q??=")  # the encoded text an encoded-word can hold
_HEADER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
CRLF = "\r\n"
_LINE = 76  # base64 characters per line (RFC 2045 section 6.8)
_GROUP = 32  # lines cut by one struct call


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Email:
    sender: Contact
    to: Contact
    subject: str
    text: str
    html: str
    date: datetime
    message_id: str
    reply_to: Contact | None = None
    calendars: Sequence[CalendarPart] = ()  # invitations: iTIP parts with a method
    attachments: Sequence[Attachment] = ()  # plain files, e.g. an .ics to add by hand
    headers: Mapping[str, str] = field(default_factory=dict)
    language: str = ""  # the language of the bodies (RFC 3282 Content-Language), if known


def build(email: Email) -> bytes:
    """The whole message as CRLF, 7-bit bytes, ready for SES ``Content.Raw``."""
    head = [
        ("From", _series_address(email.sender)),
        ("To", address(email.to)),
        ("Subject", _subject(email.subject)),
        ("Date", _date(email.date.replace(microsecond=0))),
        ("Message-ID", f"<{email.message_id}>"),
        ("MIME-Version", "1.0"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
    ]
    if email.reply_to and email.reply_to.email:
        head.append(("Reply-To", _series_address(email.reply_to)))
    if email.language:
        if not _LANGUAGE.match(email.language):
            raise ValueError(f"bad language tag {email.language[:20]!r}")
        head.append(("Content-Language", email.language))
    for name, value in email.headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"bad header name {name!r}")
        head.append((name, encode_text(value)))

    # Each part as its pieces (headers, then base64 lines), joined once into the message:
    # a confirmation is some 50 KiB, which every join would copy again.
    alternative = [
        [_leaf_head("text/plain; charset=utf-8"), _base64(email.text.encode("utf-8"))],
        [_leaf_head("text/html; charset=utf-8"), _base64(email.html.encode("utf-8"))],
    ]
    attachments: list[list[bytes]] = []
    if len(email.calendars) == 1:
        (only,) = email.calendars
        encoded = _base64(only.content)  # once for both parts
        alternative.append(
            [_leaf_head(f"text/calendar; method={only.method}; charset=utf-8"), encoded])
        attachments.append([_attachment_head("application/ics", only.filename), encoded])
    else:
        attachments.extend(
            [_attachment_head(f"text/calendar; method={part.method}; charset=utf-8",
                              part.filename), _base64(part.content)]
            for part in email.calendars)

    attachments.extend([_attachment_head(a.content_type, a.filename), _base64(a.data)]
                       for a in email.attachments)
    lines = [f"{name}: {_fold(name, value)}" for name, value in head]
    body = _multipart("alternative", alternative, "=_alt")
    if attachments:
        body = _multipart("mixed", [body, *attachments], "=_mixed")
    return b"".join([(CRLF.join(lines) + CRLF).encode("ascii"), *body])


def address(contact: Contact) -> str:
    """``Name <addr>`` with the name quoted or encoded as needed; the address is pre-validated."""
    if not contact.email.isascii() or _NOT_IN_ADDRESS.search(contact.email):
        raise ValueError("address must be a validated ASCII address")
    name = clean_name(contact.name)
    if not name:
        return contact.email
    if name.isascii() and "=?" not in name:  # a look-alike encoded-word is encoded for real
        if _ATEXT_PHRASE.match(name):
            return f"{name} <{contact.email}>"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{contact.email}>'
    return f"{_encoded_words(name)} <{contact.email}>"


def encode_text(value: str) -> str:
    """An unstructured header value: cleaned, and RFC 2047-encoded when not plain ASCII."""
    text = clean_name(value, field="header", limit=900)
    return text if text.isascii() and "=?" not in text else _encoded_words(text)


@lru_cache(maxsize=64)
def _series_address(contact: Contact) -> str:
    """The series' sender and reply-to, the same in all its emails: written once."""
    return address(contact)


@lru_cache(maxsize=64)
def _date(moment: datetime) -> str:
    """The Date header (whole seconds): the same for every email of that second."""
    return format_datetime(moment)


@lru_cache(maxsize=1024)
def _subject(value: str) -> str:
    """A subject is the same for every reader of a session in a language: encoded once."""
    return encode_text(value)


@lru_cache(maxsize=2048)
def _q_piece(ch: str) -> str:
    """One character in RFC 2047 Q encoding: itself, ``_`` for a space, else its octets."""
    return "_" if ch == " " else ch if _Q_SAFE.match(ch) else \
        "".join(f"={b:02X}" for b in ch.encode("utf-8"))


def _encoded_words(text: str) -> str:
    """RFC 2047 Q encoding, in words of at most 75 characters, never splitting a character."""
    pieces = [_q_piece(ch) for ch in text]
    whole = "".join(pieces)
    if len(whole) <= _Q_WORD:  # one word: a name nearly always
        return f"=?utf-8?q?{whole}?="
    words: list[str] = []
    current = ""
    for piece in pieces:
        if len(current) + len(piece) > _Q_WORD:
            words.append(current)
            current = ""
        current += piece
    words.append(current)
    return " ".join(f"=?utf-8?q?{w}?=" for w in words)


def _fold(name: str, value: str) -> str:
    """Fold a header at spaces to keep lines short (well under the 998-octet limit)."""
    if len(name) + 2 + len(value) <= 78:
        return value
    out, line = [], ""
    width = len(name) + 2
    for word in value.split(" "):
        if line and width + len(line) + 1 + len(word) > 78:
            out.append(line)
            line, width = word, 1
        else:
            line = f"{line} {word}" if line else word
    out.append(line)
    return (CRLF + " ").join(out)


def _base64(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, each ending in CRLF (RFC 2045 section 6.8): what
    ``base64.encodebytes`` writes, cut by ``struct`` many lines at a time instead of one
    call per line."""
    if not data:
        return b""
    encoded = _b64encode(data)
    size = len(encoded)
    whole = size - size % _LINE
    ending = (encoded[whole:], b"") if whole < size else (b"",)  # b"": the last CRLF
    if whole <= _LINE * _GROUP:  # a calendar, a short text
        return b"\r\n".join(_lines(whole // _LINE).unpack_from(encoded) + ending)
    grouped = whole - whole % (_LINE * _GROUP)
    view = memoryview(encoded)
    lines = list(chain.from_iterable(_lines(_GROUP).iter_unpack(view[:grouped])))
    lines += _lines((whole - grouped) // _LINE).unpack(view[grouped:whole])
    lines += ending
    return b"\r\n".join(lines)


@lru_cache(maxsize=_GROUP + 1)
def _lines(count: int) -> struct.Struct:
    """``count`` lines of base64, cut in one call."""
    return struct.Struct(f"{_LINE}s" * count)


@lru_cache(maxsize=256)
def _leaf_head(content_type: str, extra: str = "") -> bytes:
    """A part's headers (the same for every email's text, HTML or session calendar)."""
    return (f"Content-Type: {content_type}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"{extra}{CRLF}").encode("ascii")


@lru_cache(maxsize=256)
def _attachment_head(content_type: str, filename: str) -> bytes:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100]
    return _leaf_head(f'{content_type}; name="{safe}"',
                      f'Content-Disposition: attachment; filename="{safe}"{CRLF}')


@lru_cache(maxsize=4)
def _boundaries(subtype: str, boundary: str) -> tuple[bytes, bytes, bytes]:
    """A multipart's headers, the line before each part and its closing line."""
    # "=_" cannot occur in base64 or in our headers' values, so the boundary is always safe.
    boundary = f"{boundary}_webinar_notify"
    return (f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"{CRLF}{CRLF}"
            .encode("ascii"), f"--{boundary}{CRLF}".encode("ascii"),
            f"--{boundary}--{CRLF}".encode("ascii"))


def _multipart(subtype: str, parts: list[list[bytes]], boundary: str) -> list[bytes]:
    head, between, end = _boundaries(subtype, boundary)
    pieces = [head]
    for part in parts:
        pieces.append(between)
        pieces += part
    pieces.append(end)
    return pieces
