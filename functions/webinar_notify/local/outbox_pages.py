"""The outbox index's HTML: the page shell, the lists of emails and one email's own page.

Pure functions of outbox log entries (log.jsonl lines) and .eml bytes; local/outbox_index.py
decides which pages to write when. Every page works without script and at 375 px.
"""

from __future__ import annotations

import email
import email.header
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from html import escape

FOLLOW_UP_PREFIX = "follow-up-"  # the id core/follow_ups.py gives a follow-up's announcements
KIND_ORDER = ("confirmation", "reminder", "update", "cancellation", "announcement", "follow-up")
HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
           "List-Unsubscribe-Post")
Entry = Mapping[str, object]


def kind_label(entry: Entry) -> str:
    """The kind an organiser reads: a follow-up is an announcement the organiser sent as one."""
    kind = str(entry.get("kind", ""))
    if kind == "announcement" and str(entry.get("announcement", "")).startswith(
            FOLLOW_UP_PREFIX):
        return "follow-up"
    return kind


def in_kind_order(kinds: Iterable[str]) -> list[str]:
    known = [k for k in KIND_ORDER if k in kinds]
    return known + sorted(set(kinds) - set(KIND_ORDER))


def sessions_of(entry: Entry) -> list[str]:
    sessions = entry.get("sessions")
    return [str(s) for s in sessions] if isinstance(sessions, list) else []


def natural(text: str) -> tuple[object, ...]:
    """s2 before s10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def mail_href(number: int) -> str:
    return f"mail/{number:05d}.html"


def sent(entry: Entry) -> str:
    """2023-10-02T13:05:00Z as 2023-10-02 13:05 (the column says UTC)."""
    return str(entry.get("sent_at", "")).replace("T", " ")[:16]


def page(title: str, body: str, *, root: str, tail: str = "") -> str:
    """A whole page: ``root`` leads from the page's folder back to the outbox."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · outbox</title>"
        f'<link rel="stylesheet" href="{root}index.css"></head><body>'
        f'<a class="skip" href="#main">Skip to the content</a>'
        f'<header><nav aria-label="Outbox"><ul>'
        f'<li><a href="{root}index.html">Outbox index</a></li>'
        f'<li><a href="{root}lists/all-1.html">All emails</a></li>'
        f'<li><a href="{root}lists/recipients.html">Recipients</a></li>'
        f"</ul></nav></header>"
        f'<main id="main">{body}</main>{tail}</body></html>\n')


def email_rows(entries: Sequence[Entry], numbers: Iterable[int], *, root: str) -> str:
    """One row per email: number, time, kind, recipient, sessions, subject, .eml."""
    rows = []
    for number in numbers:
        entry = entries[number - 1]
        label = kind_label(entry)
        rows.append(
            f'<tr><th scope="row" class="n">{number}</th><td>{escape(sent(entry))}</td>'
            f'<td><span class="kind kind-{slug(label)}">{escape(label)}</span></td>'
            f"<td>{escape(str(entry.get('to', '')))}</td>"
            f"<td>{escape(' '.join(sessions_of(entry)))}</td>"
            f'<td><a href="{root}{mail_href(number)}">{escape(str(entry.get("subject", "")))}'
            f'</a></td><td><a href="{root}{escape(str(entry.get("file", "")))}">.eml</a></td>'
            f"</tr>")
    return "".join(rows)


def email_table(caption: str, rows: str) -> str:
    """A table of emails in a region of its own that scrolls sideways on a narrow screen."""
    return (f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
            f'<table class="emails"><caption>{escape(caption)}</caption><thead><tr>'
            f'<th scope="col" class="n">No.</th><th scope="col">Sent (UTC)</th>'
            f'<th scope="col">Kind</th><th scope="col">To</th><th scope="col">Sessions</th>'
            f'<th scope="col">Subject</th><th scope="col">File</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def pager(stem: str, current: int, pages: int) -> str:
    """The first page, the two before this one, and the next when it exists: a page changes
    only when the page after it appears, so a long list never rewrites its older pages."""
    if pages <= 1:
        return ""
    shown = sorted({1, *range(max(1, current - 2), min(pages, current + 1) + 1)})
    items, previous = [], 0
    for number in shown:
        if number - previous > 1:
            items.append('<li aria-hidden="true">…</li>')
        current_mark = ' aria-current="page"' if number == current else ""
        label = f"{number} (next)" if number == current + 1 else str(number)
        items.append(f'<li><a{current_mark} href="{stem}-{number}.html">{label}</a></li>')
        previous = number
    return f'<nav class="pager" aria-label="Pages"><ul>{"".join(items)}</ul></nav>'


def list_page(title: str, stem: str, current: int, pages: int, shown: range,
              rows: str) -> str:
    """One page of a list (``shown``: the positions in the list, from 1)."""
    heading = f"{title}, page {current}" if pages > 1 else title
    body = (f"<h1>{escape(heading)}</h1><p>Emails {shown.start} to {shown.stop - 1}, oldest "
            f"first.</p>{pager(stem, current, pages)}{email_table(heading, rows)}"
            f"{pager(stem, current, pages)}")
    return page(heading, body, root="../")


@dataclass(frozen=True, slots=True)
class Part:
    label: str
    text: str  # empty for a part that is not text


@dataclass(frozen=True, slots=True)
class EmailView:
    headers: dict[str, str]
    html: str
    text: str
    parts: list[Part]


def read_email(raw: bytes) -> EmailView:
    """The headers an organiser checks and each part, decoded. The compat32 parser: ten
    times faster than the modern one, which matters at 10,000 emails."""
    message = email.message_from_bytes(raw)
    html_body = text_body = ""
    parts: list[Part] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind, filename = part.get_content_type(), part.get_filename()
        data = part.get_payload(decode=True)
        content = data if isinstance(data, bytes) else b""
        if kind == "text/html" and not filename and not html_body:
            html_body = _decoded(part, content)
        elif kind == "text/plain" and not filename and not text_body:
            text_body = _decoded(part, content)
        else:
            textual = kind.startswith("text/") or kind == "application/ics"
            method = part.get_param("method")
            label = filename or (f"{kind}, method={method}" if isinstance(method, str)
                                 else kind)
            parts.append(Part(f"{label} ({len(content):,} bytes)",
                              _decoded(part, content) if textual else ""))
    headers = {name: _header(message.get(name)) for name in HEADERS}
    return EmailView(headers, html_body, text_body, parts)


def email_page(number: int, entry: Entry, view: EmailView | None,
               back: Sequence[tuple[str, str]]) -> str:
    """One email, rendered once: its header block, the HTML in a sandboxed frame, the plain
    text and every calendar entry or attachment."""
    subject = str(entry.get("subject", ""))
    label = kind_label(entry)
    announcement = str(entry.get("announcement", ""))
    facts = [f"Email {number}", f'<span class="kind kind-{slug(label)}">{escape(label)}</span>',
             f"sent {escape(sent(entry))} UTC (the rehearsal's clock)"]
    if announcement:
        facts.append(f"announcement {escape(announcement)}")
    if sessions_of(entry):
        facts.append(f"sessions {escape(' '.join(sessions_of(entry)))}")
    facts.append(f'<a href="../{escape(str(entry.get("file", "")))}">the .eml file</a>')
    links = "".join(f'<li><a href="../{href}">{escape(text)}</a></li>' for text, href in back)
    body = [f'<nav aria-label="Lists with this email"><ul class="crumbs"><li>In the lists:</li>'
            f"{links}</ul></nav>",
            f"<h1>{escape(subject)}</h1><p>{' · '.join(facts)}</p>"]
    if view is None:
        body.append("<p><strong>The .eml file of this email is missing.</strong></p>")
    else:
        rows = "".join(
            f"<dt>{name}</dt><dd>{escape(view.headers[name]) or '<em>none</em>'}</dd>"
            for name in HEADERS)
        body.append(f'<h2>Headers</h2><dl class="headers">{rows}</dl>'
                    f'<h2>As the reader sees it</h2><iframe title="The email as HTML" sandbox '
                    f'srcdoc="{escape(view.html, quote=True)}"></iframe>'
                    f"<details><summary>Plain text</summary><pre>{escape(view.text)}</pre>"
                    f"</details>")
        if view.parts:
            body.append("<h2>Calendar entries and attachments</h2>" + "".join(
                f"<details><summary>{escape(part.label)}</summary>"
                f"<pre>{escape(part.text) or '(not text)'}</pre></details>"
                for part in view.parts))
    return page(f"{number}: {subject}", "".join(body), root="../")


def _decoded(part: Message, content: bytes) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        return content.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", "replace")


def _header(value: object) -> str:
    """A header unfolded and with RFC 2047 words decoded ("" when absent)."""
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeDecodeError):
        text = str(value)
    return " ".join(text.split())


def slug(text: str) -> str:
    """A kind as a file name and a class name."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()) or "other"


STYLESHEET = """\
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; line-height: 1.5; color: #1f2933;
  background: #fff; max-width: 78rem; margin: 0 auto; padding: 0 1.5rem 3rem; }
a { color: #0b5c8e; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible,
summary:focus-visible, [tabindex]:focus-visible, iframe:focus-visible {
  outline: 3px solid #b35c00; outline-offset: 2px; }
.skip { position: absolute; left: -100vw; }
.skip:focus { left: 1rem; top: .5rem; background: #fff; padding: .25rem .5rem; }
header nav ul, .crumbs, .pager ul, ul.lists { list-style: none; padding: 0; margin: .75rem 0;
  display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1.25rem; }
header { border-bottom: 3px solid #0b5c8e; margin-bottom: 1rem; }
nav a, ul.lists a { display: inline-block; min-height: 24px; padding: .125rem 0; }
.pager a { display: inline-block; min-width: 2rem; padding: .125rem .25rem; text-align: center;
  border: 1px solid #9aa5b1; border-radius: 4px; text-decoration: none; }
.pager a[aria-current] { background: #0b5c8e; color: #fff; border-color: #0b5c8e; }
h1 { font-size: 1.6rem; line-height: 1.25; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
.scroll { overflow-x: auto; margin: .5rem 0; }
table { border-collapse: collapse; min-width: 100%; font-size: .875rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid #d9dee3; padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
thead th, tfoot th, tfoot td { background: #f1f4f7; }
th[scope="rowgroup"] { background: #e4ecf2; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
table.emails td:nth-child(2), table.emails td:nth-child(4), thead th { white-space: nowrap; }
table.emails td:nth-child(6) a, .wide { display: inline-block; min-width: 15rem; }
.letters a { min-width: 1.5rem; text-align: center; }
table.counts { min-width: 0; }
table.counts th, table.counts td { padding-right: 1rem; }
.zero { color: #616e7c; }
.hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
  white-space: nowrap; }
.kind { white-space: nowrap; font-weight: 600; }
.kind-follow-up { color: #7a3a00; }
.note { font-size: .875rem; color: #3e4c59; }
form.find { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; align-items: flex-end; }
form.find[hidden] { display: none; }
form.find label { display: block; font-weight: 600; }
input, select, button { font: inherit; min-height: 2.25rem; }
input { border: 1px solid #616e7c; border-radius: 4px; padding: .25rem .5rem;
  width: min(22rem, 80vw); }
select { border: 1px solid #616e7c; border-radius: 4px; }
button { background: #0b5c8e; color: #fff; border: 0; border-radius: 4px;
  padding: .25rem 1rem; }
dl.headers { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.headers dt { font-weight: 600; }
dl.headers dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, monospace;
  font-size: .875rem; }
iframe { width: 100%; height: 75vh; min-height: 26rem; border: 1px solid #9aa5b1; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f5f7; padding: .5rem; }
summary { cursor: pointer; padding: .25rem 0; }
@media (max-width: 40rem) {
  body { padding: 0 .75rem 2rem; }
  dl.headers { grid-template-columns: 1fr; gap: 0; }
  dl.headers dt { margin-top: .5rem; }
  iframe { height: 85vh; }
}
"""
