"""What everything but SES costs per 1,000 emails, as a share of SES's own price, from what a
real local run counts: every AWS request each function makes (and the items DynamoDB reads and
writes, for its capacity units), every Lambda invocation and how long it took, and the bytes of
every log line the handlers write (their JSON lines and EMF metric blobs, as CloudWatch Logs
would ingest them). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/cost.py [--registrants 20] [--detail] [--marginal]
                                                          (CI: --registrants 2 --tiny)

About a minute at the default (8 at 100 registrants): moto copies the whole table at every
TransactWriteItems (a registration's), so time and memory grow with the table (on moto only,
not on AWS). ``--detail`` lists each function's requests by type and its GB-s.

The run: the seed series on the local runner (moto, SQS as moto's, virtual time), N
registrations by signed webhook, every confirmation and reminder sent, and for every email the
SES "Delivery" event its configuration set publishes to SNS, which puts it on the feedback
queue, whose event source hands the feedback function a batch of what has arrived (here: the
events of one drain of the send queue, at most the template's BatchSize; on AWS a batch gathers
for up to its window, so it holds at least as many, and costs no more per email than here).

Counted: requests, items (the table has no index to write), invocations, log bytes. A key
read is charged for the whole item as stored, whatever was projected, and a key read that
finds nothing still costs the minimum, half a unit or one (docs.aws.amazon.com/amazondynamodb/
latest/developerguide/read-write-operations.html). SNS's delivery of each event to the queue is
counted as one SQS request (an SQS SendMessage on the queue; SNS itself does not charge for
it). Modelled, and said so where printed:
- Lambda's own START/END/REPORT lines per invocation (their format, with measured durations);
- Lambda duration: the handler's own time here (its wall time less the time moto and the
  outbox, the stand-ins for AWS, took to answer), scaled to the CPU share Lambda gives the
  function's memory (one vCPU at 1,769 MB: docs.aws.amazon.com/lambda/latest/dg/
  configuration-memory.html), plus a typical network latency per AWS call it made (LATENCY_MS),
  the sender's calls shared over its threads; the sender is billed at least its pacing
  (each instance sends SesSendRate / SenderConcurrency a second, and waits meanwhile). An
  ESTIMATE;
- X-Ray, with tracing on: one trace per invocation (the default sampling rule records the first
  request each second, and no function here is invoked more than about once a second at the
  template's default send rate: the sender takes up to 250 emails, the feedback function a
  window's events);
- the sender's event source: as Lambda's does, it gathers up to the template's BatchSize from
  receives of 10 (counted) and deletes what succeeded in batches of 10 (counted); the
  feedback queue's likewise. A receive that finds nothing is not counted per email: Lambda's
  pollers keep polling an empty queue anyway (the fixed cost printed last);
- storage: each email's ledger item and its batch's sent log, at the sizes this run left in
  the table plus the 100 bytes DynamoDB adds to each item, kept for the ledger's TTL (400
  days), with point-in-time recovery on the table. Priced apart from the per-request total
  too, since the first 25 GB of table storage a month are free on every account (not the
  backups; aws.amazon.com/dynamodb/pricing).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import re
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from webinar_notify import kit
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.ledger import LEDGER_TTL
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.adapters.rate_limit import pool_size
from webinar_notify.core.signatures import sign
from webinar_notify.local import aws_calls, runtime
from webinar_notify.local.infra import REGION, load_template
from webinar_notify.local.scenario import load_scenario
from webinar_notify.local.ses_events import ses_event

# Prices in USD (us-east-1, on demand, no free tier). Sources: /work/shared/reference/
# performance-and-reliability.md §2 unless marked otherwise.
SES_PER_EMAIL = 0.10 / 1000  # SES à la carte, per recipient
SES_ESSENTIALS_PER_EMAIL = 0.16 / 1000  # new accounts' default plan since 2026-07 (3p, §2)
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000133334  # arm64, as the template's Architectures
DYNAMODB_PER_WRU = 0.625 / 1e6  # on demand since 2024-11-01
DYNAMODB_PER_RRU = 0.125 / 1e6
SQS_PER_REQUEST = 0.40 / 1e6  # standard queue, per 64 KB chunk
LOGS_PER_GB = 0.50  # CloudWatch Logs ingestion (Lambda's logs are tiered below this at volume)
XRAY_PER_TRACE = 5.00 / 1e6  # traces recorded: aws.amazon.com/xray/pricing (not in the notes)
# Storage, standard table class: aws.amazon.com/dynamodb/pricing (not in the notes).
DYNAMODB_PER_GB_MONTH = 0.25
PITR_PER_GB_MONTH = 0.20  # continuous backups: the table's size, not its global indexes
ITEM_OVERHEAD = 100  # bytes DynamoDB adds to each item's stored size (its pricing page)
KMS_KEY_PER_MONTH = 1.00  # aws.amazon.com/kms/pricing (not in the notes)
SNS_PER_PUBLISH = 0.50 / 1e6  # SNS requests; deliveries to Lambda are free:
#                               aws.amazon.com/sns/pricing (not in the notes)
METRIC_PER_MONTH = 0.30  # a custom metric, first 10,000: aws.amazon.com/cloudwatch/pricing
# Typical latency of one call from Lambda, added to the handler's time here (an assumption;
# SES from the notes §4 "Scale": 40-60 ms; DynamoDB and SQS single-digit to low tens of ms).
LATENCY_MS = {"sesv2": 50.0, "dynamodb": 6.0, "sqs": 12.0, "ssm": 10.0, "s3": 20.0}
GB = 1024 ** 3
SES_SEND = "sesv2:SendEmail (SES's own price)"
ONE_VCPU_MB = 1769
SCHEDULER_RUNS_PER_MONTH = 12 * 24 * 31  # every 5 minutes
ZONES = ("America/Toronto", "Asia/Riyadh", "Australia/Sydney", "Europe/Copenhagen",
         "America/Sao_Paulo", "Asia/Tokyo", "Europe/Lisbon", "America/Los_Angeles")


@dataclass
class Tally:
    """What one function (or the event source) used."""

    invocations: int = 0
    seconds: float = 0.0  # handler wall time here, on moto
    standin_seconds: float = 0.0  # of which moto and the outbox answered calls
    latency_ms: float = 0.0  # modelled network time of its AWS calls
    requests: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    rru: float = 0.0
    wru: float = 0.0
    log_bytes: int = 0  # its JSON log lines, tracing off
    trace_id_bytes: int = 0  # what the xray_trace_id key adds to them with tracing on
    log_lines: int = 0
    emf_bytes: int = 0
    emf_blobs: int = 0
    platform_bytes: int = 0  # START/END/REPORT, modelled
    platform_trace_bytes: int = 0  # the XRAY line REPORT adds with tracing on
    memory_mb: int = 512


@dataclass
class Run:
    tallies: defaultdict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    emails: int = 0
    deliveries: int = 0  # SES events published to SNS (one per email)
    ledger_bytes: float = 0.0  # the average ledger item at the end of the run
    ledger_items: int = 0
    log_bytes: float = 0.0  # the average sent-log item (each notes up to FLUSH_EMAILS emails)
    log_items: int = 0
    current: str = ""  # the function being invoked
    metric_names: set[str] = field(default_factory=set)


# ---- DynamoDB capacity from the items read and written -----------------------------------

def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's item-size rules (approximately for N)."""
    (kind, inner), = value.items()
    if kind in ("S", "N"):
        return len(str(inner).encode())
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else len(str(inner)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in inner.items())
    return sum(len(str(v).encode()) for v in inner)  # SS, NS, BS


def item_size(item: Mapping[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def _stored_size(table: str, key: Mapping[str, Any]) -> int:
    """The item's size as stored now (after an update), read from moto's backend directly."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    item = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_item(table, dict(key))
    return item.size() if item is not None else 0  # none: the minimum is charged


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def capacity(operation: str, params: Mapping[str, Any], answer: Mapping[str, Any]
             ) -> tuple[float, float]:
    """(read units, write units) one DynamoDB call consumed."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":  # the whole item, whatever was projected; none: the minimum
        return _read_units(_stored_size(params["TableName"], params["Key"]), consistent), 0.0
    if operation == "Query":  # by what it returned (the rare projected Query reads more)
        items = answer.get("Items") or []
        size = sum(item_size(i) for i in items)
        count, scanned = int(answer.get("Count", 0)), int(answer.get("ScannedCount", 0))
        if count and scanned > count:  # filtered: what was read, not what came back
            size = size * scanned // count
        return _read_units(size, consistent), 0.0
    if operation == "BatchGetItem":  # each key as a GetItem (unprocessed ones come again)
        unread = {table: {json.dumps(k, sort_keys=True) for k in request.get("Keys", [])}
                  for table, request in (answer.get("UnprocessedKeys") or {}).items()}
        return sum(_read_units(_stored_size(table, k), bool(request.get("ConsistentRead")))
                   for table, request in params.get("RequestItems", {}).items()
                   for k in request.get("Keys", [])
                   if json.dumps(k, sort_keys=True) not in unread.get(table, set())), 0.0
    if operation == "PutItem":
        return 0.0, _write_units(item_size(params.get("Item")))
    if operation == "UpdateItem":
        return 0.0, _write_units(_stored_size(params["TableName"], params["Key"]))
    if operation == "DeleteItem":
        return 0.0, 1.0
    if operation == "BatchWriteItem":
        return 0.0, sum(_write_units(item_size(r.get("PutRequest", {}).get("Item")))
                        for requests in params.get("RequestItems", {}).values()
                        for r in requests)
    if operation == "TransactWriteItems":
        total = 0.0
        for action in params.get("TransactItems", []):
            (kind, body), = action.items()
            size = item_size(body.get("Item")) if kind == "Put" else \
                _stored_size(body["TableName"], body["Key"]) if kind == "Update" else 0
            total += 2 * _write_units(size)
        return 0.0, total
    if operation == "TransactGetItems":
        return sum(2 * _read_units(item_size(r.get("Item")), True)
                   for r in answer.get("Responses") or []), 0.0
    return 0.0, 0.0


# ---- what the handlers write to their logs -------------------------------------------------

_TRACE_KEY = re.compile(r',?\s*"xray_trace_id":\s*"[^"]*"')
# Locally every function shares one logger, so the API's correlation id stays on the others'
# lines; on Lambda each function has its own process and only the API's lines carry it.
_CORRELATION_KEY = re.compile(r',?\s*"correlation_id":\s*"[^"]*"')


class LogCounter(io.TextIOBase):
    """A stream standing for CloudWatch Logs: counts each line's bytes against the function
    being invoked; EMF blobs (metrics) apart from log lines."""

    def __init__(self, run: Run, names: Mapping[str, str]) -> None:
        self.run = run
        self.names = names  # local function name -> a name as CloudFormation makes them
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._count(line)
        return len(text)

    def _count(self, line: str) -> None:
        if not line.strip():
            return
        for local, deployed in self.names.items():
            line = line.replace(local, deployed)
        tally = self.run.tallies[self.run.current or "runner"]
        if self.run.current != "ApiFunction":
            line = _CORRELATION_KEY.sub("", line)
        size = len(line.encode()) + 1
        if line.startswith("{") and '"_aws"' in line:
            tally.emf_bytes += size
            tally.emf_blobs += 1
            with contextlib.suppress(ValueError, KeyError, IndexError):
                blob = json.loads(line)
                for entry in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                    self.run.metric_names.add(str(entry["Name"]))
            return
        without_trace = len(_TRACE_KEY.sub("", line).encode()) + 1
        tally.log_bytes += without_trace
        tally.trace_id_bytes += size - without_trace
        tally.log_lines += 1


def platform_lines(seconds: float, memory_mb: int, traced: bool) -> int:
    """Bytes of the START, END and REPORT lines Lambda writes for one invocation."""
    request = str(uuid.uuid4())
    duration = seconds * 1000
    report = (f"REPORT RequestId: {request}\tDuration: {duration:.2f} ms\t"
              f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {memory_mb} MB\t"
              f"Max Memory Used: {memory_mb // 4} MB\t")
    if traced:
        report += "\nXRAY TraceId: 1-6568c1a2-0f1e2d3c4b5a69788796a5b4\t" \
                  "SegmentId: 4a5b6c7d8e9f0a1b\tSampled: true\t"
    lines = [f"START RequestId: {request} Version: $LATEST", f"END RequestId: {request}", report]
    return sum(len(line.encode()) + 1 for line in lines)


# ---- the run ---------------------------------------------------------------------------------

def memory_of_functions() -> dict[str, int]:
    template = load_template()
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    return {name: int(r["Properties"].get("MemorySize", default))
            for name, r in template["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"}


def sender_concurrency() -> int:
    return int(load_template()["Parameters"]["SenderConcurrency"]["Default"])


def send_rate() -> float:
    return float(load_template()["Parameters"]["SesSendRate"]["Default"])


def sender_batch() -> int:
    return int(load_template()["Resources"]["SenderFunctionSendQueue"]["Properties"]
               ["BatchSize"])


def sender_threads() -> int:
    """The sender's pool at the template's default rate and concurrency (adapters/rate_limit)."""
    concurrency = int(load_template()["Parameters"]["SenderConcurrency"]["Default"])
    return pool_size(send_rate() / concurrency, sender_batch(),
                     memory_of_functions().get("SenderFunction", 0))


def stored_items(table: str, prefix: str) -> tuple[int, float]:
    """How many items whose key starts with ``prefix`` the table holds at the end (the
    ledger's emails, its sent logs), and their average size in bytes."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    stored = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table)
    sizes = [item.size() for item in stored.all_items()
             if str(item.hash_key.value).startswith(prefix)]
    return len(sizes), sum(sizes) / max(1, len(sizes))


def as_event_source(batch_size: int, send_queue_url: str) -> Callable[[], None]:
    """Make the local runner's SQS queues receive and delete as Lambda's event source does
    (the send queue gathers a batch; both delete in batches of 10); returns the way back."""
    from webinar_notify.local.queues import MotoSqs

    receive, settle = MotoSqs.receive, MotoSqs.settle

    def gather(self: MotoSqs) -> list[dict[str, Any]]:
        if self.url != send_queue_url:
            return receive(self)
        batch: list[dict[str, Any]] = []
        while len(batch) < batch_size:
            answer = receive(self)
            if not answer:
                break
            batch += answer
        return batch

    def settle_in_batches(self: MotoSqs, messages: list[dict[str, Any]],
                          failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.client.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start:start + 10])])
        settle(self, [m for m in messages if m["MessageId"] in failed], failed)

    MotoSqs.receive, MotoSqs.settle = gather, settle_in_batches  # type: ignore[method-assign]

    def restore() -> None:
        MotoSqs.receive, MotoSqs.settle = receive, settle  # type: ignore[method-assign]

    return restore


def registrations(count: int, start: datetime, secret: str, series_id: str
                  ) -> Iterator[tuple[datetime, bytes, dict[str, str]]]:
    """Signed webhooks as a generic sender posts them, one every 7 minutes from ``start``."""
    for number in range(count):
        at = start + timedelta(minutes=7 * number)
        created = int(at.timestamp())
        body = json.dumps({"id": f"evt-cost-{number:05d}", "type": "registration.created",
                           "created": created,
                           "data": {"registrant": {"email": f"person{number}@example.org",
                                                   "full_name": f"Person {number}",
                                                   "time_zone": ZONES[number % len(ZONES)]},
                                    "consent": {"reminders": True}}}).encode()
        yield at, body, {"Content-Type": "application/json",
                         "Webinar-Signature": sign(secret, created, body)}


def play(run: Run, registrants: int, until: datetime | None) -> None:
    scenario = load_scenario(kit.demo_scenario())
    series, secret = scenario.series, scenario.secrets["generic"]
    end = until or scenario.until
    clock = VirtualClock(scenario.start)
    memory = memory_of_functions()
    threads = sender_threads()
    names = {local: f"webinar-notify-{logical}-{uuid.uuid4().hex[:12].upper()}"
             for local, logical in runtime.LOGICAL_IDS.items()}
    logs = LogCounter(run, names)

    def answered(service: str, operation: str, params: Mapping[str, Any],
                 answer: Mapping[str, Any], seconds: float) -> None:
        function = aws_calls.current_function.get()
        if not function and service != "sqs":
            return  # the runner's own reads and set-up: no function makes them on AWS
        if operation == "ReceiveMessage" and not answer.get("Messages"):
            return  # an empty poll: the event sources' long polls, a fixed cost (below)
        feedback_queue = str(params.get("QueueUrl", "")).endswith("-feedback")
        tally = run.tallies[function or ("FeedbackQueue (SNS, event source)" if feedback_queue
                                         else "SendQueue event source")]
        tally.requests[f"{service}:{operation}"] += 1
        if function:
            tally.standin_seconds += seconds
            latency = LATENCY_MS.get(service, 10.0)
            tally.latency_ms += latency / threads if function == "SenderFunction" else latency
        if service == "dynamodb":
            read, write = capacity(operation, params, answer)
            tally.rru += read
            tally.wru += write

    real_invoke = runtime.LocalRuntime._invoke
    real_send = OutboxMailer.send

    def send(self: OutboxMailer, message: Any) -> str:  # SES, as the outbox stands in for it
        started = time.perf_counter()
        try:
            return real_send(self, message)
        finally:
            tally = run.tallies[run.current]
            tally.standin_seconds += time.perf_counter() - started
            tally.latency_ms += LATENCY_MS["sesv2"] / threads
            tally.requests[SES_SEND] += 1

    def timed_invoke(self: runtime.LocalRuntime, handler: Callable[..., Any],
                     event: dict[str, Any], context: Any) -> dict[str, Any]:
        function = runtime.LOGICAL_IDS.get(context.function_name, context.function_name)
        tally = run.tallies[function]
        tally.memory_mb = memory.get(function, 512)
        before, run.current = run.current, function
        started = time.perf_counter()
        try:
            return real_invoke(self, handler, event, context)
        finally:
            spent = time.perf_counter() - started
            tally.invocations += 1
            tally.seconds += spent
            plain = platform_lines(spent, tally.memory_mb, traced=False)
            tally.platform_bytes += plain
            tally.platform_trace_bytes += platform_lines(spent, tally.memory_mb, True) - plain
            run.current = before

    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        mailer = OutboxMailer(Path(folder), clock)
        settings = runtime.LocalSettings(webhook_secrets=scenario.secrets, queue="sqs",
                                         quiet=False)
        # Lambda sets the trace header with tracing on; Powertools' logger then adds its id.
        stack.enter_context(_environment("_X_AMZN_TRACE_ID",
                                         "Root=1-6568c1a2-0f1e2d3c4b5a69788796a5b4;"
                                         "Parent=4a5b6c7d8e9f0a1b;Sampled=1"))
        local = stack.enter_context(runtime.local_runtime(clock, mailer, settings))
        from webinar_notify.entrypoints import api, feedback, jobs, scheduler, sender  # noqa: F401

        _log_to(logs)
        stack.enter_context(contextlib.redirect_stdout(logs))  # EMF blobs are printed
        local.push_series(series)
        stack.callback(aws_calls.watch_answers(answered))
        stack.callback(as_event_source(sender_batch(), local.resources.queue_url))
        runtime.LocalRuntime._invoke = timed_invoke  # type: ignore[method-assign]
        OutboxMailer.send = send  # type: ignore[method-assign]
        stack.callback(setattr, OutboxMailer, "send", real_send)
        stack.callback(setattr, runtime.LocalRuntime, "_invoke", real_invoke)
        path = f"/webhooks/generic/{series.id}"
        reported = 0

        def deliveries() -> None:
            nonlocal reported
            entries = mailer.entries()
            events = [ses_event(entry, "Delivery", at=clock.now())
                      for entry in entries[reported:]]  # one SNS publish each
            if events:  # on the queue together; the event source takes them in batches
                local.feedback(*events)
                run.deliveries += len(events)
            reported = len(entries)

        for at, body, headers in registrations(registrants, scenario.start + timedelta(hours=1),
                                               secret, series.id):
            clock.set(at)
            answer = local.request("POST", path, headers, body)
            if answer.status != 202:
                raise SystemExit(f"registration refused: {answer.status} {answer.body}")
            local.drain()
            deliveries()
        tick = clock.now()
        while tick <= end:
            clock.set(tick)
            local.tick()
            local.drain()
            deliveries()
            wakeup = local.next_wakeup()
            if wakeup is None:
                break
            tick = max(wakeup, tick + timedelta(minutes=5))
        run.emails = len(mailer.entries())
        run.ledger_items, run.ledger_bytes = stored_items(local.resources.table, "LEDGER#")
        run.log_items, run.log_bytes = stored_items(local.resources.table, "SENTLOG#")
        run.current = ""
        idle = run.tallies["idle scheduler run"]
        snapshot = _copy(run.tallies["SchedulerFunction"])
        clock.set(clock.now() + timedelta(minutes=5))
        local.tick()  # a run with nothing due: what every 5 minutes costs with no email
        _subtract_into(idle, run.tallies.pop("SchedulerFunction"), snapshot)
        run.tallies["SchedulerFunction"] = snapshot


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    import os

    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _log_to(stream: io.TextIOBase) -> None:
    """Point the handlers' log handlers (Powertools writes to stdout, or to an earlier run's
    counter) at ``stream``."""
    import logging

    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in
                                          list(logging.root.manager.loggerDict))]:
        for handler in logger.handlers:
            if not isinstance(handler, logging.StreamHandler):
                continue
            current = getattr(handler, "stream", None)
            if current in (sys.stdout, sys.__stdout__) or isinstance(current, LogCounter):
                handler.setStream(stream)


def _copy_run(run: Run) -> Run:
    """A run's tallies as they stand (``report`` takes the idle scheduler's out)."""
    copied = Run(emails=run.emails, deliveries=run.deliveries)
    for name, tally in run.tallies.items():
        copied.tallies[name] = _copy(tally)
    return copied


def _copy(tally: Tally) -> Tally:
    return Tally(**{**tally.__dict__, "requests": Counter(tally.requests)})


def _subtract_into(target: Tally, after: Tally, before: Tally) -> None:
    for name, value in after.__dict__.items():
        if name == "requests":
            target.requests = after.requests - before.requests
        elif name == "memory_mb":
            target.memory_mb = value
        else:
            setattr(target, name, value - getattr(before, name))


# ---- prices --------------------------------------------------------------------------------

LEDGER_MONTHS = LEDGER_TTL.days / (365.25 / 12)
FEEDBACK_PATH = ("FeedbackFunction", "FeedbackQueue (SNS, event source)")


@dataclass(frozen=True)
class Bill:
    lambda_requests: float
    lambda_compute: float
    dynamodb: float  # the table's read and write units
    sqs: float
    sns: float
    logs: float
    xray: float
    storage: float = 0.0  # the ledger and its sent logs, for the ledger's life

    def total(self) -> float:
        return float(sum(self.__dict__.values()))


def lambda_seconds(tally: Tally) -> float:
    """The estimate above: own time at Lambda's CPU share, and modelled network time; for
    the sender at least its pacing, since an instance is billed while it waits for its
    share of the send rate (SesSendRate / SenderConcurrency emails a second)."""
    own = max(0.0, tally.seconds - tally.standin_seconds)
    worked = own * max(1.0, ONE_VCPU_MB / tally.memory_mb) + tally.latency_ms / 1000
    sent = tally.requests.get(SES_SEND, 0)
    return max(worked, sent * sender_concurrency() / send_rate()) if sent else worked


def storage_price(run: Run) -> float:
    """Each ledger item for the ledger's life, and each sent log for its own, with the
    table's continuous backups; DynamoDB bills each item's size plus ITEM_OVERHEAD."""
    per_gb_month = (DYNAMODB_PER_GB_MONTH + PITR_PER_GB_MONTH) / GB
    return (run.ledger_items * (run.ledger_bytes + ITEM_OVERHEAD) * per_gb_month * LEDGER_MONTHS
            + run.log_items * (run.log_bytes + ITEM_OVERHEAD) * per_gb_month * LEDGER_MONTHS)


def price(tallies: Mapping[str, Tally], traced: bool, publishes: int = 0,
          storage: float = 0.0) -> Bill:
    invocations = sum(t.invocations for t in tallies.values())
    gb_seconds = sum(lambda_seconds(t) * t.memory_mb / 1024 for t in tallies.values())
    sqs = sum(n for t in tallies.values() for op, n in t.requests.items()
              if op.startswith("sqs:"))
    log_bytes = sum(t.log_bytes + t.emf_bytes + t.platform_bytes
                    + (t.trace_id_bytes + t.platform_trace_bytes if traced else 0)
                    for t in tallies.values())
    return Bill(lambda_requests=invocations * LAMBDA_PER_REQUEST,
                lambda_compute=gb_seconds * LAMBDA_PER_GB_SECOND,
                dynamodb=sum(t.rru * DYNAMODB_PER_RRU + t.wru * DYNAMODB_PER_WRU
                             for t in tallies.values()),
                sqs=sqs * SQS_PER_REQUEST, sns=publishes * SNS_PER_PUBLISH,
                logs=log_bytes / GB * LOGS_PER_GB,
                xray=invocations * XRAY_PER_TRACE if traced else 0.0, storage=storage)


def report(run: Run, detail: bool = False) -> None:
    idle = run.tallies.pop("idle scheduler run", Tally())
    per = 1000 / max(1, run.emails)
    ses = SES_PER_EMAIL * 1000
    stored = storage_price(run)
    print(f"emails sent: {run.emails}; SES delivery events to the feedback function: "
          f"{run.deliveries} (through SNS and its queue); ledger items {run.ledger_items} of "
          f"{run.ledger_bytes:.0f} B on average; sent logs {run.log_items} of "
          f"{run.log_bytes:.0f} B")
    print(f"{'function':<34}{'invocations':>12}{'requests':>10}{'RRU':>8}{'WRU':>8}"
          f"{'log B/email':>12}{'EMF B/email':>12}{'Lambda B/email':>15}"
          f"{'% of SES':>10}")
    for name, tally in sorted(run.tallies.items()):
        if not (tally.invocations or tally.requests):
            continue
        emails = max(1, run.emails)
        publishes = run.deliveries if name == "FeedbackQueue (SNS, event source)" else 0
        share = price({name: tally}, False, publishes).total() * per / ses * 100
        print(f"{name:<34}{tally.invocations:>12}{sum(tally.requests.values()):>10}"
              f"{tally.rru:>8.1f}{tally.wru:>8.1f}"
              f"{tally.log_bytes / emails:>12.0f}{tally.emf_bytes / emails:>12.0f}"
              f"{tally.platform_bytes / emails:>15.0f}{share:>9.2f}%")
        if detail:
            gb_seconds = lambda_seconds(tally) * tally.memory_mb / 1024
            print(f"    {'Lambda GB-s (estimate)':<46}{gb_seconds:>8.3f}  "
                  f"{gb_seconds * LAMBDA_PER_GB_SECOND * per / ses * 100:>8.2f} % of SES")
            for request, count in sorted(tally.requests.items()):
                print(f"    {request:<46}{count:>8}  {count * per:>9.1f} per 1,000 emails")
    print("(% of SES: each row's share, tracing off, storage apart; the feedback queue's row "
          "includes the SNS publishes that fill it)")
    rest = {n: t for n, t in run.tallies.items() if n not in FEEDBACK_PATH}
    for traced in (False, True):
        # The template's default, DeliveryEvents=Off: SES reports bounces, complaints,
        # rejects and delays (a few in a hundred emails, not counted here), not deliveries.
        bill = price(rest, traced, 0, stored)
        print(f"\nper 1,000 emails, tracing {'on (Tracing: Active)' if traced else 'off'}, "
              "DeliveryEvents=Off (the default):")
        for item, usd in bill.__dict__.items():
            note = " (an ESTIMATE: durations here plus modelled latency)" \
                if item == "lambda_compute" else \
                " (one trace per invocation)" if item == "xray" and traced else \
                f" ({LEDGER_MONTHS:.1f} months, table + backups; 25 GB of table free)" \
                if item == "storage" else ""
            print(f"  {item:<16} ${usd * per:.6f}  {usd * per / ses * 100:5.2f} % of SES{note}")
        flowing = bill.total() - bill.storage
        print(f"  {'total':<16} ${flowing * per:.6f}  {flowing * per / ses * 100:5.2f} % of "
              f"SES's ${ses:.2f} per 1,000, storage apart (this run, with its fixed parts; "
              "the goal, <= 2 %, is per email at scale: --marginal)")
        print(f"  {'':<16} ${bill.total() * per:.6f}  {bill.total() * per / ses * 100:5.2f} % "
              "with the ledger's storage")
        essentials = flowing * per / (SES_ESSENTIALS_PER_EMAIL * 1000) * 100
        print(f"  {'':<16} {'':>9}  {essentials:5.2f} % of the Essentials plan's $0.16 "
              "(without storage)")
        recorded = price(run.tallies, traced, run.deliveries).total() * per / ses * 100
        print(f"  {'':<16} {'':>9}  {recorded:5.2f} % with DeliveryEvents=Recorded (every "
              "delivery reported and shown per email; without storage)")
    month = price({"idle": idle}, False)
    metrics = len(run.metric_names) * METRIC_PER_MONTH
    print(f"\nfixed, per month: the scheduler every 5 minutes with nothing due "
          f"${month.total() * SCHEDULER_RUNS_PER_MONTH:.2f} "
          f"({(idle.log_bytes + idle.emf_bytes + idle.platform_bytes)} log bytes a run); "
          f"{len(run.metric_names)} custom metrics ${metrics:.2f} (one dimension each); "
          f"2 KMS keys (feedback and alarm topics) ${2 * KMS_KEY_PER_MONTH:.2f}; "
          "each SQS event source's long polls $0.10-0.26 (notes §2, not counted here)")


def report_marginal(small: Run, large: Run) -> None:
    """What each 1,000 more emails cost, from two runs of one series with fewer and more
    registrants: what does not grow with the emails (the scheduler's runs, a batch's writes
    once it is full) drops out, so this is the cost at a larger series' scale."""
    extra = large.emails - small.emails
    if extra <= 0:
        return
    per, ses = 1000 / extra, SES_PER_EMAIL * 1000

    def priced(run: Run, recorded: bool) -> float:  # each run priced whole, then differenced
        tallies = {n: t for n, t in run.tallies.items() if n != "idle scheduler run"
                   and (recorded or n not in FEEDBACK_PATH)}
        return price(tallies, False, run.deliveries if recorded else 0).total()

    default = (priced(large, False) - priced(small, False)) * per / ses * 100
    recorded = (priced(large, True) - priced(small, True)) * per / ses * 100
    print(f"\neach 1,000 more emails ({small.emails} -> {large.emails}), tracing off, storage "
          f"apart: {default:5.2f} % of SES with DeliveryEvents=Off (the default; goal <= 2 %), "
          f"{recorded:5.2f} % with DeliveryEvents=Recorded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrants", type=int, default=20)
    parser.add_argument("--tiny", action="store_true",
                        help="stop after the first session's reminders (CI)")
    parser.add_argument("--detail", action="store_true",
                        help="each function's requests by type, per 1,000 emails")
    parser.add_argument("--marginal", action="store_true",
                        help="also run with half the registrants, and print what each 1,000 "
                             "more emails cost (the larger series' scale)")
    args = parser.parse_args()
    until = datetime.fromisoformat("2023-10-27T00:00:00+00:00") if args.tiny else None
    half = Run()
    if args.marginal:
        play(half, max(1, args.registrants // 2), until)
    run = Run()
    play(run, args.registrants, until)
    marginal_of = (_copy_run(half), _copy_run(run)) if args.marginal else None
    report(run, args.detail)
    if marginal_of:
        report_marginal(*marginal_of)


if __name__ == "__main__":
    main()
