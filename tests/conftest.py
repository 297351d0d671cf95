"""Fixtures: the real handlers on moto, with resources built from infra/template.yaml."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.signatures import sign
from webinar_notify.core.text import registrant_id
from webinar_notify.local.runtime import HttpAnswer, LocalRuntime, LocalSettings, local_runtime
from webinar_notify.local.scenario import load_series_file

# No test may reach AWS: moto answers everything, and these credentials are fake.
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "eu-west-1", "AWS_SESSION_TOKEN": "testing"})
os.environ.pop("AWS_PROFILE", None)

ROOT = Path(__file__).resolve().parents[1]
SERIES_FILE = ROOT / "series" / "reirradiation-2023.yaml"
SECRET = "test-webhook-secret"
SERIES_ID = "reirradiation-2023"
WEBHOOK = f"/webhooks/generic/{SERIES_ID}"
START = datetime(2023, 10, 2, 9, 0, tzinfo=UTC)


@dataclass
class Harness:
    runtime: LocalRuntime
    clock: VirtualClock
    outbox: OutboxMailer
    outbox_dir: Path

    def post(self, body: bytes, *, secret: str = SECRET, timestamp: int | None = None,
             headers: dict[str, str] | None = None, path: str = WEBHOOK) -> HttpAnswer:
        t = int(self.clock.now().timestamp()) if timestamp is None else timestamp
        all_headers = {"Content-Type": "application/json",
                       "Webinar-Signature": sign(secret, t, body)}
        all_headers.update(headers or {})
        return self.runtime.request("POST", path, all_headers, body)

    def register(self, email: str = "ada@example.com", name: str = "Ada Lovelace",
                 event_id: str = "evt-1", **data: Any) -> HttpAnswer:
        return self.post(registration_body(email, name, event_id, created=self.clock.now(),
                                           **data))

    def register_many(self, count: int, prefix: str = "person", **data: Any) -> list[str]:
        """``count`` registrations (accepted, confirmations sent); their addresses."""
        addresses = [f"{prefix}{i}@example.org" for i in range(count)]
        for i, address in enumerate(addresses):
            answer = self.register(email=address, name=f"P{i}", event_id=f"evt-{prefix}-{i}",
                                   **data)
            assert answer.status == 202, answer.body
        self.runtime.drain()
        return addresses

    def link(self, pattern: str, *, kind: str | None = None, to: str | None = None) -> str:
        """The first group of ``pattern`` in the plain text of the first email sent (of this
        kind, to this address): a personal link as a registrant would follow it."""
        self.runtime.drain()
        entry = next(e for e in self.outbox.entries()
                     if kind in (None, e["kind"]) and to in (None, e["to"]))
        message = email.message_from_bytes((self.outbox_dir / str(entry["file"])).read_bytes(),
                                           policy=email.policy.default)
        text = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        match = re.search(pattern, text)
        assert match, text
        return match.group(1)

    def registration(self, address: str) -> Any:
        rid = registrant_id("local-development-only", SERIES_ID, address)
        return self.runtime.store.get_registration(SERIES_ID, rid)

    def update_registration(self, address: str, **changes: Any) -> None:
        """Set what the self-service pages set (e.g. reminders_off), straight in the store."""
        registration = self.registration(address)
        assert registration is not None
        self.runtime.store.put_registration(replace(registration, **changes), self.clock.now())

    def items(self, prefix: str) -> list[dict[str, Any]]:
        """Every table item whose sort key starts with prefix (a test may scan; the code not)."""
        import boto3

        client = boto3.client("dynamodb", region_name="eu-west-1")
        items = client.scan(TableName=self.runtime.resources.table)["Items"]
        return [i for i in items if i["sk"]["S"].startswith(prefix)]

    def queued(self) -> int:
        return self.runtime.queue.depth()


def registration_body(email: str, name: str, event_id: str, *, created: datetime,
                      event_type: str = "registration.created", **data: Any) -> bytes:
    registrant = {"email": email, "full_name": name}
    if "time_zone" in data:
        registrant["time_zone"] = data.pop("time_zone")
    return json.dumps({"id": event_id, "type": event_type, "created": int(created.timestamp()),
                       "data": {"registrant": registrant, **data}}).encode()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    clock = VirtualClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    settings = LocalSettings(webhook_secrets={"generic": SECRET}, quiet=False)
    with local_runtime(clock, outbox, settings) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        yield Harness(runtime, clock, outbox, tmp_path / "outbox")


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each request atomically; moto does not lock, so make each request
    atomic as the real service does, and let concurrent callers interleave between requests."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def atomic(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", atomic)
