"""IAM, resource and key policies as AWS enforces them (moto enforces none of them).

Every function is driven once, completely, with the real adapters of the Lambda composition
root (SSM secrets, SES v2 raw sends, SQS batches, DynamoDB) on moto; every AWS call each one
makes is recorded and checked against its role in infra/template.yaml after the SAM transform.
Each role must allow every call and hold nothing that neither a call nor AWS on the function's
behalf uses.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from conftest import SECRET, SERIES_FILE, SERIES_ID, START, Harness
from webinar_notify import bootstrap
from webinar_notify.adapters.clock import SystemClock, VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.local import aws_calls
from webinar_notify.local.events import LocalContext
from webinar_notify.local.iam import (
    ACCOUNT,
    LOCAL_NAMES,
    LOGS_ACTIONS,
    REGION,
    XRAY_ACTIONS,
    Need,
    Policy,
    Principal,
    Stack,
    denied_needs,
    fits_reference,
    needs,
    unknown_actions,
    unused_grants,
)
from webinar_notify.local.infra import TEMPLATE, verify_sender
from webinar_notify.local.runtime import HttpAnswer, LocalSettings, local_runtime

FUNCTIONS = ("ApiFunction", "FeedbackFunction", "JobsFunction", "SchedulerFunction",
             "SenderFunction")
TEMPLATE_TEXT = Path(TEMPLATE).read_text(encoding="utf-8")
STACK = Stack()
KEY = "local-development-only"  # registrant key and token secret, as the test helpers use
S1_WEEK_BEFORE = START.replace(day=19, hour=13)  # 7 days before session s1 (26 Oct, 13:00Z)


@dataclass
class Drive:
    """Every attributed call of the complete drive: (function, service, operation, params)."""

    calls: list[tuple[str, str, str, Mapping[str, Any]]] = field(default_factory=list)

    def needs_of(self, function: str) -> list[tuple[str, Need]]:
        return [(f"{service} {operation}", need)
                for name, service, operation, params in self.calls if name == function
                for need in needs(service, operation, params)]


def _sent_texts() -> list[str]:
    """The raw messages SES (moto) accepted, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [m.raw_data for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]


def _link(kind: str, to: str = "grace@example.org") -> str:
    """The last personal link of this kind (manage, calendar, unsubscribe) SES was given for
    this person (the sender's pool sends a batch in no fixed order)."""
    import email
    import email.policy

    found = []
    for raw in _sent_texts():
        message = email.message_from_string(raw, policy=email.policy.default)
        if to not in str(message.get("To", "")):
            continue
        texts = [str(message.get("List-Unsubscribe", ""))] + [
            str(part.get_content()) for part in message.walk()  # type: ignore[attr-defined]
            if part.get_content_type() == "text/plain"]
        found += [m for text in texts
                  for m in re.findall(rf"/{kind}/{SERIES_ID}/([A-Za-z0-9._~-]+)", text)]
    assert found, f"no {kind} link was sent"
    return found[-1]


def _document() -> dict[str, Any]:
    """The seed series file as the CLI sends it."""
    from webinar_notify.organiser_requests import _json_safe
    from webinar_notify.series_files import read_yaml

    return dict(_json_safe(read_yaml(SERIES_FILE, ValueError)))  # type: ignore[arg-type]


def _form(harness: Harness, path: str, fields: str) -> HttpAnswer:
    """A form posted from the page itself."""
    headers = {"content-type": "application/x-www-form-urlencoded",
               "origin": "http://localhost:8000", "sec-fetch-site": "same-origin"}
    return harness.runtime.request("POST", path, headers, fields.encode())


@contextmanager
def _ses_throttles_once(patch: pytest.MonkeyPatch) -> Iterator[None]:
    """SES answers the next send with TooManyRequestsException, as at its rate limit."""
    from moto.core.exceptions import JsonRESTError
    from moto.sesv2.responses import SESV2Response

    original = SESV2Response.send_email
    calls = []

    def throttled(self: SESV2Response) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise JsonRESTError("TooManyRequestsException", "Maximum sending rate exceeded.")
        return original(self)

    with patch.context() as inner:
        inner.setattr(SESV2Response, "send_email", throttled)
        yield
    assert calls, "no send was throttled"


def _ses_bounce(address: str, delivery_tag: str) -> dict[str, Any]:
    import json

    detail = {"eventType": "Bounce",
              "mail": {"messageId": "m-1", "destination": [address],
                       "tags": {"delivery": [delivery_tag]}},
              "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                         "bouncedRecipients": [{"emailAddress": address}]}}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "MessageId": "n-1", "Message": json.dumps(detail),
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:FeedbackTopic"}}]}


def _one_container_per_function(patch: pytest.MonkeyPatch) -> dict[str, bootstrap.Services]:
    """As on Lambda, each function has its own composition root (and its own caches, so each
    one reads its secrets from SSM itself); the containers, by function."""
    import sys

    containers = {f: bootstrap.from_environment() for f in FUNCTIONS}

    def services() -> bootstrap.Services:
        return containers[aws_calls.current_function.get()]

    shared = bootstrap.services
    for name, module in list(sys.modules.items()):
        if name.startswith("webinar_notify.entrypoints.") and \
                getattr(module, "services", None) is shared:
            patch.setattr(module, "services", services)
    return containers


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drive]:
    """Each function's every path that reaches AWS, with the adapters Lambda uses."""
    recorded = Drive()

    def record(service: str, operation: str, params: Mapping[str, Any]) -> None:
        function = aws_calls.current_function.get()
        if function:
            recorded.calls.append((function, service, operation, params))

    outbox_dir = tmp_path_factory.mktemp("iam") / "outbox"
    clock = VirtualClock(START)
    settings = LocalSettings(webhook_secrets={"generic": SECRET}, queue="sqs", quiet=True)
    stop = aws_calls.watch(record)
    with pytest.MonkeyPatch.context() as patch, \
            local_runtime(clock, OutboxMailer(outbox_dir, clock), settings) as runtime:
        ssm = boto3.client("ssm", region_name=REGION)
        for name, value in {f"/webinar-notify/webhooks/{SERIES_ID}/generic": SECRET,
                            "/webinar-notify/token-secret": KEY,
                            "/webinar-notify/registrant-key": KEY,
                            "/webinar-notify/certificate-secret": KEY}.items():
            ssm.put_parameter(Name=name, Type="SecureString", Value=value)
        for name, value in {
                "TABLE_NAME": runtime.resources.table,
                "SEND_QUEUE_URL": runtime.resources.queue_url,
                "SES_CONFIGURATION_SET": LOCAL_NAMES["ConfigurationSet"],
                "WEBHOOK_SECRETS_PATH": "/webinar-notify/webhooks",
                "TOKEN_SECRET_PARAMETER": "/webinar-notify/token-secret",
                "REGISTRANT_KEY_PARAMETER": "/webinar-notify/registrant-key",
                "CERTIFICATE_SECRET_PARAMETER": "/webinar-notify/certificate-secret",
                "PUBLIC_BASE_URL": "http://localhost:8000",
                "JOB_QUEUE_URL": runtime.resources.job_queue_url,
                "EXPORT_BUCKET": runtime.resources.export_bucket,
                "USER_POOL_ID": runtime.pool.pool_id,
                "USER_POOL_CLIENT_ID": runtime.pool.client_id}.items():
            patch.setenv(name, value)
        patch.setattr(SystemClock, "now", lambda _self: clock.now())  # the drive's own time
        # The job function, and the routers the API imports on first use: imported now, their
        # containers are patched too.
        from webinar_notify.entrypoints import (  # noqa: F401
            certificate_routes,
            console_pages,
            jobs,
            organiser_reads,
            organiser_routes,
            public_pages,
        )

        containers = _one_container_per_function(patch)
        verify_sender("webinars@estro.example")
        harness = Harness(runtime, clock, OutboxMailer(outbox_dir, clock), outbox_dir)
        organiser = f"/organiser/series/{SERIES_ID}"

        from webinar_notify.adapters.queue import SqsQueue

        queued: list[Any] = []  # every job put on the send queue, to bring one back below
        send_jobs = SqsQueue.send
        patch.setattr(SqsQueue, "send", lambda self, batch, delay_seconds=0: (
            queued.extend(batch), send_jobs(self, batch, delay_seconds))[1])
        published = runtime.organiser(f"{organiser}/push", {"series": _document()}, "p1")
        assert published.status < 300, published.body
        for i, address in enumerate(("ada@example.com", "grace@example.org",
                                     "bounce@example.org")):
            answer = harness.register(email=address, event_id=f"e{i}",
                                      interests=["estro24-pre-meeting"])
            assert answer.status == 202, answer.body
        # moto's SQS waits a message's delay out on the wall clock: the email SES throttles
        # (deferred by a back-off and a spread of up to 30 s) comes back at once here.
        queue = containers["SenderFunction"].sender.queue
        deferred = queue.send
        patch.setattr(queue, "send", lambda batch, delay_seconds=0: deferred(batch))
        with _ses_throttles_once(patch):  # the claim is given back and the job deferred
            runtime.drain()
        runtime.drain()  # the deferred email, whoever's it was
        # A message that comes back after the lease finds its claim, and the sent log of the
        # claim's batch says SES took it: nothing goes out again. It is a version 2 message,
        # queued before the ledger moved, so the sender reads the former item first.
        sent_so_far = len(_sent_texts())
        runtime.queue.send_raw(json.dumps(json.loads(queued[0].to_json()) | {"v": 2}))
        clock.advance(timedelta(minutes=10))
        runtime.drain()
        assert len(_sent_texts()) == sent_so_far
        manage = f"/manage/{SERIES_ID}/{_link('manage')}"
        assert runtime.request("GET", manage, {}, b"").status == 200
        assert runtime.request("GET", f"{manage}/data", {}, b"").status == 200
        assert _form(harness, manage, "action=drop&session=s8").status == 200
        calendar = f"/calendar/{SERIES_ID}/{_link('calendar')}"
        assert runtime.request("GET", calendar, {}, b"").status == 200

        clock.set(S1_WEEK_BEFORE)
        runtime.tick()
        runtime.drain()
        unsubscribe = f"/unsubscribe/{SERIES_ID}/{_link('unsubscribe')}"
        assert runtime.request("GET", unsubscribe, {}, b"").status == 200
        assert _form(harness, unsubscribe, "List-Unsubscribe=One-Click").status == 200

        moved = runtime.organiser(f"{organiser}/sessions/s4", {"title": "A new title"}, "s4")
        assert moved.status < 300, moved.body
        announced = runtime.organiser(f"{organiser}/announcements", {
            "id": "glasgow", "subject": "Glasgow", "body_markdown": "Open.",
            "audience": {"interest": "estro24-pre-meeting"}}, "a1")
        assert announced.status < 300, announced.body
        later = runtime.organiser(f"{organiser}/announcements", {
            "id": "survey", "subject": "Survey", "body_markdown": "Tell us.",
            "audience": {"all": True}, "send_at": (clock.now() + timedelta(hours=1)).isoformat()},
            "a2")
        assert later.status < 300, later.body
        assert _run_jobs(runtime) == 2  # the session change and the announcement sent now
        runtime.drain()
        clock.advance(timedelta(hours=1, minutes=5))
        runtime.tick()
        runtime.drain()
        asked = _form(harness, manage, "action=erase")
        confirm = re.search(r'name="confirm" value="([^"]+)"', asked.text)
        assert asked.status == 200 and confirm, asked.text
        erased = _form(harness, manage, urlencode({"action": "erase_confirmed",
                                                    "confirm": html.unescape(confirm.group(1))}))
        assert erased.status == 200, erased.text

        from webinar_notify.adapters.mailer import delivery_tag
        from webinar_notify.core.text import registrant_id
        from webinar_notify.entrypoints import feedback

        # A job of hers still on the queue finds her registration gone: the sender reads her
        # tombstone (GetItem) and sends nothing.
        grace = registrant_id(KEY, SERIES_ID, "grace@example.org")
        sent_so_far = len(_sent_texts())
        runtime.queue.send_raw(next(job for job in queued
                                    if job.registrant_id == grace).to_json())
        runtime.drain()
        assert len(_sent_texts()) == sent_so_far
        bounced = registrant_id(KEY, SERIES_ID, "bounce@example.org")
        sent = [i["sk"]["S"] for i in harness.ledger() if i["pk"]["S"].endswith(bounced)]
        feedback.lambda_handler(_ses_bounce("bounce@example.org", delivery_tag(sent[0])),
                                LocalContext("webinar-notify-feedback"))  # type: ignore[arg-type]
        # SES's word on an email sent before the ledger moved: found in its former place.
        from webinar_notify.adapters.ledger import legacy_key
        from webinar_notify.core.jobs import delivery_key

        before_move = delivery_key("confirmation", SERIES_ID, bounced, "before the move")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.put_item(TableName=runtime.resources.table, Item=legacy_key(before_move) | {
            "state": {"S": "sent"}, "series": {"S": SERIES_ID}, "kind": {"S": "confirmation"}})
        feedback.lambda_handler(_ses_bounce("bounce@example.org", delivery_tag(before_move)),
                                LocalContext("webinar-notify-feedback"))  # type: ignore[arg-type]
        former = dynamodb.get_item(TableName=runtime.resources.table,
                                   Key=legacy_key(before_move))["Item"]
        assert former["delivery"] == {"S": "bounced"}, former
        ada = registrant_id(KEY, SERIES_ID, "ada@example.com")
        timeline = runtime.request(  # the console's read of one person's mail
            "GET", f"{organiser}/registrants/{ada}", {}, b"", jwt_claims={
                "sub": "s-1", "email": "o@example.org", "cognito:groups": [f"{SERIES_ID}.viewer"]})
        assert timeline.status == 200, timeline.body
        _export_through_the_job_function(runtime)
        clock.set(START.replace(day=27))  # after session s1
        _attendance_through_the_job_function(runtime)
        _certificates_through_the_functions(harness)
        _seats_through_the_functions(harness)
        _quiet_hours_through_the_functions(harness)
        _approvals_through_the_functions(harness)
        _sign_in_with_a_temporary_password(harness)
    stop()
    yield recorded


def _sign_in_with_a_temporary_password(harness: Harness) -> None:
    """The console's sign-in through the API's own Cognito client: the password, then the
    new one Cognito asks for (the app client's flow, which no role permission authorises)."""
    boto3.client("cognito-idp", region_name=REGION).admin_create_user(
        UserPoolId=harness.runtime.pool.pool_id, Username="new@example.org",
        TemporaryPassword="Temporary-Password-1", MessageAction="SUPPRESS")
    asked = _form(harness, "/console/sign-in",
                  urlencode({"username": "new@example.org", "password": "Temporary-Password-1"}))
    session = re.search(r'name="session" value="([^"]+)"', asked.text)
    assert asked.status == 200 and session, asked.text
    chosen = _form(harness, "/console/sign-in", urlencode({
        "step": "new_password", "username": "new@example.org",
        "session": html.unescape(session.group(1)), "new_password": "A-Chosen-Password-2",
        "confirm_password": "A-Chosen-Password-2"}))
    assert chosen.status in (302, 303), chosen.text


def _run_jobs(runtime: Any, remaining_ms: int = 900_000) -> int:
    """The job function over the messages waiting on the job queue now, one per invocation
    as its event source delivers them (a continuation they send waits for the next call)."""
    from webinar_notify.entrypoints import jobs
    from webinar_notify.local.events import sqs_event

    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=runtime.resources.job_queue_url,
                                   AttributeNames=["All"], MaxNumberOfMessages=10
                                   ).get("Messages", [])
    for message in messages:
        with aws_calls.acting_as("JobsFunction"):
            result = jobs.lambda_handler(sqs_event([message], "jobs"), LocalContext(
                "webinar-notify-jobs", timeout_ms=remaining_ms))  # type: ignore[arg-type]
        assert result == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=runtime.resources.job_queue_url,
                           ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def _export_through_the_job_function(runtime: Any) -> None:
    """An export: accepted by the API, a first step that runs out of time and hands on (the
    job function sends its continuation), a second that finishes, and the API's link."""
    organiser = f"/organiser/series/{SERIES_ID}"
    accepted = runtime.organiser(f"{organiser}/exports", {}, "x1")
    assert accepted.status == 202, accepted.body
    assert _run_jobs(runtime, remaining_ms=20_000) == 1  # under the hard margin: hands on
    assert _run_jobs(runtime) == 1  # the continuation, with a whole run's time
    state = runtime.request("GET", f"{organiser}/jobs/{accepted.body['job']}", {}, b"",
                            jwt_claims={"sub": "s-1", "email": "o@example.org",
                                        "cognito:groups": [f"{SERIES_ID}.viewer"]})
    assert state.body["state"] == "done", state.body
    assert state.body["link"].startswith("https://webinar-notify-exports.s3.")


def _attendance_through_the_job_function(runtime: Any) -> None:
    """An attendance import: the API stores the list of ids, the job function reads it. Ada
    is registered (the drive erased bounce@, not her); nobody@ never registered."""
    from webinar_notify.core.text import registrant_id

    accepted = runtime.organiser(f"/organiser/series/{SERIES_ID}/sessions/s1/attendance",
                                 {"emails": ["ada@example.com", "nobody@example.net"]}, "att1")
    assert accepted.status == 202, accepted.body
    assert _run_jobs(runtime) == 1
    done = bootstrap.services().jobs.job(SERIES_ID, accepted.body["job"])
    assert (done.state, done.total) == ("done", 2), done
    assert (done.recorded, done.not_registered) == (1, 1), done
    ada = bootstrap.services().store.get_registration(
        SERIES_ID, registrant_id(KEY, SERIES_ID, "ada@example.com"))
    assert ada is not None and "s1" in ada.attended


def _seats_through_the_functions(harness: Harness) -> None:
    """A registration policy: s4 full (no seats), a registrant waitlisted by the API; more
    seats published, and the job function promotes her (docs/registration_policies.md)."""
    from webinar_notify.core.series_document import series_to_document
    from webinar_notify.core.text import registrant_id

    runtime = harness.runtime
    organiser = f"/organiser/series/{SERIES_ID}"

    def push(capacity: int, key: str) -> None:
        current = series_to_document(runtime.store.get_series(SERIES_ID))
        for session in current["sessions"]:
            if session["id"] == "s4":
                session["capacity"] = capacity
        pushed = runtime.organiser(f"{organiser}/push", {"series": current, "quiet": True},
                                   key)
        assert pushed.status < 300, pushed.body
    push(0, "p-seats-0")
    assert harness.register(email="wen@example.org", event_id="e-wen",
                            sessions=["s4"]).status == 202
    push(1, "p-seats-1")
    assert _run_jobs(runtime) == 1  # the promotion
    seat = runtime.store.seats.standing(SERIES_ID, "s4",
                                        registrant_id(KEY, SERIES_ID, "wen@example.org"))
    assert seat is not None and seat.state == "confirmed"

    # a session added with one seat: the scheduler function seats whole-series registrants
    current = series_to_document(runtime.store.get_series(SERIES_ID))
    current["sessions"].append({**current["sessions"][-1], "id": "s9", "capacity": 1,
                                "start": "2024-06-13T15:00+02:00", "sequence": 0})
    added = runtime.organiser(f"{organiser}/push", {"series": current}, "p-seats-s9")
    assert added.status < 300 and added.body["notices"] == ["notice#s9#0"], added.body
    runtime.tick()
    assert _run_jobs(runtime) == 1  # the fan-out job finds it done
    assert runtime.store.seats.counts(SERIES_ID, ["s9"])["s9"].confirmed == 1


def _quiet_hours_through_the_functions(harness: Harness) -> None:
    """Los Angeles wakes after s2's 7-day reminder (07:00 there): the scheduler function parks
    it for its wave at 08:00 and reads it back then (docs/organisers.md, quiet hours)."""
    from webinar_notify.core.text import registrant_id

    runtime = harness.runtime
    assert harness.register(email="lee@example.org", event_id="e-lee", sessions=["s2"],
                            time_zone="America/Los_Angeles").status == 202
    runtime.drain()
    end = datetime(2023, 10, 30, 16, 0, tzinfo=UTC)  # past 08:00 in Los Angeles that day
    while (wake := runtime.next_wakeup()) is not None and wake <= end:
        harness.clock.set(max(wake, harness.clock.now()))
        runtime.tick()
        runtime.drain()
    lee = registrant_id(KEY, SERIES_ID, "lee@example.org")
    assert harness.items("PARKED#"), "the reminder was not parked"
    sent = [i for i in harness.ledger("reminder#") if i["pk"]["S"].endswith(lee)
            and i["state"]["S"] == "claimed"]  # claimed, and not given back: SES took it
    assert len(sent) == 1, sent  # the wave read it back, addressed it and SES sent it


def _approvals_through_the_functions(harness: Harness) -> None:
    """Manual approval: a registrant pending, the pending list read (its order index mended
    and marked on the first read) and the registrant approved (taken off the index)."""
    from webinar_notify.core.series_document import series_to_document

    runtime = harness.runtime
    organiser = f"/organiser/series/{SERIES_ID}"
    current = series_to_document(runtime.store.get_series(SERIES_ID))
    pushed = runtime.organiser(f"{organiser}/push", {"series": {**current, "approval": "manual"},
                                                     "quiet": True}, "p-approval")
    assert pushed.status < 300, pushed.body
    assert harness.register(email="kay@example.org", event_id="e-kay").status == 202
    viewer = {"sub": "s-1", "email": "o@example.org", "cognito:groups": [f"{SERIES_ID}.viewer"]}
    listed = runtime.request("GET", f"{organiser}/approvals", {}, b"", jwt_claims=viewer)
    assert listed.status == 200 and len(listed.body["pending"]) == 1, listed.body
    decided = runtime.organiser(f"{organiser}/approvals", {
        "decision": "approve", "registrants": [listed.body["pending"][0]["id"]]}, "a-kay")
    assert decided.status == 200, decided.body


def _certificates_through_the_functions(harness: Harness) -> None:
    """Certificates: a report uploaded (the API stores its rows), written by the job function,
    whose assessment issues Ada's (marked present by the attendance import); Lin marked by
    hand (the API issues hers); the public verification page and a revocation."""
    runtime = harness.runtime
    organiser = f"/organiser/series/{SERIES_ID}"
    from webinar_notify.core.series_document import series_to_document

    current = series_to_document(runtime.store.get_series(SERIES_ID))
    pushed = runtime.organiser(f"{organiser}/push", {"series": {
        **current, "certificates": {"sessions": ["s1"]}}, "quiet": True}, "p-certificates")
    assert pushed.status < 300, pushed.body
    report = runtime.organiser(f"{organiser}/sessions/s1/attendance-report", {
        "format": "csv", "report": "email,minutes\ngrace@example.org,60\n"}, "report-1")
    assert report.status == 202, report.body
    assert _run_jobs(runtime) == 1  # the upload, which starts the assessment
    assert _run_jobs(runtime) == 1  # the assessment, which issues Grace's certificate
    assert harness.register(email="lin@example.org", event_id="e-lin").status == 202
    marked = runtime.organiser(f"{organiser}/sessions/s1/marks",
                               {"emails": ["lin@example.org"]}, "mark-1")
    assert marked.status == 200 and marked.body["issued"] == 1, marked.body
    assert bootstrap.services().certificates.to_email(SERIES_ID) == []  # both emails queued
    runtime.drain()  # the sender reads each certificate (GetItem) and attaches its PDF
    emailed = [i for i in harness.ledger("certificate#")
               if i.get("state", {}).get("S") == "claimed"]
    assert len(emailed) == 2, emailed  # Ada's and Lin's, through SES
    from webinar_notify.core.text import registrant_id

    series = bootstrap.services().store.get_series(SERIES_ID)
    assert series is not None
    ada = bootstrap.services().certificates.held(
        SERIES_ID, registrant_id(KEY, SERIES_ID, "ada@example.com"), "session:s1")
    assert runtime.request("GET", f"/verify/{ada.certificate_id}", {}, b"").status == 200
    revoked = runtime.organiser(f"{organiser}/certificates/{ada.certificate_id}/revoke", {},
                                "revoke-1")
    assert revoked.status == 200, revoked.body
    # Lin erases her data: her presence and certificate go with it (BatchWriteItem)
    from datetime import date

    from webinar_notify.core import tokens

    lin = registrant_id(KEY, SERIES_ID, "lin@example.org")
    secret = bootstrap.services().manage.secrets.token_secrets()[0]
    manage = f"/manage/{SERIES_ID}/" + tokens.make(secret, "manage", SERIES_ID, lin,
                                                  expires=date(2025, 6, 1))
    asked = _form(harness, manage, "action=erase")
    confirm = re.search(r'name="confirm" value="([^"]+)"', asked.text)
    assert asked.status == 200 and confirm, asked.text
    erased = _form(harness, manage, urlencode({"action": "erase_confirmed",
                                                "confirm": html.unescape(confirm.group(1))}))
    assert erased.status == 200, erased.text
    assert not bootstrap.services().certificates.certificates.person_data(
        SERIES_ID, lin)["certificates"]


def test_every_function_was_driven_through_the_real_adapters(drive: Drive) -> None:
    services = {(f, s) for f, s, _, _ in drive.calls}
    assert {f for f, _ in services} == set(FUNCTIONS)
    assert ("SenderFunction", "sesv2") in services and ("SenderFunction", "ssm") in services
    assert ("ApiFunction", "ssm") in services and ("ApiFunction", "sqs") in services
    assert ("SchedulerFunction", "sqs") in services and ("FeedbackFunction", "ssm") in services
    assert ("ApiFunction", "cognito-idp") in services


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_is_allowed_by_the_functions_role(drive: Drive, function: str) -> None:
    policy = STACK.role_policy(function)
    refused = [f"{call}: {need}" for call, need in drive.needs_of(function)
               if denied_needs(policy, [need])]
    assert refused == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_role_holds_a_permission_its_function_never_uses(drive: Drive, function: str) -> None:
    used = [need for _, need in drive.needs_of(function)] + STACK.on_behalf(function)
    assert unused_grants(STACK.role_policy(function), used) == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_logs_and_tracing_are_granted_on_every_resource(function: str) -> None:
    """SAM's AWSLambdaBasicExecutionRole and AWSXrayWriteOnlyAccess (X-Ray has no resource
    ARNs); everything else names its resource."""
    anywhere = {action for action, resource in STACK.role_policy(function).grants()
                if resource == "*"}
    assert anywhere == set(LOGS_ACTIONS) | set(XRAY_ACTIONS)


def test_every_action_and_resource_is_one_the_iam_reference_knows(drive: Drive) -> None:
    recorded = {need for f in FUNCTIONS for _, need in drive.needs_of(f)}
    assert [str(n) for n in recorded if not fits_reference(n)] == []
    granted = {action for f in FUNCTIONS for action, _ in STACK.role_policy(f).grants()}
    assert unknown_actions(sorted(granted)) == []


def test_a_raw_ses_send_is_refused_by_the_old_sender_policy_and_allowed_by_the_new(
        drive: Drive) -> None:
    raw_sends = [need for call, need in drive.needs_of("SenderFunction")
                 if call == "sesv2 SendEmail"]
    assert {n.action for n in raw_sends} == {"ses:SendRawEmail", "ses:SendEmail"}
    fixed = "Action: [ses:SendRawEmail, ses:SendEmail]"
    assert fixed in TEMPLATE_TEXT
    before = Stack(TEMPLATE_TEXT.replace(fixed, "Action: [ses:SendEmail]"))

    refused = denied_needs(before.role_policy("SenderFunction"), raw_sends)
    assert {n.action for n in refused} == {"ses:SendRawEmail"}
    assert {r for n in refused for r in n.resources} >= {
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/estro.example",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/webinar-notify"}
    assert denied_needs(STACK.role_policy("SenderFunction"), raw_sends) == []


def test_the_checker_maps_calls_with_the_known_quirks() -> None:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    transaction = needs("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}},
        {"ConditionCheck": {"TableName": "t"}}, {"Delete": {"TableName": "t"}}]})
    assert {(n.action, n.resources) for n in transaction} == {
        (f"dynamodb:{a}", (table,)) for a in ("PutItem", "UpdateItem", "ConditionCheckItem",
                                              "DeleteItem")}
    assert [n.action for n in needs("sqs", "SendMessageBatch", {
        "QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q", "Entries": []})] == \
        ["sqs:SendMessage"]
    for name in ("/a/b", "a/b"):
        [need] = needs("ssm", "GetParameter", {"Name": name, "WithDecryption": True})
        assert need == Need("ssm:GetParameter", (f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/a/b",))
    plain = needs("sesv2", "SendEmail", {"FromEmailAddress": "A <a@x.example>",
                                         "Content": {"Simple": {}}})
    assert [n.action for n in plain] == ["ses:SendEmail"]
    assert plain[0].resources[1] == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/x.example"


def test_local_resource_names_are_the_ones_the_checker_resolves() -> None:
    from moto import mock_aws

    from webinar_notify.local.infra import create_resources

    with mock_aws():
        created = create_resources()
    assert created.table == LOCAL_NAMES["Table"]
    assert created.queue_url.endswith("/" + LOCAL_NAMES["SendQueue"])
    assert created.dead_letter_url.endswith("/" + LOCAL_NAMES["SendDeadLetterQueue"])


# -- resource and key policies that AWS services need ------------------------------------------

def _topic_key_allows(stack: Stack, topic: str, service: str, context: dict[str, str]) -> bool:
    """May ``service`` encrypt for this topic? Only a key of the stack can say so: the
    AWS-managed alias/aws/sns key's policy grants no service principal."""
    key = stack.resources[topic]["Properties"].get("KmsMasterKeyId")
    keys = [n for n, r in stack.resources.items()
            if r["Type"] == "AWS::KMS::Key" and stack.ref(n) == key]
    if not keys:
        return False
    policy = stack.resource_policy(keys[0])
    arn = stack.attribute(keys[0], "Arn")
    return all(policy.allows(action, arn, Principal(service=service), context)
               for action in ("kms:GenerateDataKey", "kms:Decrypt"))


ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:DeadLetterAlarm"
CLOUDWATCH = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": ALARM}


def test_cloudwatch_may_use_the_alarm_topics_key_and_publish_to_it() -> None:
    assert _topic_key_allows(STACK, "AlarmTopic", "cloudwatch.amazonaws.com", CLOUDWATCH)
    topic = STACK.ref("AlarmTopic")
    policy = STACK.resource_policy("AlarmTopic")
    assert policy.allows("sns:Publish", topic, Principal(service="cloudwatch.amazonaws.com"),
                         CLOUDWATCH)
    elsewhere = {"aws:SourceAccount": "999999999999",
                 "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:999999999999:alarm:x"}
    assert not policy.allows("sns:Publish", topic,
                             Principal(service="cloudwatch.amazonaws.com"), elsewhere)
    assert not _topic_key_allows(STACK, "AlarmTopic", "cloudwatch.amazonaws.com", elsewhere)
    assert not _topic_key_allows(STACK, "AlarmTopic", "ses.amazonaws.com", CLOUDWATCH)


def test_the_aws_managed_sns_key_would_silence_every_alarm() -> None:
    before = Stack(TEMPLATE_TEXT.replace("KmsMasterKeyId: !Ref AlarmKey",
                                         "KmsMasterKeyId: alias/aws/sns"))
    assert not _topic_key_allows(before, "AlarmTopic", "cloudwatch.amazonaws.com", CLOUDWATCH)


def test_every_alarm_publishes_to_the_alarm_topic() -> None:
    alarms = {n: r["Properties"] for n, r in STACK.resources.items()
              if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms and all(a["AlarmActions"] == [STACK.ref("AlarmTopic")]
                          for a in alarms.values())


def test_ses_may_use_the_feedback_key_and_publish_from_its_configuration_set() -> None:
    ses = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn":
           f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{LOCAL_NAMES['ConfigurationSet']}"}
    assert _topic_key_allows(STACK, "FeedbackTopic", "ses.amazonaws.com", ses)
    policy = STACK.resource_policy("FeedbackTopic")
    topic = STACK.ref("FeedbackTopic")
    assert policy.allows("sns:Publish", topic, Principal(service="ses.amazonaws.com"), ses)
    other_set = {**ses, "aws:SourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/x"}
    assert not policy.allows("sns:Publish", topic, Principal(service="ses.amazonaws.com"),
                             other_set)
    destination = STACK.resources["FeedbackEventDestination"]["Properties"]
    assert destination["EventDestination"]["SnsDestination"]["TopicARN"] == topic


def test_the_feedback_topic_alone_may_fill_the_feedback_queue_which_feeds_the_function() -> None:
    permissions = [r["Properties"] for r in STACK.resources.values()
                   if r["Type"] == "AWS::Lambda::Permission"
                   and r["Properties"]["FunctionName"] == STACK.ref("FeedbackFunction")]
    assert permissions == []  # nothing invokes it but its queue's event source
    queue = STACK.attribute("FeedbackQueue", "Arn")
    policy = STACK.resource_policy("FeedbackQueue")
    sns = Principal(service="sns.amazonaws.com")
    topic = STACK.ref("FeedbackTopic")
    assert policy.allows("sqs:SendMessage", queue, sns, {"aws:SourceArn": topic})
    assert not policy.allows("sqs:SendMessage", queue, sns,
                             {"aws:SourceArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:other"})
    [subscription] = [r["Properties"] for r in STACK.resources.values()
                      if r["Type"] == "AWS::SNS::Subscription"
                      and r["Properties"]["TopicArn"] == topic]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", queue)
    assert subscription["RawMessageDelivery"] in (True, "true")
    [mapping] = [r["Properties"] for r in STACK.resources.values()
                 if r["Type"] == "AWS::Lambda::EventSourceMapping"
                 and r["Properties"]["FunctionName"] == STACK.ref("FeedbackFunction")]
    assert mapping["EventSourceArn"] == queue
    role = STACK.role_policy("FeedbackFunction")
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert role.allows(action, queue)


def _role(stack: Stack, arn: str) -> dict[str, Any]:
    [role] = [r["Properties"] for n, r in stack.resources.items()
              if r["Type"] == "AWS::IAM::Role" and stack.attribute(n, "Arn") == arn]
    return role


def test_the_schedule_may_invoke_the_scheduler_and_write_its_dead_letter_queue() -> None:
    [schedule] = [r["Properties"] for r in STACK.resources.values()
                  if r["Type"] == "AWS::Scheduler::Schedule"]
    target = schedule["Target"]
    function = STACK.attribute("SchedulerFunction", "Arn")
    dlq = STACK.attribute("SchedulerDeadLetterQueue", "Arn")
    assert target["Arn"] == function and target["DeadLetterConfig"]["Arn"] == dlq
    role = _role(STACK, target["RoleArn"])
    trust = Policy(tuple(role["AssumeRolePolicyDocument"]["Statement"]))
    assert trust.allows("sts:AssumeRole", "*", Principal(service="scheduler.amazonaws.com"))
    policy = Policy(tuple(s for p in role["Policies"]
                          for s in p["PolicyDocument"]["Statement"]))
    assert policy.allows("lambda:InvokeFunction", function)
    assert policy.allows("sqs:SendMessage", dlq)
    assert sorted(policy.grants()) == [("lambda:InvokeFunction", function),
                                       ("sqs:SendMessage", dlq)]


@pytest.mark.parametrize("function", ["SchedulerFunction"])
def test_a_failed_asynchronous_run_reaches_the_alarmed_dead_letter_queue(function: str) -> None:
    [config] = [r["Properties"] for r in STACK.resources.values()
                if r["Type"] == "AWS::Lambda::EventInvokeConfig"
                and r["Properties"]["FunctionName"] == STACK.ref(function)]
    dlq = STACK.attribute("SchedulerDeadLetterQueue", "Arn")
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == dlq
    assert STACK.role_policy(function).allows("sqs:SendMessage", dlq)


def test_an_unknown_managed_policy_is_an_error_not_a_pass() -> None:
    text = TEMPLATE_TEXT.replace("      Policies:\n        - Statement:",
                                 "      Policies:\n        - AmazonSESFullAccess\n"
                                 "        - Statement:", 1)
    with pytest.raises(KeyError, match="AmazonSESFullAccess"):
        Stack(text).role_policy("FeedbackFunction")


def test_the_suite_wide_check_names_a_call_the_role_does_not_allow() -> None:
    from conftest import AttributedCall, denied_calls

    def call(operation: str) -> AttributedCall:
        return AttributedCall("SenderFunction", f"dynamodb {operation}", tuple(needs(
            "dynamodb", operation, {"TableName": LOCAL_NAMES["Table"]})), ())

    [line] = denied_calls([call("Scan"), call("GetItem")])
    assert line.startswith("SenderFunction made dynamodb Scan, which needs dynamodb:Scan on "
                           f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/webinar-notify")
    assert denied_calls([call("GetItem")]) == []

