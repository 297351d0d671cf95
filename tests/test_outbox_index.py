"""The outbox index for an organiser (local/outbox_index.py): counts per kind and session,
lists per kind and per recipient and a search over them, follow-ups shown as follow-ups, every
email's header block on its own page, no page with more than one rendered email, rewrites
that touch only what changed, and the outbox's log and .eml files as before. The emails are
real ones from the renderer (benchmarks/outbox_index.py composes them); one test sends a
follow-up through the whole local stack, and one reads the pages in chromium with axe-core."""

from __future__ import annotations

import email
import email.policy
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, SERIES_ID, SHOTS, Harness, headless_chromium
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.mailer import OutgoingMessage
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.local import outbox_index

sys.path.insert(0, str(ROOT / "benchmarks"))

import outbox_index as bench  # benchmarks/outbox_index.py, not the package's module

SAMPLES = bench.samples()
CONFIRMATION, REMINDER, ANNOUNCEMENT, FOLLOW_UP = SAMPLES
EVERY = CONFIRMATION.sessions


class Page(HTMLParser):
    """The tables (by caption), links and frames of one page, as a reader gets them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self.frames = 0
        self.text: list[str] = []
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._name = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []
        elif tag in ("a", "link", "script") and (found.get("href") or found.get("src")):
            self.links.append(str(found.get("href") or found.get("src")))
        elif tag == "iframe":
            self.frames += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self._name = "".join(self._caption).strip()
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._name] = self._rows
            self._rows = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for part in (self._caption, self._cell):
            if part is not None:
                part.append(data)


def page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def send(outbox: OutboxMailer, sample: bench.Sample, to: str) -> str:
    return outbox.send(OutgoingMessage(raw=sample.raw, sender="webinars@estro.example", to=to,
                                kind=sample.kind, series_id=SERIES_ID,
                                session_ids=sample.sessions, subject=sample.subject,
                                delivery_key=f"{sample.kind}#{to}",
                                announcement=sample.announcement))


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxMailer:
    """Seven emails: two confirmations, three reminders, an announcement, a follow-up."""
    mailer = OutboxMailer(tmp_path / "outbox", VirtualClock(datetime(2023, 10, 2, tzinfo=UTC)))
    for sample, to in ((CONFIRMATION, "ada@example.org"), (CONFIRMATION, "bao@example.org"),
                       (REMINDER, "ada@example.org"), (REMINDER, "bao@example.org"),
                       (REMINDER, "carmen@example.org"), (ANNOUNCEMENT, "ada@example.org"),
                       (FOLLOW_UP, "bao@example.org")):
        send(mailer, sample, to)
    return mailer


def test_counts_per_session_and_kind_with_totals(outbox: OutboxMailer) -> None:
    index = page(outbox.write_index())
    [header, group, *rows, totals] = index.tables["Emails per session and kind"]

    assert header == ["Session", "confirmation", "reminder", "announcement", "follow-up",
                      "Total"]
    assert group == [f"Series {SERIES_ID}"]
    counted = {row[0]: row[1:] for row in rows}
    assert REMINDER.sessions == FOLLOW_UP.sessions == ("s1",)
    assert counted["s1"] == ["2", "3", "0", "1", "6"]
    assert all(counted[s] == ["2", "0", "0", "0", "2"] for s in EVERY[1:])
    assert counted["Whole series"] == ["0", "0", "1", "0", "1"]
    assert list(counted) == [*EVERY, "Whole series"]  # s2 before s10
    assert totals == ["All emails", "2", "3", "1", "1", "7"]  # each email once


def test_a_list_per_kind_and_per_recipient_and_the_search_data(outbox: OutboxMailer) -> None:
    outbox.write_index()
    lists = outbox.directory / "lists"

    def numbers(path: Path) -> list[str]:
        return [row[0] for row in next(iter(page(path).tables.values()))[1:]]

    assert numbers(lists / "kind-reminder-1.html") == ["3", "4", "5"]
    assert numbers(lists / "kind-follow-up-1.html") == ["7"]
    assert numbers(lists / "kind-announcement-1.html") == ["6"]  # the follow-up is not here
    assert numbers(lists / "all-1.html") == [str(n) for n in range(1, 8)]
    letter = page(lists / "recipients-b.html")
    [row] = letter.tables["Recipients: B"][1:]
    assert row == ["bao@example.org", "3", "1 confirmation, 1 reminder, 1 follow-up"]
    to_bao = next(link for link in letter.links if "to-" in link)
    assert numbers(lists / to_bao.removeprefix("../lists/")) == ["2", "4", "7"]
    assert {a for a in page(lists / "recipients.html").links if "recipients-" in a} == {
        "recipients-a.html", "recipients-b.html", "recipients-c.html"}

    script = (lists / "emails.js").read_text(encoding="ascii").splitlines()
    assert script[0] == "var OUTBOX_EMAILS = [];"
    rows = [json.loads(line.removeprefix("OUTBOX_EMAILS.push(").removesuffix(");"))
            for line in script[1:]]
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (n, "follow-up" if e.get("announcement") == FOLLOW_UP.announcement else e["kind"],
         e["to"]) for n, e in enumerate(outbox.entries(), start=1)]


def test_each_email_page_has_the_headers_an_organiser_checks(outbox: OutboxMailer) -> None:
    outbox.write_index()
    mail = outbox.directory / "mail"
    for number, entry in enumerate(outbox.entries(), start=1):
        raw = (outbox.directory / str(entry["file"])).read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        shown = (mail / f"{number:05d}.html").read_text(encoding="utf-8")
        text = " ".join("".join(Page(shown).text).split())
        assert f"Message-ID{message['Message-ID']}" in text
        assert f"Subject{message['Subject']}" in text
        assert f"From{message['From']}" in text and f"Reply-To{message['Reply-To']}" in text
        if entry["kind"] in ("reminder", "announcement"):
            unsubscribe = " ".join(str(message["List-Unsubscribe"]).split())
            assert f"List-Unsubscribe{unsubscribe}" in text
            assert "List-Unsubscribe-PostList-Unsubscribe=One-Click" in text
        else:
            assert "List-Unsubscribenone" in text and "List-Unsubscribe-Postnone" in text
    follow_up = " ".join("".join(page(mail / "00007.html").text).split())
    assert "Email 7 · follow-up · " in follow_up and "announcement follow-up-s1" in follow_up
    assert "Email 6 · announcement · " in "".join(page(mail / "00006.html").text)


def test_no_page_renders_more_than_one_email_and_every_link_leads_somewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_index, "PAGE_ROWS", 5)
    mailer = OutboxMailer(tmp_path / "outbox", VirtualClock(datetime(2023, 10, 2, tzinfo=UTC)))
    for n in range(23):
        send(mailer, SAMPLES[n % 4], f"person{n % 6}@example.org")
        if n in (0, 9, 22):  # as serve does after requests
            mailer.write_index()
    pages = sorted(mailer.directory.rglob("*.html"))
    mail = [p for p in pages if p.parent.name == "mail"]

    assert [p.stem for p in mail] == [f"{n:05d}" for n in range(1, 24)]
    assert all(page(p).frames == 1 for p in mail)
    assert all(page(p).frames == 0 for p in pages if p not in mail)
    listed = []
    for number in range(1, 6):
        tables = page(mailer.directory / "lists" / f"all-{number}.html").tables
        [rows] = tables.values()
        assert len(rows) - 1 <= 5
        listed += [int(row[0]) for row in rows[1:]]
    assert listed == list(range(1, 24))
    assert not (mailer.directory / "lists" / "all-6.html").exists()
    for path in pages:  # pagers, lists, crumbs, .eml files, the search's script
        for link in page(path).links:
            if link.startswith("#"):
                assert f'id="{link[1:]}"' in path.read_text(encoding="utf-8")
                continue
            target = (path.parent / link.split("?")[0]).resolve()
            assert target.is_file(), f"{path.name} links to {link}"


def test_a_rewrite_touches_only_what_the_new_email_changed(outbox: OutboxMailer) -> None:
    outbox.write_index()
    before = {p: p.stat().st_mtime_ns for p in outbox.directory.rglob("*.html")}
    send(outbox, REMINDER, "avery@example.org")  # a new recipient, under a letter already seen
    outbox.write_index()
    changed = {p.relative_to(outbox.directory).as_posix()
               for p in outbox.directory.rglob("*.html")
               if before.get(p) != p.stat().st_mtime_ns}

    assert changed == {"index.html", "mail/00008.html", "lists/all-1.html",
                       "lists/kind-reminder-1.html", "lists/to-4-1.html",
                       "lists/recipients-a.html", "lists/recipients.html"}
    assert outbox_index.LATEST < 10 ** 4  # index.html holds a bounded number of rows


def test_a_new_run_in_the_same_folder_leaves_nothing_of_the_last(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    first = OutboxMailer(folder, VirtualClock(datetime(2023, 10, 2, tzinfo=UTC)))
    for n in range(5):
        send(first, REMINDER, f"old{n}@example.org")
    first.write_index()
    for stale in (folder / "log.jsonl", *folder.glob("*.eml")):  # as simulate empties it
        stale.unlink()
    second = OutboxMailer(folder, VirtualClock(datetime(2023, 10, 2, tzinfo=UTC)))
    send(second, FOLLOW_UP, "new@example.org")
    second.write_index()

    assert sorted(p.name for p in (folder / "mail").glob("*.html")) == ["00001.html"]
    assert "follow-up" in "".join(page(folder / "mail" / "00001.html").text)
    everything = "".join(p.read_text(encoding="utf-8") for p in folder.rglob("*.html"))
    assert "old0@" not in everything and "new@example.org" in everything
    restarted = OutboxMailer(folder, VirtualClock(datetime(2023, 10, 2, tzinfo=UTC)))
    kept = (folder / "mail" / "00001.html").stat().st_mtime_ns
    restarted.write_index()  # a restart over the same log keeps each email's page
    assert (folder / "mail" / "00001.html").stat().st_mtime_ns == kept


def test_the_log_and_eml_files_are_as_before(outbox: OutboxMailer) -> None:
    lines = [json.loads(line) for line in outbox.log_path.read_text().splitlines()]
    assert lines == outbox.entries()
    assert set(lines[0]) == {"sent_at", "to", "kind", "series", "sessions", "subject", "file",
                             "tags"}
    assert lines[6]["announcement"] == "follow-up-s1"
    assert lines[0]["file"] == f"00001-confirmation-{SERIES_ID}.eml"
    assert (outbox.directory / lines[0]["file"]).read_bytes() == CONFIRMATION.raw
    assert send(outbox, REMINDER, "x@example.org") == "outbox-00008"
    assert OutboxMailer(outbox.directory, outbox.clock).entries()[-1]["to"] == "x@example.org"


def test_names_and_subjects_are_text_everywhere(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox", VirtualClock(datetime(2023, 10, 2, tzinfo=UTC)))
    hostile = "<script>alert(1)</script> & \u2028</script>"
    mailer.send(OutgoingMessage(raw=REMINDER.raw, sender="s@estro.example",
                                to='"<b>x</b>"@example.org', kind="reminder",
                                series_id=SERIES_ID, session_ids=("s1",), subject=hostile))
    mailer.write_index()
    for path in mailer.directory.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert "<script>alert" not in html and "<b>x</b>" not in html
    script = (mailer.directory / "lists" / "emails.js").read_text(encoding="ascii")
    assert json.loads(script.splitlines()[1][len("OUTBOX_EMAILS.push("):-2])[5] == hostile


def test_a_follow_up_sent_through_the_local_stack_is_shown_as_one(harness: Harness) -> None:
    harness.register_many(2, sessions=["s1"])
    harness.clock.set(datetime(2023, 10, 27, 9, 0, tzinfo=UTC))
    for path, body, key in (
            ("/follow-ups", {"session": "s1", "recording_url": "https://estro.example/r1"},
             "follow-up-s1"),
            ("/announcements", {"id": "glasgow", "subject": "Glasgow", "body_markdown": "Hi.",
                                "audience": {"all": True}}, "glasgow")):
        answer = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}{path}", body,
                                           idempotency_key=key)
        assert answer.status == 202, answer.body
    harness.runtime.drain()
    harness.outbox.write_index()
    lists = harness.outbox_dir / "lists"

    kinds = [row[2] for row in page(lists / "all-1.html").tables["All emails"][1:]]
    assert kinds.count("follow-up") == 2 and kinds.count("announcement") == 2
    assert {str(e.get("announcement")) for e in harness.outbox.entries()
            if e["kind"] == "announcement"} == {"follow-up-s1", "glasgow"}


# --- in a browser ------------------------------------------------------------------------

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with headless_chromium("1280,900") as driver:
        yield driver


@pytest.mark.parametrize("width", [1280, 375])
def test_the_pages_in_a_browser_search_and_pass_axe(outbox: OutboxMailer, chromium: object,
                                                    width: int) -> None:
    from selenium.webdriver.common.by import By

    driver: object = chromium
    index = outbox.write_index()
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    driver.get(index.as_uri() + "?to=BAO&kind=reminder")  # type: ignore[attr-defined]
    found = driver.find_element(By.ID, "found")  # type: ignore[attr-defined]
    assert found.find_element(By.TAG_NAME, "h3").text == "1 email matches"
    [row] = found.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert row.text.split()[0] == "4" and "bao@example.org" in row.text
    form = driver.find_element(By.ID, "find")  # type: ignore[attr-defined]
    assert form.is_displayed()
    width_used = driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth")
    assert width_used <= width  # wide tables scroll inside their own region
    driver.save_screenshot(str(SHOTS / f"outbox-index-{width}.png"))  # type: ignore[attr-defined]
    problems = _axe(driver)
    for name in ("mail/00007.html", "lists/all-1.html", "lists/recipients-b.html"):
        driver.get((outbox.directory / name).as_uri())  # type: ignore[attr-defined]
        problems += _axe(driver)
        assert driver.execute_script(  # type: ignore[attr-defined]
            "return document.documentElement.scrollWidth") <= width
    driver.get((outbox.directory / "mail/00007.html").as_uri())  # type: ignore[attr-defined]
    driver.save_screenshot(str(SHOTS / f"outbox-email-{width}.png"))  # type: ignore[attr-defined]
    assert problems == []


def _axe(driver: object) -> list[str]:
    """axe-core's serious and critical violations of WCAG 2.2 A and AA, one line each."""
    import os

    if not AXE.is_file():
        if os.environ.get("WEBINAR_NOTIFY_REQUIRE_BROWSER"):
            pytest.fail("axe-core is missing and this run requires it")
        return []
    driver.execute_script(AXE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    result = driver.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', nodes: []}])));")
    return [f"{v['impact']} {v['id']} at {[n['target'] for n in v['nodes'][:2]]}"
            for v in json.loads(result) if v["impact"] in ("serious", "critical")]


def test_the_benchmark_runs_small() -> None:
    lines: list[str] = []
    small, large = bench.run(24, 8, echo=lines.append)

    assert (small.emails, large.emails) == (8, 24)
    assert lines[0].split()[:3] == ["emails", "8", "24"]
    assert len(lines) == 8
    assert small.rewrite_files == large.rewrite_files <= 8  # the same few files at any size
    assert small.index_bytes == pytest.approx(large.index_bytes, rel=0.25)
    with pytest.raises(SystemExit):
        bench.main(["--emails", "10", "--baseline", "10"])
    assert re.match(r"first write, CPU ms per email\s+[\d.]+\s+[\d.]+\s+[\d.]+$", lines[1])
