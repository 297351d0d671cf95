"""The local outbox: every email as a .eml file, a log.jsonl line, and a browsable index.html.

It stands in for SES in the local runner, so an organiser can read every email of a series
before anything goes live.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import threading
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from .clock import Clock
from .mailer import OutgoingMessage


class OutboxMailer:
    def __init__(self, directory: Path, clock: Clock) -> None:
        self.directory = directory
        self.clock = clock
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "log.jsonl"
        self._lock = threading.Lock()
        self._entries: list[dict[str, object]] = self._read_log()
        self._sections: dict[str, str] = {}  # file -> its rendered section (files never change)

    def send(self, message: OutgoingMessage) -> str:
        with self._lock:
            number = len(self._entries) + 1
            sent_at = self.clock.now()
            name = f"{number:05d}-{message.kind}-{message.series_id}.eml"
            (self.directory / name).write_bytes(message.raw)
            entry: dict[str, object] = {
                "sent_at": _iso(sent_at), "to": message.to, "kind": message.kind,
                "series": message.series_id, "sessions": list(message.session_ids),
                "subject": message.subject, "file": name, "tags": message.tags()}
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._entries.append(entry)
            return f"outbox-{number:05d}"

    def entries(self) -> list[dict[str, object]]:
        """Every email in the outbox, oldest first (a copy)."""
        return list(self._entries)

    def _read_log(self) -> list[dict[str, object]]:
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]

    def write_index(self) -> Path:
        """Write index.html: a table of every email, and each one rendered below it."""
        entries = self.entries()
        rows = "".join(
            f"<tr><td>{html.escape(str(e['sent_at']))}</td><td>{html.escape(str(e['kind']))}</td>"
            f"<td>{html.escape(str(e['to']))}</td><td>{html.escape(', '.join(e['sessions']))}"  # type: ignore[arg-type]
            f"</td><td><a href=\"#m{i}\">{html.escape(str(e['subject']))}</a></td>"
            f"<td><a href=\"{html.escape(str(e['file']))}\">.eml</a></td></tr>"
            for i, e in enumerate(entries))
        shown = "".join(self._section(i, e) for i, e in enumerate(entries))
        page = _PAGE.format(count=len(entries), rows=rows, shown=shown)
        path = self.directory / "index.html"
        path.write_text(page, encoding="utf-8")
        return path

    def _section(self, index: int, entry: dict[str, object]) -> str:
        """Each email is rendered once, so rewriting the index after every email stays cheap."""
        key = f"{index}:{entry['file']}"
        if key not in self._sections:
            self._sections[key] = self._rendered(index, entry)
        return self._sections[key]

    def _rendered(self, index: int, entry: dict[str, object]) -> str:
        raw = (self.directory / str(entry["file"])).read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("html",))
        text = message.get_body(("plain",))
        frame = html.escape(body.get_content() if body else "", quote=True)
        calendars = [
            f"<details><summary>{html.escape(part.get_filename() or 'calendar')}</summary>"
            f"<pre>{html.escape(_text(part.get_content()))}</pre></details>"
            for part in message.iter_attachments()]
        headers = "".join(f"<dt>{name}</dt><dd>{html.escape(str(message[name] or ''))}</dd>"
                          for name in ("From", "To", "Reply-To", "Subject", "Date"))
        return (f"<section id=\"m{index}\"><h2>{html.escape(str(entry['subject']))}</h2>"
                f"<dl>{headers}</dl><iframe sandbox srcdoc=\"{frame}\"></iframe>"
                f"<details><summary>Plain text</summary><pre>"
                f"{html.escape(text.get_content() if text else '')}</pre></details>"
                f"{''.join(calendars)}</section>")


def _text(content: object) -> str:
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>webinar-notify outbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
td, th {{ border-bottom: 1px solid #e4e7eb; padding: 4px 8px; text-align: left; }}
section {{ margin: 3rem 0; border-top: 3px solid #0b5c8e; }}
iframe {{ width: 100%; height: 640px; border: 1px solid #e4e7eb; }}
dl {{ display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }}
dt {{ font-weight: bold; }} dd {{ margin: 0; }}
pre {{ background: #f4f5f7; padding: 8px; overflow-x: auto; }}
</style></head><body>
<h1>Outbox: {count} emails</h1>
<table><tr><th>sent (UTC)</th><th>kind</th><th>to</th><th>sessions</th><th>subject</th>
<th>file</th></tr>{rows}</table>
{shown}
</body></html>
"""
