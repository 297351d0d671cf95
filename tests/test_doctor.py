"""`webinar-notify doctor`: one line per check, the fix in each, non-zero exit on a failure,
only Get/List/Describe calls, and no parameter value in its output.

The checks are pure and tested on snapshots; the reader and the command run on moto against a
stand-in of the deployed stack. moto 5.2 lacks a few pieces, added here and only here:

- CloudFormation cannot create AWS::SES::ConfigurationSet or ::ConfigurationSetEventDestination:
  two small resource models create them in moto's own SES backend, so the stand-in stack builds
  the template's very ConfigurationSet and FeedbackEventDestination resources;
- SES v2 answers neither GetAccount nor GetConfigurationSetEventDestinations: both are added to
  moto's SES v2 responses. The event destinations come from moto's SES state; the account (the
  sandbox flag and the quotas) is held by the test, since moto keeps none for SES v2. The real
  answer's shape goes through botocore's parser as on AWS;
- moto never marks an identity verified (SES does when it finds the DNS records): the test marks
  it, as SES would once the DKIM records resolve.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from moto import mock_aws

from conftest import SERIES_FILE, Harness
from webinar_notify.cli import main
from webinar_notify.doctor.checks import Check, failed, run_checks
from webinar_notify.doctor.reader import read_audience
from webinar_notify.doctor.snapshot import (
    CONFIGURATION_SET,
    FEEDBACK_TOPIC,
    OUTPUTS,
    PARAMETER_DEFAULTS,
    Account,
    Audience,
    ConfigurationSet,
    EventDestination,
    Identity,
    Parameter,
    ReadFailure,
    Snapshot,
    Stack,
)
from webinar_notify.local import aws_calls
from webinar_notify.local.infra import load_template
from webinar_notify.series_files import load_series_file

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
DOMAIN = "estro.example"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:webinar-notify-FeedbackTopic"
SECRET_VALUES = ("a3f9c2e81b7d4f60", "5e0d7c1a9b2f8e34", "c47b1e9d2a6f0853")


# ---------------------------------------------------------------------------- the checks, pure

def good_snapshot() -> Snapshot:
    """A stack and account ready to go live."""
    webhook_path = "/webinar-notify/webhooks"
    return Snapshot(
        region=REGION, stack_name="webinar-notify",
        stack=Stack(name="webinar-notify", status="UPDATE_COMPLETE",
                    parameters={"SenderIdentity": DOMAIN, "SesSendRate": "14",
                                **PARAMETER_DEFAULTS},
                    outputs={name: f"https://out.example/{name}" for name in OUTPUTS},
                    resources={CONFIGURATION_SET: "ConfigurationSet-X1", FEEDBACK_TOPIC: TOPIC}),
        identity_name=DOMAIN,
        identity=Identity(DOMAIN, "DOMAIN", verified=True, dkim_signing=True,
                          dkim_status="SUCCESS"),
        account=Account(production_access=True, sending_enabled=True, max_send_rate=14,
                        max_24_hour_send=50_000, enforcement_status="HEALTHY"),
        configuration_set_name="ConfigurationSet-X1",
        configuration_set=ConfigurationSet("ConfigurationSet-X1", sending_enabled=True),
        event_destinations=(EventDestination("feedback", True,
                                             frozenset({"BOUNCE", "COMPLAINT", "REJECT"}),
                                             TOPIC),),
        parameters={"/webinar-notify/token-secret":
                    Parameter("/webinar-notify/token-secret", "SecureString"),
                    "/webinar-notify/registrant-key":
                    Parameter("/webinar-notify/registrant-key", "SecureString")},
        webhook_path=webhook_path,
        webhook_secrets=(f"{webhook_path}/reirradiation-2023/generic",),
    )


def not_ok(checks: list[Check]) -> list[tuple[str, str]]:
    return [(c.status, c.subject) for c in checks if c.status != "ok"]


def test_a_ready_account_passes_every_check() -> None:
    checks = run_checks(good_snapshot())
    assert not_ok(checks) == []
    assert not failed(checks)
    subjects = [c.subject for c in checks]
    assert subjects == [
        "stack webinar-notify", "stack outputs", f"SES identity {DOMAIN}",
        f"SES identity {DOMAIN} DKIM", f"SES production access in {REGION}", "SES sending",
        "SES send rate", "SES configuration set ConfigurationSet-X1",
        "SES configuration set ConfigurationSet-X1 events",
        "SSM parameter /webinar-notify/token-secret",
        "SSM parameter /webinar-notify/registrant-key",
        "SSM webhook secrets /webinar-notify/webhooks/"]


def _account(**changes: Any) -> Account:
    account = good_snapshot().account
    assert isinstance(account, Account)
    return replace(account, **changes)


def _identity(**changes: Any) -> Identity:
    identity = good_snapshot().identity
    assert isinstance(identity, Identity)
    return replace(identity, **changes)


def _stack(**changes: Any) -> Stack:
    stack = good_snapshot().stack
    assert isinstance(stack, Stack)
    return replace(stack, **changes)


def _rate(rate: str) -> Stack:
    stack = _stack()
    return replace(stack, parameters={**stack.parameters, "SesSendRate": rate})


def _destination(**changes: Any) -> tuple[EventDestination, ...]:
    return (replace(EventDestination("feedback", True, frozenset({"BOUNCE", "COMPLAINT"}),
                                     TOPIC), **changes),)


@pytest.mark.parametrize(("changes", "status", "subject", "words"), [
    ({"stack": None}, "FAIL", "stack webinar-notify", "no such stack in eu-west-1"),
    ({"stack": _stack(status="ROLLBACK_COMPLETE")}, "FAIL", "stack webinar-notify",
     "does not run"),
    ({"stack": _stack(status="UPDATE_IN_PROGRESS")}, "FAIL", "stack webinar-notify", "wait"),
    ({"stack": _stack(status="UPDATE_ROLLBACK_COMPLETE")}, "warn", "stack webinar-notify",
     "rolled back"),
    ({"stack": _stack(outputs={"ApiUrl": "https://x.example"})}, "FAIL", "stack outputs",
     "missing WebhookUrl, TableName, SendQueueUrl, DeadLetterQueueUrl"),
    ({"identity": None}, "FAIL", f"SES identity {DOMAIN}",
     f"does not exist in eu-west-1: create it (aws sesv2 create-email-identity "
     f"--email-identity {DOMAIN}"),
    ({"identity": _identity(verified=False)}, "FAIL", f"SES identity {DOMAIN}",
     "not verified"),
    ({"identity": _identity(dkim_signing=False)}, "FAIL", f"SES identity {DOMAIN} DKIM",
     "signing is off"),
    ({"identity": _identity(dkim_status="PENDING")}, "FAIL", f"SES identity {DOMAIN} DKIM",
     "status PENDING"),
    ({"identity": _identity(kind="EMAIL_ADDRESS", dkim_signing=False)}, "warn",
     f"SES identity {DOMAIN} DKIM", "verify the address's domain with Easy DKIM"),
    ({"account": _account(production_access=False)}, "FAIL",
     "SES production access in eu-west-1", "the account is in the SES sandbox"),
    ({"account": _account(production_access=False, review_status="PENDING")}, "FAIL",
     "SES production access in eu-west-1", "a request is PENDING"),
    ({"account": _account(sending_enabled=False)}, "FAIL", "SES sending", "paused"),
    ({"account": _account(enforcement_status="PROBATION")}, "warn", "SES sending",
     "probation"),
    ({"account": _account(enforcement_status="SHUTDOWN")}, "FAIL", "SES sending", "shut down"),
    ({"stack": _rate("20")}, "FAIL", "SES send rate",
     "the stack sends up to 20/s but the account allows 14/s, 50,000 a day: SES would "
     "throttle the senders; update the stack with SesSendRate=14"),
    ({"stack": _rate("5")}, "warn", "SES send rate", "slower than they could"),
    ({"configuration_set": None}, "FAIL", "SES configuration set ConfigurationSet-X1",
     "does not exist"),
    ({"configuration_set": ConfigurationSet("ConfigurationSet-X1", sending_enabled=False)},
     "FAIL", "SES configuration set ConfigurationSet-X1", "sending is paused"),
    ({"stack": _stack(resources={FEEDBACK_TOPIC: TOPIC}), "configuration_set_name": None},
     "FAIL", "SES configuration set", "the stack has no ConfigurationSet resource"),
    ({"event_destinations": ()}, "FAIL", "SES configuration set ConfigurationSet-X1 events",
     "no enabled SNS event destination for bounces and complaints to the stack's feedback "
     "topic"),
    ({"event_destinations": _destination(enabled=False)}, "FAIL",
     "SES configuration set ConfigurationSet-X1 events", "no enabled SNS event destination"),
    ({"event_destinations": _destination(event_types=frozenset({"BOUNCE"}))}, "FAIL",
     "SES configuration set ConfigurationSet-X1 events", "no enabled SNS event destination"),
    ({"event_destinations": _destination(sns_topic="arn:aws:sns:eu-west-1:1:other")}, "FAIL",
     "SES configuration set ConfigurationSet-X1 events", "no enabled SNS event destination"),
    ({"parameters": {"/webinar-notify/token-secret": None,
                     "/webinar-notify/registrant-key":
                     Parameter("/webinar-notify/registrant-key", "SecureString")}},
     "FAIL", "SSM parameter /webinar-notify/token-secret",
     "missing (it signs the links in emails): aws ssm put-parameter --type SecureString "
     "--name /webinar-notify/token-secret"),
    ({"parameters": {"/webinar-notify/token-secret":
                     Parameter("/webinar-notify/token-secret", "SecureString"),
                     "/webinar-notify/registrant-key":
                     Parameter("/webinar-notify/registrant-key", "String")}},
     "warn", "SSM parameter /webinar-notify/registrant-key", "not a SecureString"),
    ({"webhook_secrets": ()}, "FAIL", "SSM webhook secrets /webinar-notify/webhooks/",
     "none: every form's webhook would be refused"),
    ({"account": ReadFailure("the SES account", "AccessDeniedException", "ses:GetAccount")},
     "FAIL", "SES account",
     "cannot read the SES account: AccessDeniedException (needs ses:GetAccount)"),
])
def test_each_fault_is_one_line_that_names_it_and_the_fix(
        changes: dict[str, Any], status: str, subject: str, words: str) -> None:
    checks = run_checks(replace(good_snapshot(), **changes))
    assert not_ok(checks) == [(status, subject)]
    (check,) = [c for c in checks if c.status != "ok"]
    assert words in check.message
    assert check.line().startswith(f"{status:<4}  {subject}: ")
    assert failed(checks) == (status == "FAIL")


def test_an_unreadable_stack_still_checks_the_account_by_the_default_names() -> None:
    snapshot = replace(good_snapshot(), identity_name=None, identity=None,
                       configuration_set_name=None, configuration_set=None,
                       stack=ReadFailure("stack webinar-notify", "AccessDenied",
                                         "cloudformation:DescribeStacks"))
    checks = run_checks(snapshot)
    assert not_ok(checks) == [("FAIL", "stack webinar-notify"), ("FAIL", "SES identity")]
    assert "pass --identity DOMAIN" in checks[1].message
    # the rate needs the stack's SesSendRate; the SSM names fall back to the template's
    assert "SES send rate" not in [c.subject for c in checks]
    assert "SSM parameter /webinar-notify/registrant-key" in [c.subject for c in checks]


def test_the_doctor_knows_the_names_the_template_deploys() -> None:
    template = load_template()
    assert set(OUTPUTS) <= set(template["Outputs"])
    assert {CONFIGURATION_SET, FEEDBACK_TOPIC} <= set(template["Resources"])
    for key, default in PARAMETER_DEFAULTS.items():
        assert template["Parameters"][key]["Default"] == default
    assert {"SenderIdentity", "SesSendRate"} <= set(template["Parameters"])


# ------------------------------------------------------------------ moto, and what it lacks

@dataclass
class SesAccount:
    """The SES v2 account state moto does not keep (a new account starts in the sandbox)."""

    production_access: bool = False
    max_send_rate: float = 1
    max_24_hour_send: float = 200
    refused: set[str] = field(default_factory=set)  # operations answered AccessDenied


@functools.cache
def _ses_cloudformation_models() -> tuple[type, ...]:
    """moto's CloudFormation cannot create SES configuration sets and their event destinations:
    these two models create them in moto's SES backend (moto keeps models for the process)."""
    from moto.core.common_models import CloudFormationModel
    from moto.ses.models import ses_backends

    class Named:
        """What both models share; a mixin, since moto looks up only the direct subclasses
        of CloudFormationModel."""

        def __init__(self, name: str) -> None:
            self.name = name

        @property
        def physical_resource_id(self) -> str:
            return self.name

    class SesConfigurationSet(Named, CloudFormationModel):
        __module__ = "moto.ses.stand_in"  # moto files models by the service in their module

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SES::ConfigurationSet"

        @classmethod
        def create_from_cloudformation_json(
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **_: Any) -> SesConfigurationSet:
            properties = cloudformation_json.get("Properties", {})
            ses_backends[account_id][region_name].create_configuration_set_v2(
                configuration_set_name=resource_name, tracking_options={},
                delivery_options={}, reputation_options=properties.get("ReputationOptions"),
                # moto answers SendingOptions as {"SendingEnabled": <what it was given>}
                sending_options=properties.get("SendingOptions", {}).get("SendingEnabled",
                                                                          True),
                tags=[], suppression_options={}, vdm_options={})
            return cls(resource_name)

    class SesEventDestination(Named, CloudFormationModel):
        __module__ = "moto.ses.stand_in"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SES::ConfigurationSetEventDestination"

        @classmethod
        def create_from_cloudformation_json(
                cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                region_name: str, **_: Any) -> SesEventDestination:
            properties = cloudformation_json["Properties"]
            destination = {"Name": resource_name, **properties["EventDestination"]}
            ses_backends[account_id][region_name].create_configuration_set_event_destination(
                properties["ConfigurationSetName"], destination)
            return cls(resource_name)

    return SesConfigurationSet, SesEventDestination


def _teach_moto(monkeypatch: pytest.MonkeyPatch, account: SesAccount) -> None:
    from moto.cloudformation import parsing
    from moto.ses.models import ses_backends
    from moto.sesv2.responses import SESV2Response

    _ses_cloudformation_models()
    parsing.get_model_map.cache_clear()

    def refuse(operation: str) -> None:
        if operation in account.refused:
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("AccessDeniedException", f"not authorized to {operation}")

    def get_account(self: SESV2Response) -> str:
        refuse("GetAccount")
        return json.dumps({
            "ProductionAccessEnabled": account.production_access, "SendingEnabled": True,
            "EnforcementStatus": "HEALTHY",
            "SendQuota": {"MaxSendRate": account.max_send_rate,
                          "Max24HourSend": account.max_24_hour_send, "SentLast24Hours": 0}})

    def get_configuration_set_event_destinations(self: SESV2Response) -> str:
        refuse("GetConfigurationSetEventDestinations")
        name = unquote(self.path.rstrip("/").split("/")[-2])
        stored = ses_backends[self.current_account][self.region]
        destinations = [d for d in [stored.config_set_event_destination.get(name)] if d]
        return json.dumps({"EventDestinations": [{
            "Name": d["Name"], "Enabled": bool(d.get("Enabled")),
            "MatchingEventTypes": [_v2_event_type(t) for t in d.get("MatchingEventTypes", [])],
            **({"SnsDestination": {"TopicArn": d["SnsDestination"]["TopicARN"]}}
               if "SnsDestination" in d else {}),
        } for d in destinations]})

    monkeypatch.setattr(SESV2Response, "get_account", get_account, raising=False)
    monkeypatch.setattr(SESV2Response, "get_configuration_set_event_destinations",
                        get_configuration_set_event_destinations, raising=False)


def _v2_event_type(v1: str) -> str:
    """CloudFormation's deliveryDelay is SES v2's DELIVERY_DELAY."""
    return "".join(f"_{c}" if c.isupper() else c for c in v1).upper()


def _long_form(node: Any) -> Any:
    """The template as read keeps YAML's short forms ({"Sub": ...}); JSON needs "Fn::Sub"."""
    if isinstance(node, list):
        return [_long_form(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key in ("Sub", "GetAtt", "Join", "If", "Select", "Split", "Equals", "Not"):
            return {f"Fn::{key}": _long_form(value)}
    return {key: _long_form(value) for key, value in node.items()}


def _stand_in_template() -> dict[str, Any]:
    """The template's parameters, outputs and SES resources around a few stand-in resources
    (the SAM transform's functions and API are not needed to read a stack)."""
    real = load_template()
    resources: dict[str, Any] = {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}},
        "SendDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        "SendQueue": {"Type": "AWS::SQS::Queue"},
        "FeedbackTopic": {"Type": "AWS::SNS::Topic"},
        "ConfigurationSet": _long_form(real["Resources"]["ConfigurationSet"]),
        "FeedbackEventDestination": _long_form(real["Resources"]["FeedbackEventDestination"]),
    }
    outputs = {}
    for name, output in real["Outputs"].items():
        value = output["Value"]
        if not (isinstance(value, dict) and value.get("Ref") in resources):
            value = f"https://api.example/{name}"  # the API exists only after the transform
        outputs[name] = {"Value": value}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": real["Parameters"],
            "Conditions": real["Conditions"], "Resources": resources, "Outputs": outputs}


@pytest.fixture
def ses_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[SesAccount]:
    """moto with the stand-in stack deployed and its sender domain verified with DKIM."""
    account = SesAccount()
    with mock_aws():
        _teach_moto(monkeypatch, account)
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="webinar-notify", TemplateBody=json.dumps(_stand_in_template()),
            Parameters=[{"ParameterKey": "SenderIdentity", "ParameterValue": DOMAIN}])
        boto3.client("sesv2", region_name=REGION).create_email_identity(
            EmailIdentity=DOMAIN, DkimSigningAttributes={"NextSigningKeyLength": "RSA_2048_BIT"})
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        ses_backends[DEFAULT_ACCOUNT_ID][REGION].email_identities[
            DOMAIN].verified_for_sending_status = True
        yield account


def _put_parameters(*names: str) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    for name, value in zip(names, SECRET_VALUES, strict=False):
        ssm.put_parameter(Name=name, Type="SecureString", Value=value)


def _physical_id(logical_id: str) -> str:
    return str(boto3.client("cloudformation", region_name=REGION).describe_stack_resource(
        StackName="webinar-notify", LogicalResourceId=logical_id)["StackResourceDetail"][
        "PhysicalResourceId"])


@dataclass
class Run:
    status: int
    out: str
    calls: list[tuple[str, str]]


def _doctor(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    calls: list[tuple[str, str]] = []
    stop = aws_calls.watch(lambda service, operation, _: calls.append((service, operation)))
    try:
        status = main(["doctor", "--region", REGION, *args])
    finally:
        stop()
    captured = capsys.readouterr()
    return Run(status, captured.out + captured.err, calls)


def _lines(out: str, status: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(status)]


def test_doctor_on_moto_names_a_sandboxed_account_and_a_missing_parameter(
        ses_account: SesAccount, capsys: pytest.CaptureFixture[str]) -> None:
    _put_parameters("/webinar-notify/token-secret",
                    "/webinar-notify/webhooks/reirradiation-2023/generic")

    run = _doctor(capsys, "--stack-name", "webinar-notify")

    assert run.status == 1
    failures = _lines(run.out, "FAIL")
    assert [line.split(":")[0] for line in failures] == [
        "FAIL  SES production access in eu-west-1", "FAIL  SES send rate",
        "FAIL  SSM parameter /webinar-notify/registrant-key"]
    assert "the account is in the SES sandbox: mail goes only to verified addresses" \
        in failures[0]
    assert "aws sesv2 put-account-details --region eu-west-1 --production-access-enabled" \
        in failures[0]
    assert "the stack sends up to 14/s but the account allows 1/s, 200 a day" in failures[1]
    assert "missing (it turns addresses into registrant ids)" in failures[2]
    assert _lines(run.out, "warn") == []
    for line in (f"ok    SES identity {DOMAIN}: verified for sending",
                 f"ok    SES identity {DOMAIN} DKIM: signing, status SUCCESS",
                 "ok    stack webinar-notify: CREATE_COMPLETE",
                 "ok    SSM parameter /webinar-notify/token-secret: exists (SecureString)",
                 "ok    SSM webhook secrets /webinar-notify/webhooks/: 1 "
                 "(reirradiation-2023/generic)"):
        assert line in run.out.splitlines()
    assert "events: bounces and complaints go to SNS (webinar-notify-FeedbackEventDestination-" \
        in run.out
    assert "3 failed, 0 warnings, 9 ok: not ready to go live" in run.out
    assert not any(value in run.out for value in SECRET_VALUES)
    assert "Traceback" not in run.out


def _documented_policy() -> set[str]:
    text = (ROOT / "docs" / "doctor.md").read_text(encoding="utf-8")
    policy = json.loads(text.split("```json\n")[1].split("```")[0])
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def test_doctor_reads_never_writes_and_needs_only_the_documented_policy(
        ses_account: SesAccount, capsys: pytest.CaptureFixture[str]) -> None:
    run = _doctor(capsys, "--stack-name", "webinar-notify")
    assert run.calls, "the calls were not recorded"
    assert all(op.startswith(("Get", "List", "Describe")) for _, op in run.calls), run.calls
    # SES v2's operations are authorised as ses:<operation>
    actions = {f"{'ses' if service == 'sesv2' else service}:{op}" for service, op in run.calls}
    assert actions == _documented_policy()


def test_a_ready_account_on_moto_exits_0(ses_account: SesAccount,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ses_account.production_access = True
    ses_account.max_send_rate, ses_account.max_24_hour_send = 14, 50_000
    _put_parameters("/webinar-notify/token-secret", "/webinar-notify/registrant-key",
                    "/webinar-notify/webhooks/reirradiation-2023/generic")

    run = _doctor(capsys)  # the default stack name

    assert run.status == 0, run.out
    assert _lines(run.out, "FAIL") == [] and _lines(run.out, "warn") == []
    assert "ok    SES production access in eu-west-1: granted" in run.out
    assert "ok    SES send rate: the stack sends up to 14/s; the account allows 14/s, " \
        "50,000 a day" in run.out
    assert "0 failed, 0 warnings, 12 ok\n" in run.out


def test_a_refused_read_is_a_failed_check_not_a_traceback(
        ses_account: SesAccount, capsys: pytest.CaptureFixture[str]) -> None:
    ses_account.refused = {"GetAccount", "GetConfigurationSetEventDestinations"}
    _put_parameters("/webinar-notify/token-secret", "/webinar-notify/registrant-key",
                    "/webinar-notify/webhooks/s/generic")

    run = _doctor(capsys)

    assert run.status == 1
    configuration_set = _physical_id("ConfigurationSet")
    assert _lines(run.out, "FAIL") == [
        "FAIL  SES account: cannot read the SES account: AccessDeniedException "
        "(needs ses:GetAccount)",
        f"FAIL  SES configuration set {configuration_set} events: cannot read event "
        f"destinations of {configuration_set}: AccessDeniedException "
        "(needs ses:GetConfigurationSetEventDestinations)"]
    assert "Traceback" not in run.out


def test_a_missing_stack_and_identity_are_named(ses_account: SesAccount,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = _doctor(capsys, "--stack-name", "webinar-notfy", "--identity", "other.example")
    assert run.status == 1
    failures = _lines(run.out, "FAIL")
    assert failures[0].startswith("FAIL  stack webinar-notfy: no such stack in eu-west-1")
    assert failures[1].startswith("FAIL  SES identity other.example: does not exist")


def test_bad_arguments_are_one_line_errors(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["doctor"]) == 2
    assert capsys.readouterr().err == ("error: no AWS region: pass --region (e.g. --region "
                                       "eu-west-1) or set AWS_REGION\n")
    assert main(["doctor", "--region", "eu west 1"]) == 2
    assert capsys.readouterr().err == ("error: --region: 'eu west 1' is not a region name, "
                                       "e.g. eu-west-1\n")
    assert main(["doctor", "--region", REGION, "--stack-name", ""]) == 2
    assert capsys.readouterr().err.startswith("error: --stack-name: '' is not a stack name")


# ------------------------------------------------------------- reminder windows (--series)

def _with_series(found: Audience | ReadFailure | None, rate: str = "14") -> Snapshot:
    return replace(good_snapshot(), stack=_rate(rate), series={"reirradiation-2023": found},
                   read_at=datetime(2023, 10, 1, tzinfo=UTC))


def _audience(people: int) -> Audience:
    series = load_series_file(SERIES_FILE)
    return Audience(series, {s.id: people for s in series.sessions})


def test_doctor_warns_of_reminders_too_big_for_their_window_with_the_rate_that_fits() -> None:
    checks = [c for c in run_checks(_with_series(_audience(100_000)))
              if c.subject == "reminders of reirradiation-2023"]
    assert [c.status for c in checks] == ["warn"] * 8  # every session's 1-hour reminder
    assert checks[0].message.startswith("s1, the 1h reminder: 100,000 emails at 14/s need ")
    assert "A send rate of 34/s would fit the window." in checks[0].message
    # The same audience fits at the 500/s a production account may be granted.
    [fine] = [c for c in run_checks(_with_series(_audience(100_000), rate="500"))
              if c.subject == "reminders of reirradiation-2023"]
    assert fine.status == "ok" and "largest audience 100,000" in fine.message


def test_doctor_names_a_series_it_cannot_find_or_read() -> None:
    [missing] = not_ok(run_checks(_with_series(None)))
    assert missing == ("FAIL", "reminders of reirradiation-2023")
    refused = ReadFailure("series reirradiation-2023", "AccessDeniedException",
                          "dynamodb:GetItem")
    [check] = [c for c in run_checks(_with_series(refused)) if c.status != "ok"]
    assert "needs dynamodb:GetItem" in check.message


def test_doctor_reads_a_series_audience_from_the_kept_counts_by_get_item(
        harness: Harness) -> None:
    harness.register_many(3)
    harness.register(email="one@example.org", event_id="evt-one", sessions=["s2"])
    client = boto3.client("dynamodb", region_name=REGION)
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb",
                                lambda model, **_: calls.append(model.name))
    found = read_audience(client, harness.runtime.resources.table, "reirradiation-2023")
    assert found is not None and found.series.id == "reirradiation-2023"
    assert found.of("s1") == 3 and found.of("s2") == 4
    assert set(calls) == {"GetItem"}
    assert read_audience(client, harness.runtime.resources.table, "no-such-series") is None


# ------------------------------------------------------------ the key of certificate ids

CERTIFICATE_SECRET = "/webinar-notify/certificate-secret"


def _giving_certificates(parameter: Parameter | None) -> Snapshot:
    """A series that gives certificates (asked about with --series), and the key as given."""
    audience = _audience(10)
    audience = replace(audience, series=replace(audience.series, certificates={
        "sessions": "all"}))
    snapshot = _with_series(audience)
    assert isinstance(snapshot.parameters, dict)
    return replace(snapshot, parameters={**snapshot.parameters,
                                         CERTIFICATE_SECRET: parameter})


def test_a_series_with_certificates_needs_the_key_of_certificate_ids() -> None:
    checks = run_checks(_giving_certificates(None))
    assert not_ok(checks) == [("FAIL", f"SSM parameter {CERTIFICATE_SECRET}")]
    (check,) = [c for c in checks if c.status == "FAIL"]
    assert "missing, and reirradiation-2023 gives certificates: none can be issued" \
        in check.message
    assert f"aws ssm put-parameter --type SecureString --name {CERTIFICATE_SECRET} " \
        "--region eu-west-1" in check.message
    there = run_checks(_giving_certificates(Parameter(CERTIFICATE_SECRET, "SecureString",
                                                      "alias/aws/ssm")))
    assert not_ok(there) == []
    assert f"SSM parameter {CERTIFICATE_SECRET}: exists (SecureString); reirradiation-2023 " \
        "gives certificates" in [f"{c.subject}: {c.message}" for c in there]


def test_without_certificates_a_missing_key_is_not_a_fault() -> None:
    checks = run_checks(good_snapshot())  # no series asked about, no key
    assert not_ok(checks) == []
    assert f"SSM parameter {CERTIFICATE_SECRET}" not in [c.subject for c in checks]


@pytest.mark.parametrize(("parameter", "status", "words"), [
    (Parameter(CERTIFICATE_SECRET, "String"), "warn", "a String, not a SecureString"),
    (Parameter(CERTIFICATE_SECRET, "SecureString", "alias/organisers"), "FAIL",
     "encrypted with the KMS key alias/organisers, which the functions may not use"),
    (Parameter(CERTIFICATE_SECRET, "SecureString",
               "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"), "FAIL",
     "--key-id alias/aws/ssm --overwrite"),
])
def test_a_key_of_certificate_ids_the_functions_cannot_use_is_named(
        parameter: Parameter, status: str, words: str) -> None:
    checks = run_checks(_giving_certificates(parameter))
    assert not_ok(checks) == [(status, f"SSM parameter {CERTIFICATE_SECRET}")]
    assert words in next(c.message for c in checks if c.status == status)


def test_doctor_on_moto_reads_the_key_of_certificate_ids_and_its_kms_key(
        ses_account: SesAccount, capsys: pytest.CaptureFixture[str]) -> None:
    ses_account.production_access = True
    ses_account.max_send_rate, ses_account.max_24_hour_send = 14, 50_000
    _put_parameters("/webinar-notify/token-secret", "/webinar-notify/registrant-key",
                    "/webinar-notify/webhooks/reirradiation-2023/generic")
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=CERTIFICATE_SECRET, Type="SecureString", Value=SECRET_VALUES[0])
    run = _doctor(capsys)
    assert run.status == 0, run.out
    assert f"ok    SSM parameter {CERTIFICATE_SECRET}: exists (SecureString)" \
        in run.out.splitlines()
    ssm.put_parameter(Name=CERTIFICATE_SECRET, Type="SecureString", Value=SECRET_VALUES[0],
                      KeyId="alias/organisers", Overwrite=True)
    run = _doctor(capsys)
    assert run.status == 1
    [failure] = _lines(run.out, "FAIL")
    assert failure.startswith(f"FAIL  SSM parameter {CERTIFICATE_SECRET}: encrypted with the "
                              "KMS key alias/organisers")
    assert not any(value in run.out for value in SECRET_VALUES)
