"""The outbox's index, for an organiser reading a rehearsal.

``index.html`` has the counts per kind and session, a list per kind and per recipient, the
latest emails and a search; ``lists/`` has those lists, a hundred emails a page; ``mail/`` has
one page per email, rendered once when it is first indexed. A write touches only what the new
emails changed (their pages, the last page of each list they join, their recipient's letter
and index.html), so rewriting after every request costs the same at 10 emails as at 10,000.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from .outbox_pages import (
    STYLESHEET,
    Entry,
    email_page,
    email_rows,
    email_table,
    in_kind_order,
    kind_label,
    list_page,
    mail_href,
    natural,
    page,
    read_email,
    sent,
    sessions_of,
    slug,
)

PAGE_ROWS = 100  # emails per list page: no page holds more, and none renders an email but its own
LATEST = 20  # the newest emails shown on index.html
FOUND_SHOWN = 200  # the search shows this many matches at most
MAIL_FORMAT = "1"  # raise when an email's page changes shape: older pages are then rewritten


@dataclass
class WriteStats:
    """What one write cost: files written and their bytes."""

    files: int = 0
    bytes: int = 0


@dataclass(eq=False)
class _List:
    stem: str  # its pages are lists/<stem>-<page>.html
    title: str
    numbers: list[int] = field(default_factory=list)
    dirty: set[int] = field(default_factory=set)

    def add(self, number: int) -> int:
        """Add an email; the page it lands on. A new page adds a link to the one before."""
        self.numbers.append(number)
        pages = self.pages()
        self.dirty.add(pages)
        if pages > 1 and len(self.numbers) % PAGE_ROWS == 1:
            self.dirty.add(pages - 1)
        return pages

    def pages(self) -> int:
        return max(1, -(-len(self.numbers) // PAGE_ROWS))

    def href(self, number_page: int = 1) -> str:
        return f"lists/{self.stem}-{number_page}.html"


@dataclass
class _Recipient:
    address: str
    emails: _List
    kinds: Counter[str] = field(default_factory=Counter)


class OutboxIndex:
    """Keeps index.html and its pages in step with an outbox's log entries."""

    _started: bool
    _seen: int

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.last = WriteStats()
        self._lock = threading.Lock()
        self._reset()

    def write(self, entries: Sequence[Entry]) -> Path:
        """Bring the pages up to date with ``entries`` (the whole log, oldest first)."""
        with self._lock:
            self.last = WriteStats()
            if not self._started or len(entries) < self._seen:  # a new run's log
                self._start(len(entries))
            new = range(self._seen + 1, len(entries) + 1)
            for number in new:
                self._add(number, entries[number - 1])
            self._append_search_rows(entries, new)
            self._seen = len(entries)
            self._flush(entries)
            self._write("index.html", self._index_page(entries))
        return self.directory / "index.html"

    # --- state ----------------------------------------------------------------------------

    def _reset(self) -> None:
        self._started = False
        self._seen = 0
        self._all = _List("all", "All emails")
        self._kinds: dict[str, _List] = {}
        self._recipients: dict[str, _Recipient] = {}
        self._letters: dict[str, list[str]] = {}  # letter -> its recipients' addresses
        self._letters_written: tuple[str, ...] = ()
        self._dirty_letters: set[str] = set()
        self._dirty_lists: dict[str, _List] = {}  # stem -> list
        self._counts: dict[str, dict[str, Counter[str]]] = {}  # series -> session -> kinds
        self._totals: Counter[str] = Counter()

    def _start(self, count: int) -> None:
        """The first write of this process: the lists are rebuilt; an email's page is kept
        only when it is newer than its .eml and of this format."""
        self._reset()
        self._started = True
        lists, mail = self.directory / "lists", self.directory / "mail"
        lists.mkdir(parents=True, exist_ok=True)
        mail.mkdir(parents=True, exist_ok=True)
        for stale in (*lists.glob("*.html"), *lists.glob("*.tmp")):
            stale.unlink(missing_ok=True)
        version = mail / "format"
        same_format = version.exists() and version.read_text().strip() == MAIL_FORMAT
        for old in mail.glob("*.html"):
            if not same_format or not old.stem.isdigit() or int(old.stem) > count:
                old.unlink(missing_ok=True)
        version.write_text(MAIL_FORMAT + "\n")
        self._write("index.css", STYLESHEET)
        self._write("lists/emails.js", "var OUTBOX_EMAILS = [];\n")

    def _add(self, number: int, entry: Entry) -> None:
        label = kind_label(entry)
        address = str(entry.get("to", ""))
        kind_list = self._kinds.get(label)
        if kind_list is None:
            kind_list = self._kinds[label] = _List(f"kind-{slug(label)}", f"{label} emails")
        recipient = self._recipients.get(address)
        if recipient is None:
            ordinal = len(self._recipients) + 1
            recipient = self._recipients[address] = _Recipient(
                address, _List(f"to-{ordinal}", f"Emails to {address}"))
            self._letters.setdefault(_letter(address), []).append(address)
        recipient.kinds[label] += 1
        self._dirty_letters.add(_letter(address))
        on_all, on_kind = self._all.add(number), kind_list.add(number)
        on_recipient = recipient.emails.add(number)
        for lst in (self._all, kind_list, recipient.emails):
            self._dirty_lists[lst.stem] = lst
        back = [(f"All emails, page {on_all}", self._all.href(on_all)),
                (f"{kind_list.title}, page {on_kind}", kind_list.href(on_kind)),
                (f"Every email to this recipient, page {on_recipient}",
                 recipient.emails.href(on_recipient))]
        series = self._counts.setdefault(str(entry.get("series", "")), {})
        for session in sessions_of(entry) or [""]:
            series.setdefault(session, Counter())[label] += 1
        self._totals[label] += 1
        self._write_email_page(number, entry, back)

    def _write_email_page(self, number: int, entry: Entry,
                          back: list[tuple[str, str]]) -> None:
        target = self.directory / mail_href(number)
        eml = self.directory / str(entry.get("file", ""))
        try:
            raw = eml.read_bytes() if eml.is_file() else None
            if raw is not None and target.exists() and \
                    target.stat().st_mtime_ns >= eml.stat().st_mtime_ns:
                return  # rendered by an earlier run from this very file
        except OSError:
            raw = None
        self._write(mail_href(number),
                    email_page(number, entry, read_email(raw) if raw else None, back))

    # --- writing --------------------------------------------------------------------------

    def _flush(self, entries: Sequence[Entry]) -> None:
        for lst in self._dirty_lists.values():
            self._write_list(lst, entries)
        self._dirty_lists.clear()
        letters = tuple(sorted(self._letters))
        if letters != self._letters_written:
            self._dirty_letters.update(letters)
            self._letters_written = letters
        for letter in sorted(self._dirty_letters):
            self._write(f"lists/recipients-{letter}.html", self._letter_page(letter))
        if self._dirty_letters or not (self.directory / "lists/recipients.html").exists():
            self._write("lists/recipients.html", self._recipients_page())
        self._dirty_letters.clear()

    def _write_list(self, lst: _List, entries: Sequence[Entry]) -> None:
        pages = lst.pages()
        for number_page in sorted(lst.dirty):
            start = (number_page - 1) * PAGE_ROWS
            numbers = lst.numbers[start:start + PAGE_ROWS]
            rows = email_rows(entries, numbers, root="../")
            self._write(lst.href(number_page), list_page(
                lst.title, lst.stem, number_page, pages,
                range(start + 1, start + len(numbers) + 1), rows))
        lst.dirty.clear()

    def _append_search_rows(self, entries: Sequence[Entry], numbers: range) -> None:
        """The search's data, one line per email, only ever appended to."""
        if not numbers:
            return
        lines = "".join(
            "OUTBOX_EMAILS.push(" + json.dumps(
                [n, sent(e), kind_label(e), str(e.get("to", "")),
                 " ".join(sessions_of(e)), str(e.get("subject", "")), str(e.get("file", ""))],
                ensure_ascii=True) + ");\n"
            for n, e in ((n, entries[n - 1]) for n in numbers))
        with (self.directory / "lists" / "emails.js").open("a", encoding="ascii") as script:
            script.write(lines)
        self.last.files += 1
        self.last.bytes += len(lines)

    def _write(self, relative: str, text: str) -> None:
        """Whole or not at all: a browser reloading the page never sees half of it."""
        path = self.directory / relative
        data = text.encode("utf-8")
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.last.files += 1
        self.last.bytes += len(data)

    # --- pages ----------------------------------------------------------------------------

    def _index_page(self, entries: Sequence[Entry]) -> str:
        kinds = in_kind_order(self._kinds)
        total = len(entries)
        lists = [_list_item(lst, escape(lst.title if lst is self._all else k))
                 for k, lst in [("", self._all), *((k, self._kinds[k]) for k in kinds)]]
        lists.append(f'<li><a href="lists/recipients.html">Recipients</a> '
                     f"({len(self._recipients)})</li>")
        span = (f"From {escape(sent(entries[0]))} to {escape(sent(entries[-1]))} UTC on the "
                f"rehearsal's clock, series {escape(', '.join(self._counts))}." if entries
                else "No email has been sent yet.")
        latest = range(total, max(0, total - LATEST), -1)
        latest_table = email_table(f"The {len(latest)} latest emails, newest first",
                                   email_rows(entries, latest, root=""))
        options = "".join(f'<option value="{escape(k)}">{escape(k)}</option>' for k in kinds)
        body = (
            f"<h1>Outbox: {total} email{'s' if total != 1 else ''}</h1><p>{span}</p>"
            f'<h2>Lists</h2><ul class="lists">{"".join(lists)}</ul>'
            f"<h2>Emails per session and kind</h2>{self._counts_table(kinds)}"
            '<p class="note">An email about several sessions counts once in each of their '
            "rows; the last row counts every email once. Whole series: emails about no one "
            "session, such as an announcement to everyone. A follow-up is an announcement "
            "with a session's recording, slides or survey.</p>"
            '<h2 id="find-heading">Find emails</h2>'
            '<form class="find" id="find" action="index.html" method="get" hidden '
            'aria-labelledby="find-heading"><div><label for="find-to">Recipient (part of the '
            'address)</label><input id="find-to" name="to" type="search" autocomplete="off">'
            '</div><div><label for="find-kind">Kind</label><select id="find-kind" name="kind">'
            f'<option value="">Any kind</option>{options}</select></div>'
            '<div><button type="submit">Show</button></div></form>'
            "<noscript><p>The search needs JavaScript. Without it, the lists above have every "
            "email by kind and by recipient.</p></noscript>"
            '<div id="found" aria-live="polite"></div>'
            f"<h2>Latest emails</h2>{latest_table}")
        tail = f'<script src="lists/emails.js"></script><script>{_SEARCH}</script>'
        return page(f"Outbox: {total} emails", body, root="", tail=tail)

    def _counts_table(self, kinds: list[str]) -> str:
        head = "".join(f'<th scope="col" class="n">{escape(k)}</th>' for k in kinds)
        groups = []
        for series, sessions in self._counts.items():
            rows = [f'<tr><th scope="rowgroup" colspan="{len(kinds) + 2}">Series '
                    f"{escape(series)}</th></tr>"]
            for session in sorted(sessions, key=lambda s: (s == "", natural(s))):
                counts = sessions[session]
                name = escape(session) if session else "Whole series"
                rows.append(f'<tr><th scope="row">{name}</th>' + "".join(
                    f'<td class="n">{counts[k]}</td>' if counts[k] else
                    '<td class="n zero">0</td>' for k in kinds)
                    + f'<td class="n">{sum(counts.values())}</td></tr>')
            groups.append(f"<tbody>{''.join(rows)}</tbody>")
        foot = "".join(f'<td class="n">{self._totals[k]}</td>' for k in kinds)
        return (f'<div class="scroll" role="region" tabindex="0" aria-label="Emails per '
                f'session and kind"><table class="counts"><caption class="hidden">Emails per '
                f"session and kind</caption>"
                f'<thead><tr><th scope="col">Session</th>{head}<th scope="col" class="n">'
                f"Total</th></tr></thead>{''.join(groups)}<tfoot><tr><th scope=\"row\">"
                f"All emails</th>{foot}<td class=\"n\">{sum(self._totals.values())}</td>"
                f"</tr></tfoot></table></div>")

    def _letter_nav(self, current: str = "") -> str:
        items = "".join(
            f'<li><a href="recipients-{letter}.html"{_CURRENT if letter == current else ""}>'
            f"{_letter_name(letter)}</a> ({len(self._letters[letter])})</li>"
            for letter in sorted(self._letters))
        return (f'<nav aria-label="Recipients by first letter"><ul class="lists letters">{items}'
                "</ul></nav>")

    def _recipients_page(self) -> str:
        body = (f"<h1>Recipients</h1><p>{len(self._recipients)} addresses got email in this "
                "rehearsal. Pick the first letter of an address, then the address for every "
                f"email it got.</p>{self._letter_nav()}")
        return page("Recipients", body, root="../")

    def _letter_page(self, letter: str) -> str:
        rows = []
        for address in sorted(self._letters.get(letter, []), key=str.lower):
            recipient = self._recipients[address]
            kinds = ", ".join(f"{recipient.kinds[k]} {escape(k)}"
                              for k in in_kind_order(recipient.kinds))
            rows.append(f'<tr><th scope="row"><a href="../{recipient.emails.href()}">'
                        f"{escape(address)}</a></th><td class=\"n\">"
                        f'{len(recipient.emails.numbers)}</td><td><span class="wide">{kinds}'
                        "</span></td></tr>")
        title = f"Recipients: {_letter_name(letter)}"
        table = (f'<div class="scroll" role="region" tabindex="0" aria-label="{title}"><table>'
                 f'<caption>{title}</caption><thead><tr><th scope="col">Address</th>'
                 f'<th scope="col" class="n">Emails</th><th scope="col">Kinds</th></tr>'
                 f"</thead><tbody>{''.join(rows)}</tbody></table></div>")
        return page(title, f"<h1>{title}</h1>{self._letter_nav(letter)}{table}", root="../")


_CURRENT = ' aria-current="page"'


def _list_item(lst: _List, name: str) -> str:
    """A list on index.html: its first page, and its newest when it has several."""
    pages = lst.pages()
    newest = f', newest on <a href="{lst.href(pages)}">page {pages}</a>' if pages > 1 else ""
    return f'<li><a href="{lst.href()}">{name}</a> ({len(lst.numbers)}{newest})</li>'


def _letter(address: str) -> str:
    first = address[:1].lower()
    return first if "a" <= first <= "z" else "other"


def _letter_name(letter: str) -> str:
    return "Other" if letter == "other" else letter.upper()


# The search: reads the form's query (the form reloads this page with it) and lists what
# matches from lists/emails.js; built with textContent only, so no text becomes markup.
_SEARCH = """
(function () {
  var form = document.getElementById("find"), rows = window.OUTBOX_EMAILS;
  if (!form || !rows) { return; }
  form.hidden = false;
  var query = new URLSearchParams(location.search);
  var to = (query.get("to") || "").trim(), kind = query.get("kind") || "";
  form.elements.to.value = to;
  form.elements.kind.value = kind;
  if (!to && !kind) { return; }
  var wanted = to.toLowerCase();
  var found = rows.filter(function (r) {
    return (!kind || r[2] === kind) && (!wanted || r[3].toLowerCase().indexOf(wanted) >= 0);
  });
  function cell(row, tag, text, href) {
    var c = document.createElement(tag), inner = c;
    if (href) { inner = document.createElement("a"); inner.href = href; c.appendChild(inner); }
    inner.textContent = text;
    row.appendChild(c);
    return c;
  }
  var out = document.getElementById("found"), heading = document.createElement("h3");
  heading.textContent = found.length + (found.length === 1 ? " email matches" : " emails match");
  heading.tabIndex = -1;
  out.replaceChildren(heading);
  if (found.length > LIMIT) {
    var note = document.createElement("p");
    note.textContent = "The first " + LIMIT + " are shown; narrow the search to see the rest.";
    out.appendChild(note);
  }
  if (found.length) {
    var wrap = document.createElement("div"), table = document.createElement("table");
    table.className = "emails";
    wrap.className = "scroll"; wrap.tabIndex = 0; wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "Matching emails");
    var caption = table.createCaption();
    caption.textContent = "Matching emails, oldest first";
    var head = table.createTHead().insertRow();
    ["No.", "Sent (UTC)", "Kind", "To", "Sessions", "Subject", "File"].forEach(function (t) {
      cell(head, "th", t).scope = "col";
    });
    var body = table.createTBody();
    found.slice(0, LIMIT).forEach(function (r) {
      var row = body.insertRow(), page = "mail/" + String(r[0]).padStart(5, "0") + ".html";
      var number = cell(row, "th", String(r[0]));
      number.scope = "row"; number.className = "n";
      cell(row, "td", r[1]);
      var kindCell = cell(row, "td", "");
      var badge = document.createElement("span");
      badge.className = "kind kind-" + r[2].toLowerCase().replace(/[^a-z0-9-]+/g, "-");
      badge.textContent = r[2];
      kindCell.appendChild(badge);
      cell(row, "td", r[3]);
      cell(row, "td", r[4]); cell(row, "td", r[5], page); cell(row, "td", ".eml", r[6]);
    });
    wrap.appendChild(table);
    out.appendChild(wrap);
  }
  heading.focus();
})();
""".replace("LIMIT", str(FOUND_SHOWN))
