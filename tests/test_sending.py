"""The sender handler: SES on moto, the delivery ledger, suppression at send time, crashes,
faults, throttling and poison."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import SECRET, SERIES_FILE, START, Harness
from webinar_notify import bootstrap
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.mailer import OutgoingMessage, SesMailer
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.jobs import EmailJob, delivery_key
from webinar_notify.core.registration import Registrant
from webinar_notify.local.runtime import LocalRuntime, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file


class FlakyMailer:
    """Wraps a mailer: fails before sending, or after sending, a set number of times."""

    def __init__(self, inner: OutboxMailer, fail_before: int = 0,
                 error: Exception | None = None) -> None:
        self.inner = inner
        self.fail_before = fail_before
        self.error = error or RuntimeError("connection reset")

    def send(self, message: OutgoingMessage) -> str:
        if self.fail_before:
            self.fail_before -= 1
            raise self.error
        return self.inner.send(message)


@pytest.fixture
def ses_runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    clock = VirtualClock(START)
    with local_runtime(clock, lambda: SesMailer(boto3.client("sesv2"), "webinar-notify"),
                       LocalSettings(webhook_secrets={"generic": SECRET})) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        yield runtime


def test_ses_receives_one_raw_message_for_one_recipient(ses_runtime: LocalRuntime) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from conftest import WEBHOOK, registration_body
    from webinar_notify.core.signatures import sign

    now = ses_runtime.clock.now()
    body = registration_body("heidi@example.dk", "Heidi Rønde", "evt-1", created=now)
    answer = ses_runtime.request("POST", WEBHOOK, {
        "Webinar-Signature": sign(SECRET, int(now.timestamp()), body)}, body)
    assert answer.status == 202
    assert ses_runtime.drain() == 1

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    assert len(sent) == 1
    # moto lists the Destination and the To header: both must name the one recipient only.
    assert {addr for _name, addr in getaddresses(sent[0].destinations)} == {"heidi@example.dk"}
    assert sent[0].source == "webinars@estro.example"
    message = email.message_from_bytes(sent[0].raw_data.encode(), policy=email.policy.default)
    assert message["To"].addresses[0].display_name == "Heidi Rønde"
    assert sent[0].raw_data.isascii()


def test_a_redelivered_message_sends_nothing_twice(harness: Harness) -> None:
    from webinar_notify.entrypoints import sender
    from webinar_notify.local.events import sqs_event
    from webinar_notify.local.runtime import LocalContext

    harness.register()
    runtime = harness.runtime
    messages = runtime.queue.receive()
    event = sqs_event(messages, runtime.queue_arn)

    first = sender.lambda_handler(event, LocalContext("sender"))  # type: ignore[arg-type]
    second = sender.lambda_handler(event, LocalContext("sender"))  # type: ignore[arg-type]

    assert first["batchItemFailures"] == [] and second["batchItemFailures"] == []
    assert len(harness.outbox.entries()) == 1


def _runtime_with(tmp_path: Path, mailer_factory: object) -> Iterator[tuple[LocalRuntime,
                                                                          OutboxMailer]]:
    clock = VirtualClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    mailer = mailer_factory(outbox)  # type: ignore[operator]
    with local_runtime(clock, mailer, LocalSettings(webhook_secrets={"generic": SECRET})) as rt:
        rt.push_series(load_series_file(SERIES_FILE))
        yield rt, outbox


def _register(runtime: LocalRuntime) -> None:
    from conftest import WEBHOOK, registration_body
    from webinar_notify.core.signatures import sign

    now = runtime.clock.now()
    body = registration_body("ada@example.com", "Ada", "evt-1", created=now)
    headers = {"Webinar-Signature": sign(SECRET, int(now.timestamp()), body)}
    assert runtime.request("POST", WEBHOOK, headers, body).status == 202


def drain_until_empty(runtime: LocalRuntime, within: timedelta = timedelta(hours=6)) -> None:
    """Drain, then move the virtual clock to the next delayed message, until none is left."""
    clock: VirtualClock = runtime.clock  # type: ignore[assignment]
    give_up = clock.now() + within
    runtime.drain()
    while (due := runtime.queue.next_visible()) is not None:
        assert due <= give_up, "messages still queued"
        clock.set(max(due, clock.now()))
        runtime.drain()


def test_a_failure_before_sending_loses_nothing(tmp_path: Path) -> None:
    for runtime, outbox in _runtime_with(tmp_path, lambda o: FlakyMailer(o, fail_before=2)):
        _register(runtime)
        drain_until_empty(runtime)  # fails twice, released and requeued each time, then sent
        assert len(outbox.entries()) == 1
        assert runtime.dead_letters() == 0


def test_more_failures_than_the_queue_allows_receives_still_end_in_one_send(
        tmp_path: Path) -> None:
    """Each failure before SES accepted is a new message with a delay, so seven faults in a row
    (more than the five receives before the dead-letter queue) lose nothing."""
    for runtime, outbox in _runtime_with(tmp_path, lambda o: FlakyMailer(o, fail_before=7)):
        _register(runtime)
        started = runtime.clock.now()
        drain_until_empty(runtime)
        assert len(outbox.entries()) == 1
        assert runtime.dead_letters() == 0
        # backing off: 60 s, 2 min, 4 min ... (plus a spread of up to 30 s each)
        assert timedelta(minutes=60) < runtime.clock.now() - started < timedelta(minutes=70)


def test_ses_throttling_is_retried_without_loss(tmp_path: Path) -> None:
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException",
                                       "Message": "Maximum sending rate exceeded."}},
                            "SendEmail")

    class ThrottledSes:
        """An SES client that throttles three times, then accepts."""

        def __init__(self) -> None:
            self.throttles = 3

        def send_email(self, **_request: object) -> dict[str, str]:
            if self.throttles:
                self.throttles -= 1
                raise throttled
            return {"MessageId": "accepted"}

    class Recorded(SesMailer):
        def __init__(self, outbox: OutboxMailer) -> None:
            super().__init__(ThrottledSes(), "cs")  # type: ignore[arg-type]
            self.outbox = outbox

        def send(self, message: OutgoingMessage) -> str:
            message_id = super().send(message)  # raises RetryableError while throttled
            self.outbox.send(message)
            return message_id

    def throttling_ses(outbox: OutboxMailer) -> Recorded:
        return Recorded(outbox)

    for runtime, outbox in _runtime_with(tmp_path, throttling_ses):
        _register(runtime)
        for _round in range(6):  # each throttle puts the job back, for longer each time
            runtime.drain()
            runtime.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
        assert len(outbox.entries()) == 1
        assert runtime.dead_letters() == 0 and runtime.queue.depth() == 0


def test_a_permanently_failing_email_ends_in_the_dead_letter_queue(tmp_path: Path) -> None:
    for runtime, outbox in _runtime_with(tmp_path, lambda o: FlakyMailer(o, fail_before=99)):
        _register(runtime)
        started = runtime.clock.now()
        drain_until_empty(runtime)
        assert outbox.entries() == []
        assert runtime.dead_letters() == 1
        # eight retries on the queue (about 75 minutes), then the queue's five receives
        assert runtime.clock.now() - started < timedelta(hours=2)
        assert runtime.queue.depth() == 0


def test_an_email_about_a_series_that_is_gone_fails_at_once(harness: Harness) -> None:
    """No retries on the queue when none can help: the five receives, then the DLQ."""
    from webinar_notify.core.jobs import EmailJob
    from webinar_notify.core.registration import Registrant

    job = EmailJob(kind="confirmation", series_id="gone-2023", series_revision=1,
                   registrant_id="r1", recipient=Registrant("ada@example.com", "Ada", "UTC"),
                   session_ids=("s1",), key="confirmation#gone-2023#x#r1")
    harness.runtime.queue.send_raw(job.to_json())
    harness.runtime.drain()
    assert harness.runtime.dead_letters() == 1
    assert harness.runtime.queue.next_visible() is None
    assert harness.outbox.entries() == []


def test_a_poison_message_ends_in_the_dead_letter_queue(harness: Harness) -> None:
    runtime = harness.runtime
    runtime.queue.send_raw("{not a job")
    runtime.drain()
    assert runtime.dead_letters() == 1
    assert harness.outbox.entries() == []


def test_a_crash_after_ses_accepted_resends_only_after_the_lease(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one documented window: sent, then the sender died before its sent log noted it."""
    from webinar_notify.adapters.ledger import SentLog

    real_sent = SentLog.sent
    crashes = iter([True])

    def crash_once(log: SentLog, job: EmailJob) -> None:
        if next(crashes, False):
            raise RuntimeError("sender killed after SES accepted")
        real_sent(log, job)

    monkeypatch.setattr(SentLog, "sent", crash_once)
    harness.register()
    harness.runtime.drain()
    # The redelivery finds the claim still held, and waits for the lease instead of sending...
    assert len(harness.outbox.entries()) == 1
    assert harness.runtime.dead_letters() == 0
    assert harness.queued() == 1
    # ...after the lease (the function's timeout) the email is sent once more, and no more.
    harness.clock.advance(timedelta(minutes=2))
    harness.runtime.drain()
    assert len(harness.outbox.entries()) == 2
    harness.clock.advance(timedelta(minutes=20))
    harness.runtime.drain()
    assert len(harness.outbox.entries()) == 2
    assert harness.queued() == 0


def test_no_log_line_holds_an_address_or_a_name(harness: Harness) -> None:
    import io
    import logging

    buffer = io.StringIO()
    handlers = logging.getLogger("webinar-notify").handlers
    streams = [(h, h.setStream(buffer)) for h in handlers
               if isinstance(h, logging.StreamHandler)]
    assert streams, "the service logger writes to a stream"
    logging.getLogger("webinar-notify").setLevel(logging.DEBUG)
    try:
        _register_twice_and_send(harness)
    finally:
        for handler, stream in streams:
            handler.setStream(stream)
    logged = buffer.getvalue()
    assert "webhook accepted" in logged and "email handled" in logged
    assert "secret.person" not in logged
    assert "Zyxwvut" not in logged
    assert "bad address" not in logged


def _register_twice_and_send(harness: Harness) -> None:
    harness.register(email="secret.person@example.com", name="Zyxwvut Qponmlk")
    harness.register(email="secret.person@example.com", name="Zyxwvut Qponmlk")
    harness.post(b'{"id": "x", "type": "registration.created", "created": 1, "data": '
                 b'{"registrant": {"email": "bad address@example.com", "full_name": "Zyxwvut"}}}')
    harness.runtime.drain()


def test_a_hard_bounce_while_jobs_are_queued_stops_those_jobs(harness: Harness) -> None:
    from test_feedback import S1, ses_event
    from webinar_notify.entrypoints import feedback
    from webinar_notify.local.events import LocalContext

    for i, address in enumerate(("gone@example.org", "fine@example.org")):
        harness.register(email=address, name="X", event_id=f"e{i}")
    harness.runtime.drain()
    harness.clock.set(S1 - timedelta(days=7))
    harness.runtime.tick()
    assert harness.queued() == 2  # both reminders wait in the queue...

    counted = feedback.lambda_handler(ses_event("Bounce", "Gone@Example.org"),
                                      LocalContext("feedback"))  # type: ignore[arg-type]
    assert counted == {"hard_bounces": 1}  # ...when the bounce arrives
    harness.runtime.drain()

    reminded = [e["to"] for e in harness.outbox.entries() if e["kind"] == "reminder"]
    assert reminded == ["fine@example.org"]
    assert harness.queued() == 0 and harness.runtime.dead_letters() == 0  # never retried
    claimed = harness.ledger("reminder#")
    assert len(claimed) == 1  # the suppressed job wrote nothing to the ledger


def test_an_organisers_test_copy_to_a_suppressed_address_is_not_sent(harness: Harness) -> None:
    from webinar_notify.core.text import suppression_id

    harness.runtime.store.suppress(suppression_id("local-development-only",
                                                  "bounced@estro.example"), "bounce",
                                   harness.clock.now())
    body = {"id": "news", "subject": "News", "body_markdown": "Some news.",
            "audience": {"all": True}}
    for i, address in enumerate(("bounced@estro.example", "organiser@estro.example")):
        answer = harness.runtime.organiser("/organiser/series/reirradiation-2023/announcements",
                                           {**body, "test_to": address}, f"test-{i}")
        assert answer.status == 202, answer.body
    harness.runtime.drain()
    assert [e["to"] for e in harness.outbox.entries()] == ["organiser@estro.example"]
    assert harness.queued() == 0 and harness.runtime.dead_letters() == 0


def _job(about: str) -> EmailJob:
    return EmailJob(kind="reminder", series_id="reirradiation-2023", series_revision=1,
                    registrant_id="r1", recipient=Registrant("x@example.org", "X", "UTC"),
                    session_ids=("s1",), key=delivery_key("reminder", "reirradiation-2023",
                                                          "r1", about))


def test_a_batch_back_after_its_sender_died_reads_that_senders_log_once(
        harness: Harness) -> None:
    """Every claim of a batch names the same sent log: after the lease, the log that says
    which of them SES took is read once, not once per email."""
    from webinar_notify.adapters.ledger import DynamoLedger

    client = boto3.client("dynamodb")
    ledger = DynamoLedger(client, harness.runtime.resources.table)
    lease, t = timedelta(seconds=60), harness.clock.now()
    jobs, dead = [_job(f"e{i}") for i in range(12)], ledger.sent_log(t)
    for job in jobs:
        assert ledger.claim(job, t, lease, dead) == "claimed"
    for job in jobs[:11]:  # SES took eleven; the sender died before the twelfth went
        dead.sent(job)
    dead.flush(last=True)
    queries: list[str] = []
    query = client.query

    def counted(**request: Any) -> Any:
        queries.append(request["ExpressionAttributeValues"][":pk"]["S"])
        return query(**request)

    client.query = counted  # type: ignore[method-assign]
    later, back = t + lease + timedelta(seconds=1), ledger.sent_log(t + lease)
    seen = [ledger.claim(job, later, lease, back) for job in jobs]
    del client.query  # type: ignore[attr-defined]
    assert seen == ["sent"] * 11 + ["claimed"]
    assert len(queries) == 1 and queries[0].startswith("SENTLOG#")


@pytest.mark.parametrize("kind", ["dynamodb", "memory"])
def test_the_ledgers_local_stand_in_keeps_the_dynamodb_ledgers_rules(
        harness: Harness, kind: str) -> None:
    from webinar_notify.adapters.ledger import DynamoLedger, Ledger, MemoryLedger

    ledger: Ledger = (DynamoLedger(boto3.client("dynamodb"), harness.runtime.resources.table)
                      if kind == "dynamodb" else MemoryLedger())
    lease = timedelta(seconds=60)
    t = harness.clock.now()
    job, first = _job("a"), ledger.sent_log(t)
    seen = [ledger.claim(job, t, lease, first), ledger.claim(job, t + lease, lease, first)]
    ledger.release(job, first)
    seen.append(ledger.claim(job, t, lease, first))
    # Older than the lease, and its log does not name it: its sender died before SES's answer.
    crashed = ledger.sent_log(t)
    seen.append(ledger.claim(job, t + lease + timedelta(seconds=1), lease, crashed))
    crashed.sent(job)
    crashed.flush()
    ledger.release(job, first)  # no longer that sender's claim: nothing changes
    seen += [ledger.claim(job, t, lease, ledger.sent_log(t)),  # held, and not yet stale
             ledger.claim(job, t + timedelta(days=9), lease, ledger.sent_log(t))]
    assert seen == ["claimed", "busy", "claimed", "claimed", "busy", "sent"]
    other = _job("b")  # many emails in one log: each found by its own mark
    for n in range(30):
        crashed.sent(_job(f"filler-{n}"))
    assert ledger.claim(other, t, lease, crashed) == "claimed"
    crashed.sent(other)
    crashed.flush()
    assert ledger.claim(other, t + timedelta(days=1), lease, ledger.sent_log(t)) == "sent"


def test_a_sent_log_write_that_fails_is_tried_again_and_only_the_last_one_counts_missed(
        ) -> None:
    from webinar_notify.adapters.ledger import FLUSH_EMAILS, SentLog, sent_mark

    written: list[str] = []
    refusals = iter([True])

    def write(log_id: str, part: int, marks: list[str]) -> None:
        if next(refusals, False):
            raise RuntimeError("throttled")
        written.extend(marks)

    log = SentLog("batch", write)
    jobs = [_job(f"a{n}") for n in range(FLUSH_EMAILS + 1)]
    for job in jobs:  # the tenth's write is refused; the eleventh's takes all eleven
        log.sent(job)
    log.flush(last=True)
    assert sorted(written) == sorted(sent_mark(job.key) for job in jobs) and log.missed == 0
    assert log.tally.total() == len(jobs)

    def refuse(log_id: str, part: int, marks: list[str]) -> None:
        raise RuntimeError("throttled")

    lost = SentLog("batch-2", refuse)
    for job in jobs[:3]:
        lost.sent(job)
    lost.flush(last=True)
    assert lost.missed == 3  # sent, and reported: the sender's SentMarksMissed metric
    assert lost.tally.total() == 3  # sent is sent: counted, whether noted or not


def test_the_ses_client_neither_retries_nor_outwaits_the_sender() -> None:
    """A retried SES call can send twice, and a call that outlasts the function times out the
    whole batch: SES errors and hangs must fail the one email, for the queue to retry."""
    from webinar_notify.local.infra import load_template

    timeout = int(load_template()["Resources"]["SenderFunction"]["Properties"]["Timeout"])
    built = bootstrap.from_environment({
        "TABLE_NAME": "t", "SEND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
        "SES_CONFIGURATION_SET": "cs", "WEBHOOK_SECRETS_PATH": "/w",
        "TOKEN_SECRET_PARAMETER": "/t", "REGISTRANT_KEY_PARAMETER": "/r"})
    config = built.sender.mailer.client.meta.config  # type: ignore[attr-defined]
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout + config.read_timeout <= timeout / 3
