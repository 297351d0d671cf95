"""AWS resources built from infra/template.yaml itself, so local runs and tests use exactly the
table keys and queue settings that get deployed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

from ..bootstrap import PACKAGE_DIR

TEMPLATE = PACKAGE_DIR.parents[1] / "infra" / "template.yaml"
REGION = "eu-west-1"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt... as plain values: we only need the literal properties."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=_CloudFormationLoader))  # noqa: S506 (safe subclass)


@dataclass(frozen=True, slots=True)
class LocalResources:
    table: str
    queue_url: str
    dead_letter_url: str
    max_receive_count: int


def create_resources(template: dict[str, Any] | None = None) -> LocalResources:
    """Create the table and queues on the current (moto) endpoint, as the template says."""
    resources = (template or load_template())["Resources"]
    table = resources["Table"]["Properties"]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="webinar-notify", BillingMode=table["BillingMode"],
        AttributeDefinitions=table["AttributeDefinitions"], KeySchema=table["KeySchema"])
    ttl = table["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(TableName="webinar-notify", TimeToLiveSpecification=ttl)

    sqs = boto3.client("sqs", region_name=REGION)
    dlq_props = resources["SendDeadLetterQueue"]["Properties"]
    dlq_url = sqs.create_queue(QueueName="webinar-notify-dlq", Attributes=_queue_attributes(
        dlq_props))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_props = resources["SendQueue"]["Properties"]
    redrive = queue_props["RedrivePolicy"]
    attributes = _queue_attributes(queue_props)
    attributes["RedrivePolicy"] = json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": redrive["maxReceiveCount"]})
    queue_url = sqs.create_queue(QueueName="webinar-notify-send",
                                 Attributes=attributes)["QueueUrl"]
    return LocalResources(table="webinar-notify", queue_url=queue_url, dead_letter_url=dlq_url,
                          max_receive_count=int(redrive["maxReceiveCount"]))


def _queue_attributes(properties: dict[str, Any]) -> dict[Any, str]:
    names = ("VisibilityTimeout", "MessageRetentionPeriod")
    return {name: str(properties[name]) for name in names if name in properties}


def verify_sender(email: str) -> None:
    """moto rejects mail from unverified identities, as SES does: verify the sender's domain."""
    ses = boto3.client("ses", region_name=REGION)
    ses.verify_domain_identity(Domain=email.split("@")[1])
    ses.verify_email_identity(EmailAddress=email)
