"""infra/template.yaml holds what the issue and the code rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webinar_notify.local.infra import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}


def test_functions_run_python_312_or_newer_on_arm64_with_powertools() -> None:
    function = TEMPLATE["Globals"]["Function"]
    assert function["Architectures"] == ["arm64"]
    major, minor = function["Runtime"].removeprefix("python").split(".")
    assert (int(major), int(minor)) >= (3, 12)
    assert function["Tracing"] == {"Ref": "Tracing"}  # off by default: it costs per trace
    assert TEMPLATE["Parameters"]["Tracing"]["Default"] == "PassThrough"
    variables = function["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "webinar-notify"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"]


def test_every_handler_points_at_a_function_in_the_package() -> None:
    import importlib

    for resource in FUNCTIONS.values():
        module, _, attribute = resource["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute))


def test_table_is_encrypted_recoverable_and_keyed_as_the_store_expects() -> None:
    table = RESOURCES["Table"]["Properties"]
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == \
        {"pk": "HASH", "sk": "RANGE"}
    assert table["TimeToLiveSpecification"]["AttributeName"] == "expires_at"


def test_send_queue_redrives_to_a_dlq_with_six_times_the_sender_timeout() -> None:
    queue = RESOURCES["SendQueue"]["Properties"]
    sender = FUNCTIONS["SenderFunction"]["Properties"]
    window = RESOURCES["SenderFunctionSendQueue"]["Properties"].get(
        "MaximumBatchingWindowInSeconds", 0)
    assert queue["VisibilityTimeout"] >= 6 * sender["Timeout"] + window
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": "SendDeadLetterQueue.Arn"}
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
    source = RESOURCES["SenderFunctionSendQueue"]["Properties"]
    assert source["EventSourceArn"] == {"GetAtt": "SendQueue.Arn"}
    assert source["FunctionName"] == {"Ref": "SenderFunction"}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert int(sender["Environment"]["Variables"]["SENDER_TIMEOUT_SECONDS"]) == sender["Timeout"]


def test_an_alarm_watches_the_dead_letter_queue() -> None:
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(a["Dimensions"][0]["Value"] == {"GetAtt": "SendDeadLetterQueue.QueueName"}
               and a["Threshold"] == 0 for a in alarms)


def test_webhook_route_is_the_documented_one() -> None:
    events = FUNCTIONS["ApiFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()}
    assert ("POST", "/webhooks/{provider}/{series_id}") in routes
    assert ("GET", "/manage/{series_id}/{token}") in routes


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_policy_statement_names_its_resource(name: str) -> None:
    for policy in FUNCTIONS[name]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []):
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            assert "*" not in json.dumps(resources).replace("/*", ""), statement
            assert all(resources), statement
        for template_name, arguments in policy.items():
            if template_name != "Statement":
                assert all(v for v in arguments.values()), policy


def test_ssm_parameter_names_are_template_parameters() -> None:
    parameters = TEMPLATE["Parameters"]
    assert "WebhookSecretsPath" in parameters and "TokenSecretParameter" in parameters
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WEBHOOK_SECRETS_PATH"] == {"Sub": "/${WebhookSecretsPath}"}
    assert variables["TOKEN_SECRET_PARAMETER"] == {"Sub": "/${TokenSecretParameter}"}


def test_the_scheduler_runs_every_five_minutes_with_retries_and_a_dead_letter_queue() -> None:
    scheduler = FUNCTIONS["SchedulerFunction"]["Properties"]
    [event] = scheduler["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert event["Properties"]["DeadLetterConfig"]["Arn"] == \
        {"GetAtt": "SchedulerDeadLetterQueue.Arn"}
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(a["Dimensions"][0]["Value"] == {"GetAtt": "SchedulerDeadLetterQueue.QueueName"}
               for a in alarms)


def test_sender_concurrency_and_rate_come_from_the_ses_send_rate_parameters() -> None:
    sender = FUNCTIONS["SenderFunction"]["Properties"]
    assert TEMPLATE["Parameters"]["SesSendRate"]["Type"] == "Number"
    assert sender["ReservedConcurrentExecutions"] == {"Ref": "SenderConcurrency"}
    source = RESOURCES["SenderFunctionSendQueue"]["Properties"]
    assert source["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SenderConcurrency"}
    variables = sender["Environment"]["Variables"]
    assert variables["SES_SEND_RATE"] == {"Ref": "SesSendRate"}
    assert variables["SENDER_CONCURRENCY"] == {"Ref": "SenderConcurrency"}


def test_the_sender_pool_is_sized_from_the_batch_the_event_source_delivers() -> None:
    """The sender's threads are sized to the batch the queue hands it; batches over 10 need a
    batching window (Lambda refuses the mapping otherwise); at 500/s over the instances the
    template's description asks for, the pool keeps each share busy within the function's
    memory, and a batch at 14/s fits the function's time."""
    from webinar_notify.adapters.rate_limit import pool_size

    sender = FUNCTIONS["SenderFunction"]["Properties"]
    source = RESOURCES["SenderFunctionSendQueue"]["Properties"]
    assert sender["Environment"]["Variables"]["SENDER_BATCH_SIZE"] == str(source["BatchSize"])
    assert source["BatchSize"] <= 10 or source["MaximumBatchingWindowInSeconds"] >= 1
    instances = int(TEMPLATE["Parameters"]["SenderConcurrency"]["Default"])
    memory = int(sender.get("MemorySize", TEMPLATE["Globals"]["Function"]["MemorySize"]))
    share = 500 / max(instances, 500 // 50)  # above 100/s: SesSendRate / 50 instances
    assert pool_size(share, source["BatchSize"], memory) * 10 >= share  # 10 emails/s a thread
    low = int(TEMPLATE["Parameters"]["SesSendRate"]["Default"]) / instances
    assert source["BatchSize"] / low <= int(sender["Timeout"]) - 20  # a batch fits its time


def test_organiser_routes_need_aws_iam_or_a_cognito_token_and_the_api_enables_both() -> None:
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["Auth"]["EnableIamAuthorizer"] is True
    jwt = api["Auth"]["Authorizers"]["OrganiserJwt"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["JwtConfiguration"]["audience"] == [{"Ref": "OrganiserUserPoolClient"}]
    assert "${OrganiserUserPool}" in jwt["JwtConfiguration"]["issuer"]["Sub"]
    events = FUNCTIONS["ApiFunction"]["Properties"]["Events"]
    organiser = [e["Properties"] for e in events.values()
                 if e["Properties"]["Path"].startswith("/organiser/")]
    # Actions (POST) are signed with AWS credentials; reads (GET) carry an ID token.
    assert {(e["Method"], e["Auth"]["Authorizer"]) for e in organiser} == {
        ("POST", "AWS_IAM"), ("GET", "OrganiserJwt")}
    public = [e["Properties"] for e in events.values()
              if not e["Properties"]["Path"].startswith("/organiser/")]
    assert all("Auth" not in e for e in public)  # webhooks and pages verify their own tokens


def test_the_table_cannot_be_deleted_by_accident() -> None:
    table = RESOURCES["Table"]
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"


def _alarms(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in RESOURCES.values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
            and r["Properties"]["Namespace"] == namespace
            and r["Properties"]["MetricName"] == metric]


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_its_errors_and_throttles(metric: str) -> None:
    watched = {a["Dimensions"][0]["Value"]["Ref"] for a in _alarms("AWS/Lambda", metric)
               if a["Dimensions"][0]["Name"] == "FunctionName" and a["Threshold"] == 0}
    assert watched == set(FUNCTIONS)


def test_the_api_alarms_on_5xx_answers() -> None:
    [alarm] = _alarms("AWS/ApiGateway", "5xx")
    assert alarm["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_a_late_send_queue_alarms_before_a_one_hour_reminder_is_meaningless() -> None:
    [alarm] = _alarms("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert alarm["Dimensions"][0]["Value"] == {"GetAtt": "SendQueue.QueueName"}
    assert 0 < alarm["Threshold"] < 3600  # the shortest reminder offset is one hour


@pytest.mark.parametrize(("metric", "threshold"), [("Reputation.BounceRate", 0.05),
                                                   ("Reputation.ComplaintRate", 0.001)])
def test_ses_reputation_alarms_at_the_review_levels(metric: str, threshold: float) -> None:
    [alarm] = _alarms("AWS/SES", metric)
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_every_alarm_goes_to_the_encrypted_alarm_topic() -> None:
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmKey"}


def test_the_functions_code_is_what_the_build_script_writes() -> None:
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "scripts"))
    try:
        import build_lambda
    finally:
        sys.path.remove(str(root / "scripts"))
    code = (root / "infra" / TEMPLATE["Globals"]["Function"]["CodeUri"]).resolve()
    assert code == build_lambda.OUT.resolve()
    assert all("CodeUri" not in f["Properties"] for f in FUNCTIONS.values())


def test_deploying_builds_first_and_deploys_nothing_when_the_build_fails(tmp_path: Any) -> None:
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    log = tmp_path / "log"
    for name, line in {"sam": "sam", "python": "build"}.items():
        tool = tmp_path / name
        tool.write_text(f'#!/bin/sh\necho "{line} $*" >> "{log}"\n'
                        f'[ "$FAIL" != "{line}" ]\n')
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}",
           "PYTHON": str(tmp_path / "python")}

    done = subprocess.run([root / "scripts" / "deploy", "--guided"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    build, deploy = log.read_text().splitlines()
    assert build == "build scripts/build_lambda.py"
    assert deploy.startswith("sam deploy --template-file infra/template.yaml ")
    assert deploy.endswith(" --guided")

    log.unlink()
    failed = subprocess.run([root / "scripts" / "deploy"], env={**env, "FAIL": "build"},
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert failed.returncode != 0
    assert log.read_text().splitlines() == ["build scripts/build_lambda.py"]


def test_the_send_queue_mapping_keeps_the_logical_id_sam_gave_it() -> None:
    """Stacks deployed with SAM's `SQS` event own a mapping of this id: keeping it updates that
    mapping in place, where a new id would be refused (one mapping per queue and function)."""
    import yaml

    from webinar_notify.local import iam

    sam_event = {"AWSTemplateFormatVersion": "2010-09-09",
                 "Transform": "AWS::Serverless-2016-10-31",
                 "Resources": {"SendQueue": {"Type": "AWS::SQS::Queue"}, "SenderFunction": {
                     "Type": "AWS::Serverless::Function",
                     "Properties": {"Handler": "h.h", "Runtime": "python3.12",
                                    "CodeUri": "s3://b/k.zip", "Events": {"SendQueue": {
                                        "Type": "SQS",
                                        "Properties": {"Queue": {"Fn::GetAtt":
                                                                 ["SendQueue", "Arn"]}}}}}}}}
    generated = iam.sam_transform(yaml.safe_dump(sam_event))["Resources"]
    mappings = [name for name, r in generated.items()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mappings == ["SenderFunctionSendQueue"]
    assert RESOURCES["SenderFunctionSendQueue"]["Type"] == "AWS::Lambda::EventSourceMapping"
