"""AWS resources built from infra/template.yaml itself, so local runs and tests use exactly the
table keys and queue settings that get deployed. The template's path is passed in; by default
it is the kit's (the checkout's infra/template.yaml, or the copy an installed package carries)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import yaml

from .. import kit

TEMPLATE = kit.sam_template()  # the default wherever a path is not passed
REGION = "eu-west-1"


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's parser where PyYAML has it: every test's runtime reads the template
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CloudFormationLoader(_SafeLoader):
    """Reads !Ref, !Sub, !GetAtt... as plain values: we only need the literal properties."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The template as a dict of plain values (a copy of its own: callers may change it)."""
    path = path or TEMPLATE
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@lru_cache(maxsize=8)
def _parsed(path: Path, _modified: int) -> dict[str, Any]:
    """Parsed once per file and version (a changed file is read again)."""
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=_CloudFormationLoader))  # noqa: S506 (safe subclass)


@dataclass(frozen=True, slots=True)
class LocalResources:
    table: str
    queue_url: str
    dead_letter_url: str
    max_receive_count: int
    job_queue_url: str = ""
    export_bucket: str = ""
    feedback_queue_url: str = ""  # SES events, as SNS puts them there
    feedback_dead_letter_url: str = ""
    feedback_batch_size: int = 10  # the feedback function's event source's BatchSize


def create_table(client: Any, name: str, table: dict[str, Any] | None = None) -> str:
    """The table as the template defines it (its ``Properties``; default: the kit's), under
    ``name``, on the current (moto) endpoint; its name."""
    table = table or load_template()["Resources"]["Table"]["Properties"]
    indexes = table.get("GlobalSecondaryIndexes")
    client.create_table(
        TableName=name, BillingMode=table["BillingMode"],
        AttributeDefinitions=table["AttributeDefinitions"], KeySchema=table["KeySchema"],
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}))
    return name


def create_resources(template: dict[str, Any] | None = None,
                     template_path: Path | None = None) -> LocalResources:
    """Create the table and queues on the current (moto) endpoint, as the template says
    (``template``, already read, or the file at ``template_path``; default: the kit's)."""
    resources = (template or load_template(template_path))["Resources"]
    table = resources["Table"]["Properties"]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, "webinar-notify", table)
    ttl = table["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(TableName="webinar-notify", TimeToLiveSpecification=ttl)

    sqs = boto3.client("sqs", region_name=REGION)
    queue_url, dlq_url = _queue_with_dead_letters(sqs, resources, "SendQueue",
                                                  "SendDeadLetterQueue", "webinar-notify-send",
                                                  "webinar-notify-dlq")
    job_queue_url, _ = _queue_with_dead_letters(sqs, resources, "JobQueue", "JobDeadLetterQueue",
                                                "webinar-notify-jobs", "webinar-notify-jobs-dlq")
    feedback_url, feedback_dlq_url = _queue_with_dead_letters(
        sqs, resources, "FeedbackQueue", "FeedbackDeadLetterQueue", "webinar-notify-feedback",
        "webinar-notify-feedback-dlq")
    max_receive = resources["SendQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    return LocalResources(
        table="webinar-notify", queue_url=queue_url, dead_letter_url=dlq_url,
        max_receive_count=int(max_receive), job_queue_url=job_queue_url,
        export_bucket=_export_bucket(resources), feedback_queue_url=feedback_url,
        feedback_dead_letter_url=feedback_dlq_url, feedback_batch_size=int(
            resources["FeedbackFunctionQueue"]["Properties"]["BatchSize"]))


def _queue_with_dead_letters(sqs: Any, resources: dict[str, Any], queue: str, dead_letters: str,
                             name: str, dead_letters_name: str) -> tuple[str, str]:
    """A queue and its dead-letter queue as the template has them: (queue URL, DLQ URL)."""
    dlq_url = str(sqs.create_queue(QueueName=dead_letters_name, Attributes=_queue_attributes(
        resources[dead_letters]["Properties"]))["QueueUrl"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    properties = resources[queue]["Properties"]
    attributes = _queue_attributes(properties)
    attributes["RedrivePolicy"] = json.dumps({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": properties["RedrivePolicy"]["maxReceiveCount"]})
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]), dlq_url


def _export_bucket(resources: dict[str, Any]) -> str:
    """The private export bucket (moto enforces the 5 MiB smallest part as S3 does)."""
    name = "webinar-notify-exports"
    properties = resources["ExportBucket"]["Properties"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={
        "LocationConstraint": REGION})  # type: ignore[typeddict-item]
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=properties[
        "PublicAccessBlockConfiguration"])
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": ""},
         "Expiration": {"Days": rule["ExpirationInDays"]},
         "AbortIncompleteMultipartUpload": rule["AbortIncompleteMultipartUpload"]}
        for rule in properties["LifecycleConfiguration"]["Rules"]]})
    return name


def _queue_attributes(properties: dict[str, Any]) -> dict[Any, str]:
    names = ("VisibilityTimeout", "MessageRetentionPeriod")
    return {name: str(properties[name]) for name in names if name in properties}


def verify_sender(email: str) -> None:
    """moto rejects mail from unverified identities, as SES does: verify the sender's domain."""
    ses = boto3.client("ses", region_name=REGION)
    ses.verify_domain_identity(Domain=email.split("@")[1])
    ses.verify_email_identity(EmailAddress=email)
