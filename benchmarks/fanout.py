"""One reminder fanned out to N registrants on the local path (moto DynamoDB, in-memory queue):
wall time, emails per second per core, DynamoDB and SQS requests per email, and what 1,000
emails cost on AWS next to SES. Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/fanout.py [--registrants 10000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.mailer import OutgoingMessage
from webinar_notify.core.text import registrant_id
from webinar_notify.local.runtime import LocalRuntime, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file

ROOT = Path(__file__).resolve().parents[1]
S1 = datetime(2023, 10, 26, 13, tzinfo=UTC)
ZONES = ["America/Toronto", "Asia/Riyadh", "Australia/Sydney", "Europe/Copenhagen",
         "America/Sao_Paulo"]

# AWS prices (us-east-1, on-demand) and the assumptions of the cost model.
SES_PER_EMAIL = 0.10 / 1000
LAMBDA_GB_SECOND_ARM = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1e6
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6
SQS_PER_REQUEST = 0.40 / 1e6
SENDER_MEMORY_GB = 0.5
SENDER_WALL_PER_EMAIL_S = 0.08  # SES ~50 ms, a read and two ledger writes, render: assumed
SES_SEND_RATE = 14.0  # the template's defaults: a paced sender waits, and waiting is billed
SENDER_CONCURRENCY = 2
EMAILS_PER_INVOCATION = 10
REGISTRATION_KB = 0.4  # one registration item, as stored


class CountingMailer:
    """Accepts every email (SES stands outside what is measured here)."""

    def __init__(self) -> None:
        self.sent = 0
        self.bytes = 0

    def send(self, message: OutgoingMessage) -> str:
        self.sent += 1
        self.bytes += len(message.raw)
        return f"m{self.sent}"


class AwsCalls:
    """Counts DynamoDB calls and the time spent inside moto answering them."""

    def __init__(self, client: Any) -> None:
        self.count: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self.moto_seconds = 0.0
        self._started = 0.0
        client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", self._keys)
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _keys(self, params: dict[str, Any], **_: Any) -> None:
        """BatchGetItem is charged per key asked for, found or not."""
        self.items["BatchGetItem keys"] += sum(
            len(request["Keys"]) for request in params["RequestItems"].values())

    def _before(self, model: Any, **_: Any) -> None:
        self.count[model.name] += 1
        self._started = time.perf_counter()

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.moto_seconds += time.perf_counter() - self._started
        self.items[model.name] += len(parsed.get("Items", []))


def seed(runtime: LocalRuntime, count: int) -> None:
    """Registrations written straight to the table, 25 per BatchWriteItem, as intake stores
    them (webhooks one by one would measure intake, not the fan-out)."""
    client = runtime.store.client
    registered = int((S1 - timedelta(days=30)).timestamp())
    for start in range(0, count, 25):
        items = []
        for i in range(start, min(start + 25, count)):
            email = f"person{i}@example.org"
            rid = registrant_id("local-development-only", "reirradiation-2023", email)
            items.append({"PutRequest": {"Item": {
                "pk": {"S": "SERIES#reirradiation-2023"}, "sk": {"S": f"REG#{rid}"},
                "email": {"S": email}, "full_name": {"S": f"Person Nº{i}"},
                "time_zone": {"S": ZONES[i % 5]}, "whole_series": {"BOOL": True},
                "status": {"S": "active"}, "last_event": {"N": str(registered)},
                "version": {"N": "1"}, "since": {"M": {"*": {"N": str(registered)}}}}}})
        client.batch_write_item(RequestItems={runtime.store.table: items})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrants", type=int, default=10_000)
    args = parser.parse_args()
    n = args.registrants

    clock = VirtualClock(S1 - timedelta(days=40))
    mailer = CountingMailer()
    with local_runtime(clock, mailer, LocalSettings(webhook_secrets={})) as runtime:
        runtime.push_series(load_series_file(ROOT / "series" / "reirradiation-2023.yaml"))
        seed(runtime, n)
        clock.set(S1 - timedelta(hours=1))
        calls = AwsCalls(runtime.store.client)
        queue_requests_before = runtime.queue.queue.requests  # type: ignore[attr-defined]

        wall, cpu = time.perf_counter(), time.process_time()
        report = runtime.tick()
        scheduled_wall = time.perf_counter() - wall
        runtime.drain()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sqs_requests = runtime.queue.queue.requests - queue_requests_before  # type: ignore[attr-defined]

    emails = mailer.sent
    ours = max(cpu - calls.moto_seconds, 1e-9)
    print(f"registrants: {n:,}; reminder emails sent: {emails:,} "
          f"(enqueued {report['enqueued']:,}); dead letters: {runtime.dead_letters()}")
    print(f"wall time: {wall:.1f} s (scheduler fan-out {scheduled_wall:.1f} s), "
          f"of which inside moto: {calls.moto_seconds:.1f} s")
    print(f"emails/s per core, the project's own code (CPU minus moto): {emails / ours:,.0f}")
    print(f"emails/s per core, everything local including moto: {emails / cpu:,.0f}")
    per_email = {op: c / emails for op, c in sorted(calls.count.items())}
    print("DynamoDB requests per email: "
          + ", ".join(f"{op} {v:.3f}" for op, v in per_email.items())
          + f" (total {sum(calls.count.values()) / emails:.3f})")
    print(f"SQS requests per email (send, receive, delete batches): {sqs_requests / emails:.3f}")

    writes = (calls.count["UpdateItem"] + calls.count["PutItem"]) / emails  # each item < 1 KB
    # Eventually consistent reads: half a unit per 4 KB (Query) or per item (BatchGetItem).
    reads = 0.5 * (calls.items["Query"] * REGISTRATION_KB / 4
                   + calls.items["BatchGetItem keys"]) / emails
    cost = {
        "Lambda (sender GB-s, paced at the SES rate)":
            max(SENDER_WALL_PER_EMAIL_S, SENDER_CONCURRENCY / SES_SEND_RATE)
            * SENDER_MEMORY_GB * LAMBDA_GB_SECOND_ARM * 1000
            + LAMBDA_PER_REQUEST * 1000 / EMAILS_PER_INVOCATION,
        "DynamoDB (writes, reads)": 1000 * (writes * DYNAMODB_PER_WRITE_UNIT
                                            + reads * DYNAMODB_PER_READ_UNIT),
        "SQS": 1000 * (sqs_requests / emails) * SQS_PER_REQUEST,
    }
    ses = 1000 * SES_PER_EMAIL
    print("\ncost per 1,000 emails on AWS (us-east-1, on-demand):")
    for item, usd in cost.items():
        print(f"  {item:<46} ${usd:.5f}")
    total = sum(cost.values())
    share = 100 * total / ses
    print(f"  {'everything but SES':<46} ${total:.5f} = {share:.1f} % of SES (${ses:.2f})")


if __name__ == "__main__":
    main()
