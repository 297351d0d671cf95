"""Reads what `doctor` checks from an AWS account, with Get, List and Describe calls only.

Each read is made on its own: one that AWS refuses (AccessDenied, a missing permission) becomes
a ReadFailure in the snapshot, reported as a check, and the others still run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.conflicts import error_code
from ..adapters.dynamo import key
from ..adapters.registration_counts import counters_of, registration_shard_key
from ..core.counts import COUNT_SHARDS, SESSION_PREFIX
from ..core.series_document import parse_series
from .snapshot import (
    CONFIGURATION_SET,
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

T = TypeVar("T")
_NOT_FOUND = frozenset({"NotFoundException", "ParameterNotFound"})
# Errors fail fast: an organiser waits for the answer, and a refusal does not heal on retry.
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                 read_timeout=20)


def read_account(session: boto3.Session, region: str, stack_name: str,
                 identity: str | None = None, series: Sequence[str] = (),
                 now: datetime | None = None) -> Snapshot:
    """Everything the checks need; ``identity`` overrides the stack's SenderIdentity;
    ``series``: the series whose reminder windows to check against the send rate."""
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(  # type: ignore[call-overload]
                service, region_name=region, config=_CONFIG)
        return clients[service]

    stack = _read(f"stack {stack_name}",
                  "cloudformation:DescribeStacks and cloudformation:ListStackResources",
                  lambda: _stack(client("cloudformation"), stack_name))
    partial = Snapshot(region=region, stack_name=stack_name, stack=stack, identity_name=None)
    identity_name = identity or partial.stack_parameter("SenderIdentity")
    sesv2 = client("sesv2")
    config_set_name = stack.resources.get(CONFIGURATION_SET) if isinstance(stack, Stack) \
        else None
    names = [partial.parameter_name(key)
             for key in ("TokenSecretParameter", "RegistrantKeyParameter",
                         "CertificateSecretParameter")]
    webhook_path = partial.parameter_name("WebhookSecretsPath")
    return Snapshot(
        region=region, stack_name=stack_name, stack=stack, identity_name=identity_name,
        identity=(_read(f"SES identity {identity_name}", "ses:GetEmailIdentity",
                        lambda: _identity(sesv2, identity_name))
                  if identity_name else None),
        account=_read("the SES account", "ses:GetAccount", lambda: _account(sesv2)),
        configuration_set_name=config_set_name,
        configuration_set=(_read(f"configuration set {config_set_name}",
                                 "ses:GetConfigurationSet",
                                 lambda: _configuration_set(sesv2, config_set_name))
                           if config_set_name else None),
        event_destinations=(_read(f"event destinations of {config_set_name}",
                                  "ses:GetConfigurationSetEventDestinations",
                                  lambda: _event_destinations(sesv2, config_set_name))
                            if config_set_name else ()),
        parameters=_read("SSM parameter names", "ssm:DescribeParameters",
                         lambda: _parameters(client("ssm"), names)),
        webhook_path=webhook_path,
        webhook_secrets=_read(f"SSM parameter names under {webhook_path}",
                              "ssm:DescribeParameters",
                              lambda: _names_under(client("ssm"), webhook_path)),
        series=_series(client, stack, series),
        read_at=now,
    )


def _series(client: Callable[[str], Any], stack: Stack | ReadFailure | None,
            ids: Sequence[str]) -> dict[str, Audience | ReadFailure | None]:
    table = (stack.outputs.get("TableName") or stack.resources.get("Table")) \
        if isinstance(stack, Stack) else None
    if not ids or not table:
        return {}
    return {series_id: _read(f"series {series_id} in table {table}", "dynamodb:GetItem",
                             partial(read_audience, client("dynamodb"), table, series_id))
            for series_id in ids}


def read_audience(dynamodb: Any, table: str, series_id: str) -> Audience | None:
    """The series and its registration counters, by GetItem only (read-only, no Query)."""
    item = dynamodb.get_item(TableName=table, Key=key(f"SERIES#{series_id}", "SERIES"))
    if "Item" not in item:
        return None
    series = parse_series(json.loads(item["Item"]["doc"]["S"]))
    totals: dict[str, int] = {}
    for shard in range(COUNT_SHARDS):
        found = dynamodb.get_item(TableName=table,
                                  Key=registration_shard_key(series_id, shard)).get("Item")
        for name, count in counters_of(found or {}).items():
            totals[name] = totals.get(name, 0) + count
    whole = totals.get("whole_series", 0)
    return Audience(series, {s.id: whole + totals.get(SESSION_PREFIX + s.id, 0)
                             for s in series.sessions})


def _read(what: str, action: str, read: Callable[[], T]) -> T | ReadFailure:
    try:
        return read()
    except ClientError as error:
        return ReadFailure(what, error_code(error) or "error", action)
    except BotoCoreError as error:  # no network, no credentials, an unknown region
        return ReadFailure(what, type(error).__name__ + f" ({error})", action)


def _stack(cloudformation: Any, name: str) -> Stack | None:
    try:
        found = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:  # CloudFormation says a missing stack is a ValidationError
        if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
            return None
        raise
    resources: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
        for resource in page["StackResourceSummaries"]:
            if resource.get("LogicalResourceId") and resource.get("PhysicalResourceId"):
                resources[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return Stack(name=name, status=str(found["StackStatus"]),
                 parameters=_pairs(found.get("Parameters", []), "ParameterKey",
                                   "ParameterValue"),
                 outputs=_pairs(found.get("Outputs", []), "OutputKey", "OutputValue"),
                 resources=resources)


def _pairs(items: list[Mapping[str, Any]], key: str, value: str) -> dict[str, str]:
    return {str(item[key]): str(item.get(value, "")) for item in items}


def _identity(sesv2: Any, name: str) -> Identity | None:
    try:
        found = sesv2.get_email_identity(EmailIdentity=name)
    except ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None
        raise
    dkim = found.get("DkimAttributes", {})
    return Identity(name=name, kind=str(found.get("IdentityType", "")),
                    verified=bool(found.get("VerifiedForSendingStatus")),
                    dkim_signing=bool(dkim.get("SigningEnabled")),
                    dkim_status=str(dkim.get("Status", "")))


def _account(sesv2: Any) -> Account:
    found = sesv2.get_account()
    quota = found.get("SendQuota", {})
    review = found.get("Details", {}).get("ReviewDetails", {})
    return Account(production_access=bool(found.get("ProductionAccessEnabled")),
                   sending_enabled=bool(found.get("SendingEnabled")),
                   max_send_rate=float(quota.get("MaxSendRate", 0)),
                   max_24_hour_send=float(quota.get("Max24HourSend", 0)),
                   enforcement_status=str(found.get("EnforcementStatus", "")),
                   review_status=str(review.get("Status", "")))


def _configuration_set(sesv2: Any, name: str) -> ConfigurationSet | None:
    try:
        found = sesv2.get_configuration_set(ConfigurationSetName=name)
    except ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None
        raise
    # Absent means enabled (SES's default); only an explicit false pauses the set.
    enabled = found.get("SendingOptions", {}).get("SendingEnabled") is not False
    return ConfigurationSet(name=name, sending_enabled=enabled)


def _event_destinations(sesv2: Any, name: str) -> tuple[EventDestination, ...]:
    try:
        found = sesv2.get_configuration_set_event_destinations(ConfigurationSetName=name)
    except ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return ()
        raise
    return tuple(
        EventDestination(name=str(d.get("Name", "")), enabled=bool(d.get("Enabled")),
                         event_types=frozenset(str(t).upper()
                                               for t in d.get("MatchingEventTypes", [])),
                         sns_topic=d.get("SnsDestination", {}).get("TopicArn"))
        for d in found.get("EventDestinations", []))


def _parameters(ssm: Any, names: list[str]) -> dict[str, Parameter | None]:
    """Names and types only: DescribeParameters never returns a value."""
    found: dict[str, Parameter | None] = dict.fromkeys(names)
    pages = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": names}])
    for page in pages:
        for parameter in page["Parameters"]:
            found[parameter["Name"]] = Parameter(parameter["Name"], str(parameter["Type"]),
                                                 str(parameter.get("KeyId", "")))
    return found


def _names_under(ssm: Any, path: str) -> tuple[str, ...]:
    pages = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [path]}])
    return tuple(sorted(parameter["Name"] for page in pages for parameter in page["Parameters"]))
