"""The composition root as Lambda runs it: configuration from the environment only, secrets
from SSM SecureStrings, mail through SES (all on moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest

from conftest import SERIES_FILE, WEBHOOK, registration_body
from webinar_notify import bootstrap
from webinar_notify.adapters.secrets import SsmSecrets
from webinar_notify.core.signatures import sign
from webinar_notify.local import aws_limits
from webinar_notify.local.events import LocalContext, http_api_event, sqs_event
from webinar_notify.local.infra import LocalResources, create_resources, verify_sender
from webinar_notify.series_files import load_series_file


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    from moto import mock_aws

    with mock_aws(), aws_limits.enforced():
        resources = create_resources()
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/wn/webhooks/reirradiation-2023/generic", Type="SecureString",
                          Value="old-secret\nnew-secret")
        ssm.put_parameter(Name="/wn/token-secret", Type="SecureString", Value="token-secret")
        ssm.put_parameter(Name="/wn/registrant-key", Type="SecureString", Value="id-key")
        for name, value in {
            "TABLE_NAME": resources.table, "SEND_QUEUE_URL": resources.queue_url,
            "SES_CONFIGURATION_SET": "webinar-notify", "WEBHOOK_SECRETS_PATH": "/wn/webhooks",
            "TOKEN_SECRET_PARAMETER": "/wn/token-secret",
            "REGISTRANT_KEY_PARAMETER": "/wn/registrant-key",
            "PUBLIC_BASE_URL": "https://api.example.org",
        }.items():
            monkeypatch.setenv(name, value)
        bootstrap.install(None)
        yield resources
        bootstrap.install(None)


def test_ssm_secrets_split_rotation_values_and_tolerate_a_missing_parameter(
        aws: LocalResources) -> None:
    secrets = SsmSecrets(boto3.client("ssm"), "/wn/webhooks", "/wn/token-secret",
                         "/wn/registrant-key")
    assert secrets.webhook_secrets("reirradiation-2023", "generic") == ["old-secret",
                                                                        "new-secret"]
    assert secrets.webhook_secrets("reirradiation-2023", "typeform") == []
    assert secrets.token_secrets() == ["token-secret"]
    assert secrets.registrant_key() == "id-key"


def test_the_handlers_wired_from_the_environment_register_and_send(aws: LocalResources) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from webinar_notify.entrypoints import api, sender

    seed = load_series_file(SERIES_FILE)  # moved four years ahead: this test runs on today's clock
    series = replace(seed, sessions=tuple(replace(s, start=s.start.replace(year=s.start.year + 4))
                                          for s in seed.sessions))
    verify_sender(series.sender.email)
    bootstrap.services().organiser.publish(series, quiet=True)
    now = datetime.now(UTC)
    body = registration_body("heidi@example.dk", "Heidi Rønde", "evt-env", created=now,
                             sessions=["s2"])
    headers = {"content-type": "application/json",
               "webinar-signature": sign("new-secret", int(now.timestamp()), body)}

    answer = api.lambda_handler(http_api_event("POST", WEBHOOK, headers, body, now),
                                LocalContext("api"))  # type: ignore[arg-type]
    assert answer["statusCode"] == 202, answer

    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.queue_url, AttributeNames=["All"])["Messages"]
    result = sender.lambda_handler(sqs_event(messages, "arn:aws:sqs:eu-west-1:1:q"),
                                   LocalContext("sender"))  # type: ignore[arg-type]
    assert result == {"batchItemFailures": []}
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    assert "https://api.example.org/manage/reirradiation-2023/" in _text(message.raw_data)
    assert json.loads(messages[0]["Body"])["sessions"] == ["s2"]


def _text(raw: str) -> str:
    import email
    import email.policy

    parsed = email.message_from_string(raw, policy=email.policy.default)
    return str(parsed.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_the_handlers_import_without_what_the_artifact_leaves_out() -> None:
    """The Lambda artifact has neither the rehearsal kit, nor the command line, nor the test
    tools: every handler the template names must import without them."""
    import importlib.util
    import subprocess
    import sys

    from conftest import ROOT
    from webinar_notify.local.infra import load_template

    spec = importlib.util.spec_from_file_location("build_lambda",
                                                  ROOT / "scripts" / "build_lambda.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    left_out = [f"webinar_notify.{name.removesuffix('.py')}" for name in build.LEFT_OUT
                if name != "__pycache__"]
    assert "webinar_notify.local" in left_out
    handlers = sorted({r["Properties"]["Handler"].rpartition(".")[0]
                       for r in load_template()["Resources"].values()
                       if r["Type"] == "AWS::Serverless::Function"})
    program = f"""
import importlib, importlib.abc, sys
BLOCKED = {[*left_out, "moto", "samtranslator", "policy_sentry", "selenium"]!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{{name}} is not in the Lambda artifact")
sys.meta_path.insert(0, Block())
for module in {handlers!r}:
    importlib.import_module(module)
print("imported", len({handlers!r}))
"""
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true",
           "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"imported {len(handlers)}"


def test_functions_without_the_console_do_not_load_its_sign_in_or_views() -> None:
    """Every function imports bootstrap: the token checks (PyJWT, cryptography) and the
    console's views are loaded only where they are used, not at every cold start."""
    import subprocess
    import sys

    program = """
import sys
import webinar_notify.entrypoints.sender, webinar_notify.entrypoints.scheduler
import webinar_notify.entrypoints.feedback
loaded = [m for m in ("jwt", "cryptography", "webinar_notify.adapters.token_verifier",
                      "webinar_notify.services.console_views") if m in sys.modules]
print(",".join(loaded) or "none")
"""
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true",
           "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "none"


WIRED = {"TABLE_NAME": "t", "SEND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
         "SES_CONFIGURATION_SET": "cs", "WEBHOOK_SECRETS_PATH": "/w",
         "TOKEN_SECRET_PARAMETER": "/t", "REGISTRANT_KEY_PARAMETER": "/r",
         "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
WIRING = "from webinar_notify import bootstrap\nbootstrap.services()\n"


def _import_handlers(modules: list[str], loaded: tuple[str, ...], then: str = "",
                     **env: str) -> list[str]:
    """Import handlers in a fresh interpreter with this environment and run ``then``; which
    of ``loaded`` came with them."""
    import subprocess
    import sys

    program = f"""
import importlib, sys
for module in {modules!r}:
    importlib.import_module(module)
{then}
print(",".join(m for m in {loaded!r} if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-west-1",
                               **env}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [m for m in done.stdout.strip().split(",") if m]


TRACED = ["webinar_notify.entrypoints.sender", "webinar_notify.entrypoints.scheduler",
          "webinar_notify.entrypoints.feedback", "webinar_notify.entrypoints.jobs"]


def test_handlers_pay_nothing_for_tracing_that_is_off() -> None:
    """Powertools' Tracer() loads the X-Ray SDK even when tracing is off: a handler whose
    tracing is off (POWERTOOLS_TRACE_DISABLED, or outside Lambda) never imports it."""
    in_lambda = {"LAMBDA_TASK_ROOT": "/var/task"}
    assert _import_handlers(TRACED, ("aws_xray_sdk",), POWERTOOLS_TRACE_DISABLED="true",
                            **in_lambda) == []
    assert _import_handlers(TRACED, ("aws_xray_sdk",)) == []  # not on Lambda
    assert _import_handlers(TRACED, ("aws_xray_sdk",), **in_lambda) == ["aws_xray_sdk"]


def test_tracing_is_on_where_powertools_would_trace() -> None:
    from webinar_notify.entrypoints.tracing import tracing_on

    assert tracing_on({"LAMBDA_TASK_ROOT": "/var/task"})
    assert not tracing_on({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"})
    assert not tracing_on({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"})
    assert not tracing_on({})


HEAVY = ("jinja2", "icalendar", "markdown_it", "css_inline", "aws_xray_sdk", "jwt",
         "cryptography", "aws_lambda_powertools.utilities.parameters",
         "webinar_notify.core.providers", "webinar_notify.services.console_views",
         "webinar_notify.entrypoints.console_pages")


def test_no_cold_start_loads_what_its_first_event_may_not_need() -> None:
    """Importing a handler and wiring its services (a cold start) loads no renderer, no
    console, no token checks, no parameter provider and no X-Ray SDK: each loads with the
    first event that uses it (benchmarks/cold_start.py times the difference)."""
    for handler in ("scheduler", "feedback", "jobs", "sender"):
        assert _import_handlers([f"webinar_notify.entrypoints.{handler}"], HEAVY, WIRING,
                                POWERTOOLS_TRACE_DISABLED="true", **WIRED) == [], handler
    # The API loads its webhook route's intake and providers, and nothing of the console.
    console = ("jinja2", "markdown_it", "jwt", "cryptography", "aws_xray_sdk",
               "webinar_notify.services.console_views", "webinar_notify.entrypoints.console_pages")
    assert _import_handlers(["webinar_notify.entrypoints.api"], console, WIRING,
                            POWERTOOLS_TRACE_DISABLED="true", USER_POOL_ID="eu-west-1_P",
                            USER_POOL_CLIENT_ID="c", **WIRED) == []
    # The guard sees what a first event loads: the sender's first batch loads the renderer.
    first_batch = WIRING + "bootstrap.services().sender\n"
    assert {"jinja2", "icalendar"} <= set(_import_handlers(
        ["webinar_notify.entrypoints.sender"], HEAVY, first_batch,
        POWERTOOLS_TRACE_DISABLED="true", **WIRED))


def test_every_api_route_is_included_for_the_paths_it_answers() -> None:
    """The API includes a router on the first request under its prefix: a route outside every
    prefix of its module would never be reached."""
    import importlib

    from webinar_notify.entrypoints import api

    modules = {name for _prefix, names in api.ROUTERS for name in names}
    for name in modules:
        module = importlib.import_module(f"webinar_notify.entrypoints.{name}")
        routers = getattr(module, "ROUTERS", (module.router,))
        for router in routers:
            for rule, *_rest in router._routes:
                covering = {n for prefix, names in api.ROUTERS if rule.startswith(prefix)
                            for n in names}
                assert name in covering, (name, rule)


def test_a_console_request_includes_the_console_routes() -> None:
    from webinar_notify.entrypoints import api

    api.include_routes("/console/sign-in")
    rules = {route.rule.pattern for route in api.app._static_routes + api.app._dynamic_routes}
    assert any("console" in rule for rule in rules)


def test_a_function_makes_its_aws_clients_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wiring from the environment makes no client: each is made when first called, so a
    function pays only for the clients it uses (SSM's with its first secret)."""
    made: list[str] = []
    real = boto3.client

    def counted(service: str, *args: object, **kwargs: object) -> object:
        made.append(service)
        return real(service, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(bootstrap.boto3, "client", counted)
    built = bootstrap.from_environment({
        "TABLE_NAME": "t", "SEND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
        "SES_CONFIGURATION_SET": "cs", "WEBHOOK_SECRETS_PATH": "/w",
        "TOKEN_SECRET_PARAMETER": "/t", "REGISTRANT_KEY_PARAMETER": "/r",
        "AWS_DEFAULT_REGION": "eu-west-1"})
    assert made == []
    assert built.sender.mailer.client.meta.service_model.service_name == "sesv2"  # type: ignore[attr-defined]
    assert built.sender.mailer.client.meta.config.read_timeout == 15  # type: ignore[attr-defined]
    assert made == ["sesv2"]
    assert built.scheduler.secrets.token_parameter == "/t"  # type: ignore[attr-defined]
    assert made == ["sesv2", "ssm"]
