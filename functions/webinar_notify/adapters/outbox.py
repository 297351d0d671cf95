"""The local outbox: every email as a .eml file, a log.jsonl line, and a browsable index.html.

It stands in for SES in the local runner, so an organiser can read every email of a series
before anything goes live.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .clock import Clock
from .mailer import OutgoingMessage

if TYPE_CHECKING:
    from ..local.outbox_index import OutboxIndex


class OutboxMailer:
    def __init__(self, directory: Path, clock: Clock) -> None:
        self.directory = directory
        self.clock = clock
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "log.jsonl"
        self._lock = threading.Lock()
        self._entries: list[dict[str, object]] = self._read_log()
        self._index: OutboxIndex | None = None

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
            if message.announcement:  # which announcement (a follow-up's id says it is one)
                entry["announcement"] = message.announcement
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._entries.append(entry)
            return f"outbox-{number:05d}"

    def entries(self) -> list[dict[str, object]]:
        """Every email in the outbox, oldest first (a copy)."""
        with self._lock:
            return list(self._entries)

    def _read_log(self) -> list[dict[str, object]]:
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]

    def write_index(self) -> Path:
        """Bring index.html and the pages it links to up to date (local/outbox_index.py); a
        write after a few new emails touches only the pages they change."""
        if self._index is None:
            from ..local.outbox_index import OutboxIndex  # the local runner's, not the mailer's

            self._index = OutboxIndex(self.directory)
        return self._index.write(self.entries())


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
