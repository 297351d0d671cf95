"""A sender instance sends its batch at once (a bounded pool of threads), sharing one pacer:
the overlap is measured in the mailer, not in wall time; at most once still holds, throttled
emails are deferred, failures are reported per record, and what cannot start in time goes
back on the queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import SECRET, SERIES_FILE, START, WEBHOOK, registration_body
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.mailer import OutgoingMessage
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.adapters.rate_limit import RateLimiter, pool_size
from webinar_notify.core.errors import InvalidInputError, RetryableError
from webinar_notify.core.signatures import sign
from webinar_notify.local.events import LocalContext, sqs_event
from webinar_notify.local.runtime import LocalRuntime, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file
from webinar_notify.services import sending

BATCH = 10


class OverlapMailer:
    """A slow SES stand-in: counts the sends in flight at once. With ``meet`` set, every send
    waits (10 s at most) until that many are inside together, which only a pool can do."""

    def __init__(self, outbox: OutboxMailer, meet: int = 0, throttle_every: int = 0,
                 refuse: str = "") -> None:
        self.outbox = outbox
        self.barrier = threading.Barrier(meet, timeout=10) if meet else None
        self.throttle_every = throttle_every
        self.refuse = refuse
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = self.calls = 0

    def send(self, message: OutgoingMessage) -> str:
        with self.lock:
            self.calls += 1
            call = self.calls
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            else:
                time.sleep(0.02)
            if self.throttle_every and call % self.throttle_every == 0:
                raise RetryableError("SES is throttling")
            if self.refuse and message.to.startswith(self.refuse):
                raise InvalidInputError("refused")
            return self.outbox.send(message)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxMailer:
    return OutboxMailer(tmp_path / "outbox", VirtualClock(START))


def _runtime(outbox: OutboxMailer, mailer: OverlapMailer) -> Iterator[LocalRuntime]:
    with local_runtime(outbox.clock, mailer, LocalSettings(webhook_secrets={"generic": SECRET})
                       ) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        # The local runner sends one at a time (its outbox in the same order every run);
        # unpaced on Lambda, an instance sends its whole batch at once.
        runtime.services.sender.pool = pool_size(0, BATCH)
        yield runtime


def _register(runtime: LocalRuntime, count: int, prefix: str = "person") -> None:
    now = runtime.clock.now()
    for i in range(count):
        body = registration_body(f"{prefix}{i}@example.org", f"P{i}", f"evt-{prefix}-{i}",
                                 created=now)
        headers = {"Webinar-Signature": sign(SECRET, int(now.timestamp()), body)}
        assert runtime.request("POST", WEBHOOK, headers, body).status == 202


def _invoke(runtime: LocalRuntime, messages: list[dict[str, Any]],
            timeout_ms: int = 60_000) -> list[str]:
    from webinar_notify.entrypoints import sender  # once the local environment is set

    event = sqs_event(messages, runtime.queue_arn)
    answer = sender.lambda_handler(event, LocalContext("webinar-notify-sender",  # type: ignore[arg-type]
                                                       timeout_ms=timeout_ms))
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def test_a_batch_of_ten_is_sent_at_once(outbox: OutboxMailer) -> None:
    mailer = OverlapMailer(outbox, meet=BATCH)  # a one-at-a-time sender breaks the barrier
    for runtime in _runtime(outbox, mailer):
        _register(runtime, BATCH)
        messages = runtime.queue.receive()
        assert len(messages) == BATCH
        assert _invoke(runtime, messages) == []
        runtime.queue.settle(messages, set())
    assert mailer.most_in_flight == BATCH
    assert sorted(str(e["to"]) for e in outbox.entries()) == sorted(
        f"person{i}@example.org" for i in range(BATCH))


@pytest.mark.usefixtures("atomic_moto")  # DynamoDB applies each conditional write atomically
def test_a_batch_delivered_twice_at_once_sends_each_email_once(outbox: OutboxMailer) -> None:
    mailer = OverlapMailer(outbox)
    for runtime in _runtime(outbox, mailer):
        _register(runtime, 5)
        messages = runtime.queue.receive()
        twice = messages + [{**m, "MessageId": m["MessageId"] + "-again"} for m in messages]
        assert _invoke(runtime, twice) == []
        assert _invoke(runtime, messages) == []  # and once more, later
    assert mailer.most_in_flight >= 2
    assert len(outbox.entries()) == 5
    assert len({str(e["to"]) for e in outbox.entries()}) == 5


def test_throttled_emails_in_a_batch_are_deferred_and_sent_later(outbox: OutboxMailer) -> None:
    mailer = OverlapMailer(outbox, throttle_every=3)
    for runtime in _runtime(outbox, mailer):
        _register(runtime, BATCH)
        messages = runtime.queue.receive()
        assert _invoke(runtime, messages) == []  # deferred: new messages, with a delay
        runtime.queue.settle(messages, set())
        first = len(outbox.entries())
        assert first == BATCH - mailer.calls // 3
        assert runtime.queue.depth() == BATCH - first
        mailer.throttle_every = 0
        clock: VirtualClock = runtime.clock  # type: ignore[assignment]
        clock.advance(timedelta(minutes=15))
        runtime.drain()
        assert runtime.queue.depth() == 0 and runtime.dead_letters() == 0
    assert sorted(str(e["to"]) for e in outbox.entries()) == sorted(
        f"person{i}@example.org" for i in range(BATCH))


def test_failures_are_reported_for_their_records_only(outbox: OutboxMailer) -> None:
    mailer = OverlapMailer(outbox, refuse="refused")
    for runtime in _runtime(outbox, mailer):
        _register(runtime, 6)
        _register(runtime, 3, prefix="refused")
        messages = runtime.queue.receive()
        poison = {**messages[0], "MessageId": "poison", "Body": "{not a job"}
        failed = _invoke(runtime, [*messages, poison])
    refused = {m["MessageId"] for m in messages if '"refused' in m["Body"]}
    assert len(refused) == 3
    assert sorted(failed) == sorted([*refused, "poison"])
    assert len(outbox.entries()) == 6


def test_what_cannot_start_before_the_timeout_goes_back_on_the_queue(
        outbox: OutboxMailer) -> None:
    """At 1 email/s, 25 s left holds 6 starts (the last 20 s are kept for finishing): the
    other 4 go back untouched, and a later invocation sends them."""
    mailer = OverlapMailer(outbox)
    now = [0.0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    for runtime in _runtime(outbox, mailer):
        runtime.services.sender.limiter = RateLimiter(1.0, lambda: now[0], advance)
        _register(runtime, BATCH)
        messages = runtime.queue.receive()
        assert _invoke(runtime, messages, timeout_ms=25_000) == []
        runtime.queue.settle(messages, set())
        assert len(outbox.entries()) == 6
        assert runtime.queue.depth() == 4
        runtime.drain()
        assert runtime.queue.depth() == 0 and runtime.dead_letters() == 0
    assert len({str(e["to"]) for e in outbox.entries()}) == BATCH == len(outbox.entries())


def test_a_slow_ses_never_runs_the_batch_into_the_timeout(
        outbox: OutboxMailer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unpaced, every job may start; but when sends are slow, workers stop claiming once the
    time to finish is reached, and hand the rest back (no deferral, nothing sent twice)."""
    mailer = OverlapMailer(outbox)
    monkeypatch.setattr(sending, "FINISH_SECONDS", 0.0)
    for runtime in _runtime(outbox, mailer):
        runtime.services.sender.pool = 2
        _register(runtime, BATCH)
        messages = runtime.queue.receive()
        slow = mailer.send

        def slower(message: OutgoingMessage, send: Any = slow) -> str:
            time.sleep(0.15)
            return str(send(message))

        mailer.send = slower  # type: ignore[method-assign]
        assert _invoke(runtime, messages, timeout_ms=400) == []  # 0.4 s for ten 0.17 s sends
        runtime.queue.settle(messages, set())
        sent_first = len(outbox.entries())
        assert 2 <= sent_first < BATCH and runtime.queue.depth() == BATCH - sent_first
        mailer.send = slow  # type: ignore[method-assign]
        runtime.drain()
        assert runtime.queue.depth() == 0 and runtime.dead_letters() == 0
    assert len({str(e["to"]) for e in outbox.entries()}) == BATCH == len(outbox.entries())


def test_the_pool_follows_the_share_of_the_rate() -> None:
    """ceil(r × 0.1 s × 1.5) threads for a share of r emails/s, within the batch and 40."""
    assert pool_size(14 / 2, 250) == 2
    assert pool_size(500 / 2, 250) == 38
    assert pool_size(1000 / 2, 250) == 40
    assert pool_size(500 / 2, 10) == 10
    assert pool_size(500 / 2, 250, memory_mb=256) == 8  # a thread per 32 MB of the function
    assert pool_size(500 / 10, 250, memory_mb=256) == 8
    assert pool_size(14 / 2, 250, memory_mb=256) == 2
    assert pool_size(500 / 2, 250, memory_mb=512) == 16
    assert pool_size(0, 10) == 10  # unpaced (the local runner): the whole batch at once


def test_threads_sharing_the_pacer_keep_its_rate() -> None:
    limiter = RateLimiter(200.0)
    starts: list[float] = []
    lock = threading.Lock()

    def send() -> None:
        limiter.acquire()
        with lock:
            starts.append(time.monotonic())

    threads = [threading.Thread(target=send) for _ in range(21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert starts[-1] - starts[0] >= 20 / 200 * 0.95  # 21 starts at 200/s span 0.1 s


def test_the_lambda_wiring_sizes_the_pool_and_its_connections_from_the_rate() -> None:
    from webinar_notify import bootstrap

    environment = {
        "TABLE_NAME": "t", "SEND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
        "SES_CONFIGURATION_SET": "cs", "WEBHOOK_SECRETS_PATH": "/w",
        "TOKEN_SECRET_PARAMETER": "/t", "REGISTRANT_KEY_PARAMETER": "/r",
        "SES_SEND_RATE": "500", "SENDER_CONCURRENCY": "2", "SENDER_BATCH_SIZE": "250"}
    sending = bootstrap.from_environment(environment).sender
    assert sending.pool == 38 and sending.limiter.interval == 1 / 250
    on_lambda = bootstrap.from_environment(  # Lambda says the function's memory
        {**environment, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"})
    assert on_lambda.sender.pool == 8 and on_lambda.sender.limiter.interval == 1 / 250
    for client in (sending.mailer.client, sending.ledger.client):  # type: ignore[attr-defined]
        assert client.meta.config.max_pool_connections >= sending.pool
