"""The outbox index at scale: the first write of an outbox of N emails (every email's page
rendered once) and the rewrite after one more email (what `serve` does after each request),
at N and at a small baseline N0 in the same run, as ratios. The emails are real: a
confirmation, a reminder, an announcement and a follow-up composed by the renderer, each
hard-linked N/4 times with its log line. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/outbox_index.py [--emails 10000] [--baseline 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from webinar_notify.core import mime
from webinar_notify.core.announcements import Announcement, Audience
from webinar_notify.core.compose import Links, compose
from webinar_notify.core.jobs import EmailJob, EmailKind, delivery_key
from webinar_notify.core.kinds import AnnouncementPayload
from webinar_notify.core.registration import Registrant
from webinar_notify.core.render import Renderer
from webinar_notify.core.series_document import parse_series
from webinar_notify.local.outbox_index import OutboxIndex

ROOT = Path(__file__).resolve().parents[1]
REWRITES = 25  # rewrites timed after one more email each; medians are reported
FIRST = ["ada", "bao", "carmen", "dmitri", "elif", "farid", "greta", "hiro", "ines", "jonas",
         "kwame", "lucia", "mei", "nadia", "omar", "priya", "quentin", "rosa", "sven", "tariq",
         "uma", "vera", "wei", "xavier", "yara", "zoe"]


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str
    announcement: str
    sessions: tuple[str, ...]
    subject: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Figures:
    emails: int
    first_write_s: float
    first_write_bytes: int
    rewrite_s: float  # medians over REWRITES, one more email each
    rewrite_bytes: int
    rewrite_files: int
    index_bytes: int
    largest_list_page: int


def samples() -> list[Sample]:
    """Four emails as the sender composes them (the renderer, calendars and MIME)."""
    series = parse_series(yaml.safe_load(
        (ROOT / "series" / "reirradiation-2023.yaml").read_text(encoding="utf-8")))
    renderer = Renderer(ROOT / "templates")
    now = datetime(2023, 10, 2, 9, tzinfo=UTC)
    links = Links(manage="https://example.org/manage/reirradiation-2023/r0.token",
                  unsubscribe="https://example.org/unsubscribe/reirradiation-2023/r0.token")
    person = Registrant("person@example.org", "Person Nº1", "America/Toronto")
    every = tuple(s.id for s in series.sessions)
    made = []
    kinds: tuple[tuple[EmailKind, tuple[str, ...], str], ...] = (
        ("confirmation", every, ""), ("reminder", every[:1], ""),
        ("announcement", (), "pre-meeting-open"), ("announcement", every[:1], "follow-up-s1"))
    for kind, sessions, announcement in kinds:
        job = EmailJob(kind, series.id, series.revision, "r1", person, sessions,
                       delivery_key(kind, series.id, "r1", announcement, *sessions),
                       payload=AnnouncementPayload(announcement) if announcement else None)
        text = Announcement(announcement, "News", "Hello **all**.", Audience("all"), now) \
            if announcement else None
        email = compose(series, job, now=now, renderer=renderer, links=links,
                        announcement=text)
        made.append(Sample(kind, announcement, sessions, email.subject, mime.build(email)))
    return made


def build_outbox(directory: Path, count: int, made: Sequence[Sample]) -> list[dict[str, object]]:
    """An outbox of ``count`` emails: each a hard link to a sample, with its log line; about
    five emails per recipient, addresses spread over the alphabet."""
    directory.mkdir(parents=True, exist_ok=True)
    originals = []
    for number, sample in enumerate(made):
        original = directory / f"sample-{number}.bin"
        original.write_bytes(sample.raw)
        originals.append(original)
    entries: list[dict[str, object]] = []
    for number in range(1, count + 1):
        which = (number - 1) % len(made)
        sample, person = made[which], (number - 1) // 5
        name = f"{number:05d}-{sample.kind}-reirradiation-2023.eml"
        _link(originals[which], directory / name)
        entry: dict[str, object] = {
            "sent_at": f"2023-10-{2 + number % 27:02d}T13:{number % 60:02d}:00Z",
            "to": f"{FIRST[person % len(FIRST)]}.{person}@example.org", "kind": sample.kind,
            "series": "reirradiation-2023", "sessions": list(sample.sessions),
            "subject": sample.subject, "file": name, "tags": {"kind": sample.kind}}
        if sample.announcement:
            entry["announcement"] = sample.announcement
        entries.append(entry)
    (directory / "log.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    return entries


def measure(directory: Path, count: int, made: Sequence[Sample]) -> Figures:
    entries = build_outbox(directory, count + REWRITES, made)
    index = OutboxIndex(directory)
    first_s = _timed(lambda: index.write(entries[:count]))
    first_bytes = index.last.bytes
    rewrites = []
    for extra in range(1, REWRITES + 1):
        rewrites.append((_timed(lambda n=count + extra: index.write(entries[:n])),
                         index.last.bytes, index.last.files))
    seconds, written, files = (statistics.median(r[i] for r in rewrites) for i in range(3))
    largest = max(p.stat().st_size for p in (directory / "lists").glob("*.html"))
    return Figures(count, first_s, first_bytes, seconds, int(written), int(files),
                   (directory / "index.html").stat().st_size, largest)


def report_lines(small: Figures, large: Figures) -> list[str]:
    def per_email(f: Figures) -> float:
        return f.first_write_s / f.emails * 1e3

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "n/a"

    return [
        f"{'emails':34}{small.emails:>12,}{large.emails:>12,}   ratio",
        f"{'first write, CPU ms per email':34}{per_email(small):>12.3f}{per_email(large):>12.3f}"
        f"   {ratio(per_email(large), per_email(small))}",
        f"{'first write, KiB per email':34}{small.first_write_bytes / small.emails / 1024:>12.1f}"
        f"{large.first_write_bytes / large.emails / 1024:>12.1f}   "
        f"{ratio(large.first_write_bytes / large.emails, small.first_write_bytes / small.emails)}",
        f"{'rewrite after one email, CPU ms':34}{small.rewrite_s * 1e3:>12.2f}"
        f"{large.rewrite_s * 1e3:>12.2f}   {ratio(large.rewrite_s, small.rewrite_s)}",
        f"{'rewrite after one email, KiB':34}{small.rewrite_bytes / 1024:>12.1f}"
        f"{large.rewrite_bytes / 1024:>12.1f}   {ratio(large.rewrite_bytes, small.rewrite_bytes)}",
        f"{'rewrite after one email, files':34}{small.rewrite_files:>12}{large.rewrite_files:>12}",
        f"{'index.html, KiB':34}{small.index_bytes / 1024:>12.1f}{large.index_bytes / 1024:>12.1f}"
        f"   {ratio(large.index_bytes, small.index_bytes)}",
        f"{'largest list page, KiB':34}{small.largest_list_page / 1024:>12.1f}"
        f"{large.largest_list_page / 1024:>12.1f}",
    ]


def run(emails: int, baseline: int, echo: Callable[[str], None] = print) -> tuple[Figures, Figures]:
    made = samples()
    with tempfile.TemporaryDirectory(prefix="outbox-index-") as scratch:
        measure(Path(scratch) / "warm-up", 10, made)  # imports and caches, not measured
        small = measure(Path(scratch) / "small", baseline, made)
        large = measure(Path(scratch) / "large", emails, made)
    for line in report_lines(small, large):
        echo(line)
    return small, large


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=400, help="N (default 400)")
    parser.add_argument("--baseline", type=int, default=100, help="N0 (default 100)")
    args = parser.parse_args(argv)
    if not 0 < args.baseline < args.emails:
        parser.error("give 0 < --baseline < --emails")
    run(args.emails, args.baseline)


def _timed(work: Callable[[], object]) -> float:
    """CPU seconds of this process, the kernel's file work included: other processes on a
    shared machine disturb it less than wall time."""
    started = time.process_time()
    work()
    return time.process_time() - started


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        target.write_bytes(source.read_bytes())


if __name__ == "__main__":
    main()
