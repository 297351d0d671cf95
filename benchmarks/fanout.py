"""One reminder fanned out to N registrants, then one sender instance against a simulated SES.

1. The local path (moto DynamoDB, in-memory queue, the real scheduler and sender handlers, a
   mailer that accepts everything, one email at a time): what every email costs in requests,
   as counts per email, and where the run's wall time went, as shares of it.
2. One sender instance (the real ``Sender.deliver_all``: ledger claim, compose, MIME, the
   shared pacer) against a simulated SES that answers in 50 ms and throttles above the
   account's rate R, at R = 14 and R = 500, its share R / SenderConcurrency: emails per second
   reached with the pool, and one at a time, in the same run, as ratios to the share. The gap
   between invocations (Lambda's poll and invoke) is not simulated.
3. What 1,000 emails cost on AWS next to SES, from the counts of part 1 and the billed time per
   email measured in part 2 at the template's default rate.
4. Deadlines, in virtual time without moto: the 1-hour reminder of a session to N = 100 to
   100,000 registrants at R = 14/s and 500/s. The real planner (core/send_plan.py, the
   scheduler's passes) says when the fan-out opens; the scheduler runs every 5 minutes; jobs
   reach the queue at ENQUEUE_RATE; SES accepts R a second, in queue order. Printed: whether
   publishing warned, how early sending started, the last acceptance against the window's
   close, and the emails that expired, next to the same run without the planner.

Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/fanout.py [--registrants 10000] [--seconds 2]
                                          [--deadlines 100,1000,10000,100000]
    .venv/bin/python benchmarks/fanout.py --deadlines-only
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.ledger import MemoryLedger
from webinar_notify.adapters.mailer import OutgoingMessage, SesMailer
from webinar_notify.adapters.rate_limit import RateLimiter, pool_size
from webinar_notify.core import send_plan
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.schedule import Slot
from webinar_notify.core.send_check import Recipient
from webinar_notify.core.text import registrant_id
from webinar_notify.local.infra import load_template
from webinar_notify.local.runtime import LocalRuntime, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file
from webinar_notify.services.scheduling import reminder_passes
from webinar_notify.services.sending import Sender

ROOT = Path(__file__).resolve().parents[1]
S1 = datetime(2023, 10, 26, 13, tzinfo=UTC)
ZONES = ["America/Toronto", "Asia/Riyadh", "Australia/Sydney", "Europe/Copenhagen",
         "America/Sao_Paulo"]
SES_LATENCY_S = 0.05
RATES = (14.0, 500.0)

# AWS prices (us-east-1, on-demand) and the template's sender settings.
SES_PER_EMAIL = 0.10 / 1000
LAMBDA_GB_SECOND_ARM = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1e6
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6
SQS_PER_REQUEST = 0.40 / 1e6
VCPU_PER_MB = 1 / 1769  # Lambda gives one vCPU at 1,769 MB, in proportion below
REGISTRATION_KB = 0.4  # one registration item, as stored
DEADLINE_SIZES = (100, 1_000, 10_000, 100_000)
ENQUEUE_RATE = 1_000.0  # jobs a second the scheduler's pass puts on the queue (pages of 500)
BATCHING_WINDOW_S = 1.0  # the sender's event source waits up to this for a batch
TICK = timedelta(minutes=5)  # the scheduler's schedule


@dataclass(frozen=True, slots=True)
class SenderDefaults:
    """The template's: SesSendRate, SenderConcurrency, the event source's BatchSize, the
    sender's MemorySize."""

    rate: float
    instances: int
    batch: int
    memory_gb: float

    def instances_at(self, rate: float) -> int:
        """SenderConcurrency at ``rate``: the default, raised to R / 50 above 100/s (what one
        instance's CPU and pool keep up with, as the template's description says)."""
        return max(self.instances, math.ceil(rate / 50))

    @classmethod
    def from_template(cls) -> SenderDefaults:
        template = load_template()
        parameters = template["Parameters"]
        source = template["Resources"]["SenderFunctionSendQueue"]["Properties"]
        sender = template["Resources"]["SenderFunction"]["Properties"]
        memory = sender.get("MemorySize", template["Globals"]["Function"]["MemorySize"])
        return cls(float(parameters["SesSendRate"]["Default"]),
                   int(parameters["SenderConcurrency"]["Default"]), int(source["BatchSize"]),
                   int(memory) / 1024)


class CountingMailer:
    """Accepts every email (SES stands outside what part 1 measures)."""

    def __init__(self) -> None:
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        with self._lock:
            self.sent += 1
            return f"m{self.sent}"


class AwsCalls:
    """Counts DynamoDB calls and the time spent inside moto answering them."""

    def __init__(self, client: Any) -> None:
        self.count: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self.moto_seconds = 0.0
        self._started = threading.local()
        client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", self._keys)
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _keys(self, params: dict[str, Any], **_: Any) -> None:
        """BatchGetItem is charged per key asked for, found or not."""
        self.items["BatchGetItem keys"] += sum(
            len(request["Keys"]) for request in params["RequestItems"].values())

    def _before(self, model: Any, **_: Any) -> None:
        self.count[model.name] += 1
        self._started.at = time.perf_counter()

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.moto_seconds += time.perf_counter() - self._started.at
        self.items[model.name] += len(parsed.get("Items", []))


class SimulatedSes:
    """An SES v2 client: every call takes ``latency``; more than ``rate`` calls accepted in
    the last second are throttled, as SES's maximum send rate is."""

    def __init__(self, rate: float, latency: float = SES_LATENCY_S) -> None:
        self.rate = rate
        self.latency = latency
        self.accepted: deque[float] = deque()  # within the last second
        self.sent = self.throttled = 0
        self.first = self.last = 0.0  # when the first and the last email were accepted
        self._lock = threading.Lock()

    def send_email(self, **_request: Any) -> dict[str, str]:
        time.sleep(self.latency)
        with self._lock:
            now = time.monotonic()
            while self.accepted and self.accepted[0] <= now - 1.0:
                self.accepted.popleft()
            if len(self.accepted) >= self.rate:
                self.throttled += 1
                raise ClientError({"Error": {"Code": "TooManyRequestsException",
                                             "Message": "Maximum sending rate exceeded."}},
                                  "SendEmail")
            self.accepted.append(now)
            self.sent += 1
            self.first, self.last = self.first or now, now
            return {"MessageId": f"sim-{self.sent}"}


class Everyone:
    """Nobody bounced, cancelled or erased: the look-up at send time, without moto."""

    def recipient(self, series_id: str, registrant_id: str, suppression_id: str,
                  session_ids: Sequence[str] = ()) -> Recipient:
        return Recipient(suppressed=False, registration=None, erased=False)


@dataclass(frozen=True, slots=True)
class Reached:
    rate: float  # the account's R
    share: float  # one instance's R / SenderConcurrency
    pool: int
    emails: int
    seconds: float  # wall time of the instance's invocations, measured
    accepting: float  # from SES's first acceptance to its last, measured
    throttled: int
    cpu: float  # process CPU time of the run, measured
    @property
    def per_second(self) -> float:
        """Accepted emails per second, between the first acceptance and the last."""
        return (self.emails - 1) / self.accepting if self.accepting > 0 else 0.0


def ratio(part: float, whole: float, form: str = ".2f") -> str:
    """part / whole, or "n/a" where nothing was measured to divide by."""
    return format(part / whole, form) if whole > 0 else "n/a"


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


@contextlib.contextmanager
def prepared(registrants: int) -> Iterator[tuple[LocalRuntime, CountingMailer]]:
    clock = VirtualClock(S1 - timedelta(days=40))
    mailer = CountingMailer()
    with local_runtime(clock, mailer, LocalSettings(webhook_secrets={})) as runtime:
        runtime.push_series(load_series_file(ROOT / "series" / "reirradiation-2023.yaml"))
        seed(runtime, registrants)
        clock.set(S1 - timedelta(hours=1))
        yield runtime, mailer


def local_path(runtime: LocalRuntime, mailer: CountingMailer, echo: Any = print
               ) -> tuple[float, list[EmailJob]]:
    """Part 1; returns the SQS and DynamoDB cost per 1,000 emails (USD), and the first jobs
    the fan-out queued (part 2 sends them again)."""
    calls = AwsCalls(runtime.store.client)
    runtime.services.sender.pool = 1  # one at a time: moto's share of the time stays readable
    sqs_before = runtime.queue.queue.requests  # type: ignore[attr-defined]
    started = time.perf_counter()
    report = runtime.tick()
    fanned_out = time.perf_counter() - started
    queued = [EmailJob.from_json(m.body)
              for m in list(runtime.queue.queue.waiting)[:100]]  # type: ignore[attr-defined]
    runtime.drain()
    wall = time.perf_counter() - started
    sqs_requests = runtime.queue.queue.requests - sqs_before  # type: ignore[attr-defined]
    emails = mailer.sent
    echo(f"reminder emails sent: {emails:,} (enqueued {report['enqueued']:,}); "
         f"dead letters: {runtime.dead_letters()}")
    echo(f"wall time {wall:.1f} s: the scheduler's fan-out {ratio(fanned_out, wall, '.0%')} "
         f"of it, moto answering DynamoDB {ratio(calls.moto_seconds, wall, '.0%')}")
    if not emails:
        return 0.0, queued
    per_email = {op: c / emails for op, c in sorted(calls.count.items())}
    echo("DynamoDB requests per email: "
         + ", ".join(f"{op} {v:.3f}" for op, v in per_email.items())
         + f" (total {sum(calls.count.values()) / emails:.3f})")
    echo(f"SQS requests per email (send, receive, delete batches): {sqs_requests / emails:.3f}")
    writes = (calls.count["UpdateItem"] + calls.count["PutItem"]) / emails  # each item < 1 KB
    # Eventually consistent reads: half a unit per 4 KB (Query) or per item (BatchGetItem).
    reads = 0.5 * (calls.items["Query"] * REGISTRATION_KB / 4
                   + calls.items["BatchGetItem keys"]) / emails
    return 1000 * (writes * DYNAMODB_PER_WRITE_UNIT + reads * DYNAMODB_PER_READ_UNIT
                   + (sqs_requests / emails) * SQS_PER_REQUEST), queued


def reminder_jobs(queued: list[EmailJob], count: int) -> list[EmailJob]:
    """``count`` distinct reminder emails: the fan-out's jobs, each under a new key."""
    if not queued:
        raise SystemExit("the fan-out queued no reminders")
    return [replace(queued[i % len(queued)], key=f"{queued[i % len(queued)].key}~{i}")
            for i in range(count)]


def one_instance(sender: Sender, jobs: list[EmailJob], rate: float, defaults: SenderDefaults,
                 pool: int) -> Reached:
    """The instance's invocations one after another, each a batch, against a fresh SES."""
    share = rate / defaults.instances_at(rate)
    ses = SimulatedSes(rate)
    sender.mailer = SesMailer(ses, "benchmark")  # type: ignore[arg-type]
    sender.ledger = MemoryLedger()
    sender.limiter = RateLimiter(share)
    sender.pool = pool
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(jobs), defaults.batch):
        sender.deliver_all(jobs[start:start + defaults.batch], seconds_left=60.0)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Reached(rate, share, pool, ses.sent, seconds, ses.last - ses.first, ses.throttled,
                   cpu)


def simulated_ses(runtime: LocalRuntime, queued: list[EmailJob], seconds: float,
                  defaults: SenderDefaults, echo: Any = print) -> list[tuple[Reached, Reached]]:
    """Part 2: per rate, (the pool, one at a time), each run for about ``seconds``."""
    sender = runtime.services.sender
    sender.recipients = Everyone()
    results = []
    for rate in RATES:
        share = rate / defaults.instances_at(rate)
        pool = pool_size(share, defaults.batch, round(defaults.memory_gb * 1024))
        pooled = max(10, math.ceil(share * seconds))
        single = max(10, math.ceil(min(share, 1 / SES_LATENCY_S) * seconds))
        jobs = reminder_jobs(queued, pooled)
        with contextlib.redirect_stdout(io.StringIO()):
            results.append((one_instance(sender, jobs, rate, defaults, pool),
                            one_instance(sender, jobs[:single], rate, defaults, 1)))
    echo(f"one sender instance, SES answering in {SES_LATENCY_S * 1000:.0f} ms and throttling "
         f"above R; share = R / SenderConcurrency (the template's {defaults.instances}, "
         f"raised to R / 50 above 100/s as its description asks), batches of "
         f"{defaults.batch}:")
    for pooled_run, single_run in results:
        instances = defaults.instances_at(pooled_run.rate)
        echo(f"  R = {pooled_run.rate:g}/s, share {pooled_run.share:g}/s: "
             f"pool of {pooled_run.pool}: {pooled_run.per_second:.1f} emails/s "
             f"= {ratio(pooled_run.per_second, pooled_run.share)} x the share "
             f"({pooled_run.emails} emails, {pooled_run.throttled} throttled); "
             f"one at a time: {single_run.per_second:.1f}/s "
             f"= {ratio(single_run.per_second, single_run.share)} x; "
             f"pool / one at a time = "
             f"{ratio(pooled_run.per_second, single_run.per_second, '.1f')}; "
             f"{instances} instances reach "
             f"{ratio(instances * pooled_run.per_second, pooled_run.rate)} x R "
             f"(goal: 1.00)")
    busiest = results[-1][0]
    per_email = busiest.cpu / busiest.emails if busiest.emails else 0.0
    vcpu = defaults.memory_gb * 1024 * VCPU_PER_MB
    echo(f"  CPU per email in that instance (compose, MIME, pacing, threads; no DynamoDB "
         f"client work): {per_email * 1000:.2f} ms here; a {defaults.memory_gb * 1024:.0f} MB "
         f"function has {vcpu:.2f} vCPU, enough for about {ratio(vcpu, per_email, '.0f')} "
         f"emails/s per instance on a core like this one")
    return results


def costs(store_and_queue: float, default_rate: Reached, defaults: SenderDefaults,
          echo: Any = print) -> None:
    """Part 3: a sender is billed for its wall time; per email, what part 2 measured."""
    if not default_rate.emails:
        echo("cost per 1,000 emails: n/a (no email was accepted at the default rate)")
        return
    billed_per_email = default_rate.seconds / default_rate.emails
    cost = {
        f"Lambda (sender: {billed_per_email * 1000:.0f} ms billed per email at "
        f"{default_rate.rate:g}/s, measured)":
            billed_per_email * defaults.memory_gb * LAMBDA_GB_SECOND_ARM * 1000
            + LAMBDA_PER_REQUEST * 1000 / defaults.batch,
        "DynamoDB and SQS (from the counts of part 1)": store_and_queue,
    }
    ses = 1000 * SES_PER_EMAIL
    echo("cost per 1,000 emails on AWS (us-east-1, on-demand):")
    for item, usd in cost.items():
        echo(f"  {item:<66} ${usd:.5f}")
    total = sum(cost.values())
    echo(f"  {'these together':<66} ${total:.5f} = {100 * total / ses:.1f} % of SES "
         f"(${ses:.2f})")


@dataclass(frozen=True, slots=True)
class Deadline:
    recipients: int
    rate: float
    warned: bool
    rate_needed: int
    starts: datetime  # when the first email was accepted
    last: datetime  # when the last one was
    expired: int  # accepted at or after the close: the sender drops them
    expired_unplanned: int  # the same, had the fan-out opened at the slot's target


def one_hour_slot() -> tuple[Any, Slot]:
    series = load_series_file(ROOT / "series" / "reirradiation-2023.yaml")
    slot = next(t.slot for t in reminder_passes(series)
                if t.slot.session_id == "s1" and t.slot.offset == timedelta(hours=1))
    return series, slot


def deadline(recipients: int, rate: float) -> Deadline:
    """One slot in virtual time: the planner's opening, the scheduler's ticks, the queue and
    SES's rate; every email's acceptance against the window's close."""
    series, slot = one_hour_slot()
    audience = {slot.session_id: recipients}.get
    warned = [c for c in send_plan.crowded(series, lambda s: audience(s) or 0, rate,
                                           slot.opens - timedelta(days=30))
              if c.session_id == slot.session_id and c.offset == "1h"]
    [main] = [t for t in reminder_passes(series, lambda s: audience(s) or 0, rate)
              if t.slot == slot]
    planned = _accepted(recipients, rate, _first_tick(main.opens))
    unplanned = _accepted(recipients, rate, _first_tick(slot.opens))
    return Deadline(recipients, rate, bool(warned), warned[0].plan.rate_needed if warned else 0,
                    planned[0], planned[-1], sum(t >= slot.closes for t in planned),
                    sum(t >= slot.closes for t in unplanned))


def _first_tick(moment: datetime) -> datetime:
    """The first scheduled run at or after ``moment`` (runs fall on every fifth minute)."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    ticks = math.ceil((moment - epoch) / TICK)
    return epoch + ticks * TICK


def _accepted(recipients: int, rate: float, start: datetime) -> list[datetime]:
    """When SES accepts each email, in queue order: not before it is queued and batched,
    and no more than ``rate`` a second."""
    times = []
    free = 0.0  # seconds after start when SES can next accept one
    for i in range(recipients):
        ready = i / ENQUEUE_RATE + BATCHING_WINDOW_S
        at = max(ready, free)
        free = at + 1 / rate
        times.append(at)
    return [start + timedelta(seconds=t) for t in times]


def deadlines(sizes: tuple[int, ...], echo: Any = print) -> list[Deadline]:
    """Part 4: the 1-hour reminder to N registrants at each rate, planned and not."""
    _series, slot = one_hour_slot()
    echo("deadlines: the 1-hour reminder of s1 (target 1 h before the start, window closes "
         "at the start), virtual time")
    echo(f"  goals: every email accepted before the close, 0 expired; a warning at publish "
         f"when the window cannot hold N at R (queue {ENQUEUE_RATE:g}/s, scheduler every "
         f"{TICK.seconds // 60} min)")
    found = []
    for rate in RATES:
        for recipients in sizes:
            d = deadline(recipients, rate)
            found.append(d)
            early = slot.opens - d.starts
            early_text = (f"starts {_span(early)} before the target" if early > timedelta(0)
                          else f"starts {_span(-early)} after the target")
            warned = (f"publish warned (needs {d.rate_needed}/s)" if d.warned
                      else "no warning")
            echo(f"  R = {rate:g}/s, N = {recipients:>7,}: {warned}; {early_text}; last "
                 f"accepted {_span(slot.closes - d.last)} before the close "
                 f"({ratio((d.last - d.starts).total_seconds(), 3600)} x the 1-hour window "
                 f"used); expired {d.expired} (goal 0; without the planner "
                 f"{d.expired_unplanned:,})")
    return found


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected counts such as 100,1000") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("every count must be at least 1")
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrants", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="how long each simulated-SES run lasts, about")
    parser.add_argument("--deadlines", type=_sizes, default=DEADLINE_SIZES,
                        help="registrant counts for part 4 (default: 100,1000,10000,100000)")
    parser.add_argument("--deadlines-only", action="store_true", help="part 4 only")
    args = parser.parse_args(argv)
    if args.registrants < 1 or args.seconds <= 0:
        parser.error("--registrants must be at least 1 and --seconds above 0")
    if args.deadlines_only:
        deadlines(args.deadlines)
        return
    defaults = SenderDefaults.from_template()
    with prepared(args.registrants) as (runtime, mailer):
        print(f"registrants: {args.registrants:,}")
        store_and_queue, queued = local_path(runtime, mailer)
        print()
        results = simulated_ses(runtime, queued, args.seconds, defaults)
    print()
    at_default = next(pooled for pooled, _single in results if pooled.rate == defaults.rate)
    costs(store_and_queue, at_default, defaults)
    print()
    deadlines(args.deadlines)


if __name__ == "__main__":
    main()
