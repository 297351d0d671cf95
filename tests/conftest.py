"""Fixtures: the real handlers on moto, with resources built from infra/template.yaml."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.ledger import Ledger
from webinar_notify.adapters.mail_counts import MailTally
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.signatures import sign
from webinar_notify.core.text import registrant_id
from webinar_notify.local.runtime import HttpAnswer, LocalRuntime, LocalSettings, local_runtime
from webinar_notify.local.server import LocalKey, LocalServer
from webinar_notify.series_files import load_series_file

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

    def manage_path(self, to: str | None = None) -> str:
        """The manage page's path from the first email (to this address)."""
        return self.link(r"http://localhost:8000(/manage/\S+)", to=to)

    def erase(self, to: str, path: str = "") -> None:
        """The two presses a person makes on their manage page: "Delete my data", then
        "Yes, delete my data" (``path``: a manage path read earlier)."""
        path = path or self.manage_path(to)
        form = {"content-type": "application/x-www-form-urlencoded"}
        asked = self.runtime.request("POST", path, form, b"action=erase")
        match = re.search(r'name="confirm" value="([^"]+)"', asked.text)
        assert asked.status == 200 and match
        erased = self.runtime.request(
            "POST", path, form, f"action=erase_confirmed&confirm={match.group(1)}".encode())
        assert erased.status == 200 and "Your data is deleted" in erased.text

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

    def ledger(self, kind: str = "") -> list[dict[str, Any]]:
        """The ledger's emails (of one kind), each under its series and registrant."""
        return [i for i in self.items(kind) if i["pk"]["S"].startswith("LEDGER#")]

    def queued(self) -> int:
        return self.runtime.queue.depth()


def send_through(ledger: Ledger, jobs: list[EmailJob], at: datetime) -> MailTally:
    """Each job claimed and taken by SES as the sender does it, in one batch with one sent
    log; the batch's counts are returned, for the caller to write (``ledger.count``)."""
    log = ledger.sent_log(at)
    for job in jobs:
        assert ledger.claim(job, at, timedelta(minutes=5), log) == "claimed"
        log.sent(job)
    log.flush()
    return log.tally


def registration_body(email: str, name: str, event_id: str, *, created: datetime,
                      event_type: str = "registration.created", **data: Any) -> bytes:
    registrant = {"email": email, "full_name": name}
    if "time_zone" in data:
        registrant["time_zone"] = data.pop("time_zone")
    return json.dumps({"id": event_id, "type": event_type, "created": int(created.timestamp()),
                       "data": {"registrant": registrant, **data}}).encode()


def without(reason: str) -> None:
    """A test that needs a tool this machine lacks (chromium, axe-core): skipped on a
    developer's machine, but a failure where the run says the tools must be there (CI sets
    WEBINAR_NOTIFY_REQUIRE_BROWSER, as scripts/check installs them there), so that a broken
    install can never pass as a skip."""
    if os.environ.get("WEBINAR_NOTIFY_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}; this run requires it (WEBINAR_NOTIFY_REQUIRE_BROWSER)")
    pytest.skip(reason)


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = ROOT / "test-artifacts" / "screenshots"  # screenshots the page tests leave to look at
_QUIET_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars")


@contextmanager
def headless_chromium(window: str | None = "1280,900",
                      logs: dict[str, str] | None = None) -> Iterator[Any]:
    """Debian's chromium, headless and quiet on the network (``logs``: Chrome's
    ``goog:loggingPrefs``); without it the test is skipped, or fails in CI (``without``)."""
    if not (CHROMIUM and CHROMEDRIVER):
        without("needs Debian's chromium and chromium-driver (scripts/check installs them "
                "as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    if logs:
        options.set_capability("goog:loggingPrefs", logs)
    for flag in (*_QUIET_FLAGS, *((f"--window-size={window}",) if window else ())):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def serving(server: LocalServer, runtime: LocalRuntime) -> Iterator[None]:
    """``runtime``'s API on ``server``'s port, from a thread, until the block ends."""
    server.install(runtime, LocalKey("K", "S"))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


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


# ---- IAM: every AWS call a function makes must be allowed by its role in the template -------
# Calls are attributed to the template's functions (LocalRuntime._invoke, and the entry points'
# handlers wrapped below for tests that call them directly); calls outside any function (test
# setup, pushing a series) are not checked. A call the function's role in the transformed
# template does not allow fails the test that made it.

from webinar_notify.local import aws_calls, iam  # noqa: E402 (the IAM section is self-contained)
from webinar_notify.local.infra import load_template  # noqa: E402


@dataclass(frozen=True)
class AttributedCall:
    function: str  # logical id of the template's function
    call: str  # e.g. "sesv2 SendEmail"
    needs: tuple[iam.Need, ...]
    parameters: tuple[tuple[str, str], ...]  # the template parameters the environment shows


ATTRIBUTED_CALLS: list[AttributedCall] = []


def _record_attributed(service: str, operation: str, params: Any) -> None:
    function = aws_calls.current_function.get()
    if function:
        ATTRIBUTED_CALLS.append(AttributedCall(
            function, f"{service} {operation}", tuple(iam.needs(service, operation, params)),
            tuple(sorted(iam.parameters_from_environment(os.environ).items()))))


def denied_calls(calls: list[AttributedCall]) -> list[str]:
    """A line for every permission one of these calls needs and its function's role lacks."""
    lines = []
    for call in dict.fromkeys(calls):  # the same call made again needs checking once
        policy = iam.stack_for(call.parameters).role_policy(call.function)
        lines += [f"{call.function} made {call.call}, which needs {need}: its role in "
                  "infra/template.yaml does not allow it"
                  for need in iam.denied_needs(policy, call.needs)]
    return list(dict.fromkeys(lines))


@pytest.fixture(scope="session", autouse=True)
def _handlers_act_as_their_functions() -> Iterator[None]:
    """Handlers called directly run as the template's function that points at them."""
    import functools
    import importlib

    from webinar_notify.local.runtime import LOCAL_ENVIRONMENT

    aws_calls.watch(_record_attributed)
    handlers = [(logical_id, *resource["Properties"]["Handler"].rpartition(".")[::2])
                for logical_id, resource in load_template()["Resources"].items()
                if resource["Type"] == "AWS::Serverless::Function"]
    with pytest.MonkeyPatch.context() as importing:  # as the local runtime imports them
        for name, value in LOCAL_ENVIRONMENT.items():
            if name.startswith("POWERTOOLS_"):
                importing.setenv(name, value)
        modules = {module: importlib.import_module(module) for _, module, _ in handlers}
    with pytest.MonkeyPatch.context() as patch:
        for logical_id, module_name, attribute in handlers:
            module = modules[module_name]
            original = getattr(module, attribute)

            @functools.wraps(original)
            def acting(event: Any, context: Any, _original: Any = original,
                       _function: str = logical_id) -> Any:
                with aws_calls.acting_as(_function):
                    return _original(event, context)

            patch.setattr(module, attribute, acting)
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    first = len(ATTRIBUTED_CALLS)
    outcome = yield
    denied = denied_calls(ATTRIBUTED_CALLS[first:])
    if denied and outcome.excinfo is None:
        outcome.force_exception(AssertionError(
            "AWS would refuse calls this test made:\n" + "\n".join(denied)))
