"""A fault soak of the send path: one reminder to N registrants through the real scheduler,
sender handler, ledger (moto DynamoDB) and SES mailer, while an SES stand-in fails on purpose
and the queue delivers every batch twice. Prints what became of every email.

Each SES call, drawn from a seeded random generator:

- 20 % fail before SES accepted the email (a connection error);
- 10 % are throttled (SES's TooManyRequestsException);
-  5 % are accepted, and then the sender dies before it notes the send in its batch's sent
  log: the claim stays until its lease runs out, and the email is sent again after it;
- the rest are accepted.

How a crash ends: by default that email's handling stops there (an error after SES's answer,
before the sent log noted it; the rest of the batch goes on). With ``--crash-kills-invocation``
the whole process dies instead, as a Lambda timeout or running out of memory would: no code of
ours runs after that, not even the handler's batch report, so every message of the batch comes
back after the visibility timeout, one receive nearer the dead-letter queue; and the emails its
sent log had not yet written out (at most FLUSH_EMAILS) are sent again after the lease too.

The ledger is the real DynamoLedger on moto's DynamoDB, and the send-time look-up (suppression,
registration, erasure) the real store's; ``--in-memory`` puts both in memory (the ledger's local
stand-in, which its contract test holds to the same rules, and the registrations read once) to
soak ten times faster, as the test suite does.

Every batch the queue hands out is delivered to two sender invocations, one after the other,
as SQS's at-least-once delivery may do: each delivery counts as a receive, and a message
returns to the queue (after the 360 s visibility timeout) if either delivery failed it, or
goes to the dead-letter queue if it failed after its fifth receive. Virtual time jumps to the
next visible message whenever the queue has nothing visible, so leases and delays pass as they
would.

The promise under test: nothing lost, nothing dead-lettered, and a duplicate only for each
crash after SES accepted (the one documented window), and for a dead invocation at most the
FLUSH_EMAILS more its sent log had not written.

    .venv/bin/python benchmarks/fault_soak.py [--emails 1000] [--seed 4] [--in-memory]
                                              [--crash-kills-invocation]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import random
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from webinar_notify import bootstrap
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.ledger import (
    FLUSH_EMAILS,
    ClaimResult,
    Ledger,
    MemoryLedger,
    SentLog,
)
from webinar_notify.adapters.mail_counts import MailTally
from webinar_notify.adapters.mailer import SesMailer
from webinar_notify.adapters.memory_queue import MemoryQueue, QueuedMessage
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.registration import Registration
from webinar_notify.core.send_check import Recipient
from webinar_notify.local.events import LocalContext, sqs_event
from webinar_notify.local.runtime import LocalRuntime, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import seed  # registrations written straight to the table

ROOT = Path(__file__).resolve().parents[1]
S1 = datetime(2023, 10, 26, 13, tzinfo=UTC)
FAIL_BEFORE, THROTTLE, CRASH_AFTER = 0.20, 0.10, 0.05
VISIBILITY_TIMEOUT = timedelta(seconds=360)  # infra/template.yaml
DELIVERIES_PER_BATCH = 2
MAX_ROUNDS = 100_000


class ProcessDied(BaseException):
    """The sender's process ends here: nothing after it runs, nothing is written."""


class SenderDied(RuntimeError):
    """This email's handling ends here, after SES's answer and before the ledger write."""


class FaultySes:
    """An SES v2 client that fails on purpose, and remembers whom it accepted mail for."""

    def __init__(self, rng: random.Random, *, crash_kills_invocation: bool) -> None:
        self.rng = rng
        self.crash_kills_invocation = crash_kills_invocation
        self.dying = False  # accepted, and the sender dies before it can record that
        self.accepted: list[str] = []
        self.counts: Counter[str] = Counter()

    def send_email(self, **request: Any) -> dict[str, str]:
        self.counts["calls"] += 1
        draw = self.rng.random()
        if draw < FAIL_BEFORE:
            self.counts["failed before send"] += 1
            raise EndpointConnectionError(endpoint_url="https://email.eu-west-1.amazonaws.com")
        if draw < FAIL_BEFORE + THROTTLE:
            self.counts["throttled"] += 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException",
                                         "Message": "Maximum sending rate exceeded."}},
                              "SendEmail")
        self.accepted.append(request["Destination"]["ToAddresses"][0])
        if draw < FAIL_BEFORE + THROTTLE + CRASH_AFTER:
            self.counts["crashed after send"] += 1
            if self.crash_kills_invocation:
                raise ProcessDied
            self.dying = True
        return {"MessageId": f"ses-{len(self.accepted)}"}


class DyingLedger:
    """The sender's ledger, except that the send SES accepted just before a crash is never
    noted in its batch's sent log: its claim stays as it was."""

    def __init__(self, inner: Ledger, ses: FaultySes) -> None:
        self.inner = inner
        self.ses = ses

    def sent_log(self, now: datetime) -> SentLog:
        log = self.inner.sent_log(now)
        noted, ses = log.sent, self.ses

        def sent(job: EmailJob) -> None:
            if ses.dying:
                ses.dying = False
                raise SenderDied("the sender died before noting the send")
            noted(job)

        log.sent = sent  # type: ignore[method-assign]
        return log

    def claim(self, job: EmailJob, now: datetime, lease: timedelta,
              log: SentLog) -> ClaimResult:
        return self.inner.claim(job, now, lease, log)

    def count(self, tally: MailTally) -> None:
        self.inner.count(tally)

    def release(self, job: EmailJob, log: SentLog) -> None:
        self.inner.release(job, log)

    def expire(self, job: EmailJob, now: datetime) -> bool:
        return self.inner.expire(job, now)


class RegisteredRecipients:
    """The send-time look-up, without moto: nobody in the soak bounced, cancelled or was
    erased, so each answer is the registration as seeded, read once before the drain."""

    def __init__(self, runtime: LocalRuntime, series_id: str) -> None:
        self.registrations: dict[str, Registration] = {}
        cursor: dict[str, Any] | None = None
        while True:
            page, cursor = runtime.store.registrations_page(series_id, cursor, 500)
            self.registrations |= {r.registrant_id: r for r in page}
            if cursor is None:
                break

    def recipient(self, series_id: str, registrant_id: str, suppression_id: str,
                  session_ids: Sequence[str] = ()) -> Recipient:
        return Recipient(False, self.registrations.get(registrant_id), False)


@dataclass(frozen=True, slots=True)
class SoakReport:
    intended: int
    delivered: int  # distinct recipients SES accepted mail for
    sends: int  # everything SES accepted, duplicates included
    lost: int
    dead_letters: int
    left_in_queue: int
    ses_calls: int
    failed_before_send: int
    throttled: int
    crashed_after_send: int
    receives: int  # messages handed to a sender invocation, each delivery counted
    receive_requests: int
    empty_receives: int  # receive requests that found nothing visible: the clock moved on
    invocations: int
    sqs_requests: int  # what the same traffic costs on SQS: sends, receives, deletes
    virtual_time: timedelta
    wall_seconds: float

    @property
    def duplicates(self) -> int:
        return self.sends - self.delivered

    def lines(self) -> list[str]:
        return [
            f"emails intended:             {self.intended:>7,}",
            f"delivered (unique):          {self.delivered:>7,}",
            f"lost:                        {self.lost:>7,}",
            f"in the dead-letter queue:    {self.dead_letters:>7,}",
            f"left in the queue:           {self.left_in_queue:>7,}",
            f"duplicates:                  {self.duplicates:>7,}",
            f"crashes after SES accepted:  {self.crashed_after_send:>7,}",
            f"failures before the send:    {self.failed_before_send:>7,}",
            f"SES throttling:              {self.throttled:>7,}",
            f"SES calls:                   {self.ses_calls:>7,}",
            f"SQS receives (messages):     {self.receives:>7,}"
            f"  in {self.receive_requests:,} receive requests, "
            f"{self.invocations:,} sender invocations",
            f"SQS requests:                {self.sqs_requests:>7,}"
            f"  ({self.sqs_requests / max(self.intended, 1):.2f} per email)",
            f"virtual time:                {self.virtual_time}",
            f"wall time:                   {self.wall_seconds:>7.1f} s",
        ]


def run(emails: int = 1000, seed_value: int = 4, *, in_memory: bool = False,
        crash_kills_invocation: bool = False) -> SoakReport:
    clock = VirtualClock(S1 - timedelta(days=40))
    rng = random.Random(seed_value)  # noqa: S311 (faults, not secrets)
    ses = FaultySes(rng, crash_kills_invocation=crash_kills_invocation)
    mailer = SesMailer(ses, "webinar-notify")  # type: ignore[arg-type]
    with local_runtime(clock, mailer, LocalSettings(webhook_secrets={})) as runtime:
        logging.getLogger("webinar-notify").setLevel(logging.CRITICAL)  # faults log, by design
        sender = bootstrap.services().sender
        sender.ledger = DyingLedger(MemoryLedger() if in_memory else sender.ledger, ses)
        # Every registrant at the 7-day reminder's own moment (no quiet hours): one fan-out.
        series = replace(load_series_file(ROOT / "series" / "reirradiation-2023.yaml"),
                         quiet_hours=None)
        runtime.push_series(series)
        seed(runtime, emails)
        if in_memory:
            sender.recipients = RegisteredRecipients(runtime, series.id)
        clock.set(S1 - timedelta(days=7))  # the 7-day reminder: open for six days
        wall = time.perf_counter()
        started = clock.now()
        enqueued = int(runtime.tick()["enqueued"])
        queue: MemoryQueue = runtime.queue.queue  # type: ignore[attr-defined]
        with warnings.catch_warnings():  # a dead invocation published no metrics: fine here
            warnings.filterwarnings("ignore", "No application metrics to publish")
            counts = _drain_with_faults(runtime, queue, clock)
        wall = time.perf_counter() - wall
    delivered = len(set(ses.accepted))
    return SoakReport(
        intended=enqueued, delivered=delivered, sends=len(ses.accepted),
        lost=enqueued - delivered, dead_letters=len(queue.dead),
        left_in_queue=len(queue.waiting), ses_calls=ses.counts["calls"],
        failed_before_send=ses.counts["failed before send"], throttled=ses.counts["throttled"],
        crashed_after_send=ses.counts["crashed after send"], receives=counts["receives"],
        receive_requests=counts["receive requests"], empty_receives=counts["empty receives"],
        invocations=counts["invocations"], sqs_requests=queue.requests,
        virtual_time=clock.now() - started, wall_seconds=wall)


def _drain_with_faults(runtime: LocalRuntime, queue: MemoryQueue,
                       clock: VirtualClock) -> Counter[str]:
    """The SQS event source, with every batch delivered twice and invocations that die."""
    from webinar_notify.entrypoints import sender

    counts: Counter[str] = Counter()
    for _round in range(MAX_ROUNDS):
        batch = queue.receive()
        counts["receive requests"] += 1
        if not batch:
            counts["empty receives"] += 1
            due = queue.next_visible()
            if due is None:
                return counts
            clock.set(max(due, clock.now()))
            continue
        failed: set[str] = set()
        for delivery in range(DELIVERIES_PER_BATCH):
            if delivery:  # a second receive of the same messages
                for message in batch:
                    message.receives += 1
            counts["receives"] += len(batch)
            counts["invocations"] += 1
            failed |= _invoke(sender.lambda_handler, _event(batch, runtime.queue_arn))
        queue.settle(batch, failed)
        for message in batch:
            if message.message_id in failed:
                message.visible_at = clock.now() + VISIBILITY_TIMEOUT
    raise RuntimeError("the queue did not drain")


def _event(batch: list[QueuedMessage], queue_arn: str) -> dict[str, Any]:
    return sqs_event([{"MessageId": m.message_id, "ReceiptHandle": m.message_id,
                       "Body": m.body,
                       "Attributes": {"ApproximateReceiveCount": str(m.receives)}}
                      for m in batch], queue_arn)


def _invoke(handler: Any, event: dict[str, Any]) -> set[str]:
    """One sender invocation; the message ids it did not finish (all of them if it died)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's metric lines
            answer = handler(event, LocalContext("webinar-notify-sender"))
    except ProcessDied:
        return {record["messageId"] for record in event["Records"]}
    return {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--in-memory", action="store_true",
                        help="the ledger and suppression list in memory instead of on moto")
    parser.add_argument("--crash-kills-invocation", action="store_true",
                        help="a crash ends the whole invocation, not only that email")
    args = parser.parse_args()
    report = run(args.emails, args.seed, in_memory=args.in_memory,
                 crash_kills_invocation=args.crash_kills_invocation)
    where = "in memory" if args.in_memory else "on moto DynamoDB"
    crash = "the invocation" if args.crash_kills_invocation else "that email's handling"
    print(f"fault soak: {args.emails:,} reminders, ledger {where}, seed {args.seed}; per SES call "
          f"{FAIL_BEFORE:.0%} fail before the send, {THROTTLE:.0%} throttled, "
          f"{CRASH_AFTER:.0%} crash after SES accepted (ending {crash}); every batch "
          "delivered twice")
    print("\n".join(report.lines()))
    most = report.crashed_after_send * (1 + (FLUSH_EMAILS if args.crash_kills_invocation else 0))
    healthy = (report.lost == 0 and report.dead_letters == 0
               and report.crashed_after_send <= report.duplicates <= most)
    print(f"0 lost, 0 dead letters, duplicates within {report.crashed_after_send}..{most}: "
          + ("yes" if healthy else "NO"))
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
