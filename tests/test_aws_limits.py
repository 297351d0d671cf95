"""The AWS stand-in refuses what AWS refuses: each limit moto skips is refused one byte (or one
entry) over it with AWS's error code, and accepted at the limit; the limits moto enforces
itself are shown to hold too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import SERIES_FILE, SERIES_ID, START, Harness
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.local import aws_limits
from webinar_notify.local.aws_limits import attribute_value_size, item_size, message_size
from webinar_notify.local.infra import REGION, LocalResources, create_resources, verify_sender
from webinar_notify.local.runtime import LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file

TABLE = "webinar-notify"
PK_AT_LIMIT = "é" * 1024  # 2,048 bytes in UTF-8, in 1,024 characters: bytes are what count
PK_OVER = PK_AT_LIMIT + "x"
SK_AT_LIMIT = "s" * 1024
SK_OVER = SK_AT_LIMIT + "x"


@pytest.fixture
def aws() -> Iterator[LocalResources]:
    from moto import mock_aws

    with mock_aws(), aws_limits.enforced():
        yield create_resources()


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def key(pk: str = "SERIES#s", sk: str = "REG#r") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def refused(code: str, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    return str(caught.value.response["Error"]["Message"])


def count_items() -> int:
    pages = dynamodb().get_paginator("scan").paginate(TableName=TABLE, Select="COUNT")
    return sum(int(page["Count"]) for page in pages)


def test_moto_alone_reads_an_over_long_key_that_aws_refuses() -> None:
    """Why the stand-in exists: moto answers this GetItem; AWS answers ValidationException."""
    from moto import mock_aws

    with mock_aws():
        create_resources()
        answer = dynamodb().get_item(TableName=TABLE, Key=key(pk="x" * 2100))
    assert "Item" not in answer


READS_AND_WRITES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "GetItem": lambda k: dynamodb().get_item(TableName=TABLE, Key=k),
    "DeleteItem": lambda k: dynamodb().delete_item(TableName=TABLE, Key=k),
    "UpdateItem": lambda k: dynamodb().update_item(
        TableName=TABLE, Key=k, UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "1"}}),
    "PutItem": lambda k: dynamodb().put_item(TableName=TABLE, Item=k),
    "BatchGetItem": lambda k: dynamodb().batch_get_item(RequestItems={TABLE: {"Keys": [k]}}),
    "BatchWriteItem": lambda k: dynamodb().batch_write_item(
        RequestItems={TABLE: [{"DeleteRequest": {"Key": k}}]}),
    "TransactWriteItems": lambda k: dynamodb().transact_write_items(TransactItems=[
        {"Delete": {"TableName": TABLE, "Key": k}}]),
    "TransactGetItems": lambda k: dynamodb().transact_get_items(TransactItems=[
        {"Get": {"TableName": TABLE, "Key": k}}]),
    "Query": lambda k: dynamodb().query(
        TableName=TABLE, KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"},
        ExpressionAttributeValues={":pk": k["pk"], ":prefix": k["sk"]}),
}


@pytest.mark.parametrize("operation", sorted(READS_AND_WRITES))
def test_key_sizes_hold_on_reads_and_writes(aws: LocalResources, operation: str) -> None:
    call = READS_AND_WRITES[operation]
    message = refused("ValidationException", call, key(pk=PK_OVER))
    assert "hashkey" in message and "2048 bytes" in message
    message = refused("ValidationException", call, key(sk=SK_OVER))
    assert "range keys" in message and "1024 bytes" in message
    call(key(pk=PK_AT_LIMIT, sk=SK_AT_LIMIT))  # at the limits: accepted


def test_key_sizes_follow_the_schema_of_each_table_created(aws: LocalResources) -> None:
    dynamodb().create_table(
        TableName="other", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    refused("ValidationException", dynamodb().get_item, TableName="other",
            Key={"id": {"S": PK_OVER}})
    assert "Item" not in dynamodb().get_item(TableName="other", Key={"id": {"S": PK_AT_LIMIT}})


def test_a_query_with_the_values_before_the_names_still_has_its_keys_checked(
        aws: LocalResources) -> None:
    refused("ValidationException", dynamodb().query, TableName=TABLE,
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": PK_OVER}})
    assert dynamodb().query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": PK_AT_LIMIT}})["Count"] == 0


def test_dynamodb_item_size_follows_the_developer_guide() -> None:
    assert item_size({"pk": {"S": "a"}}) == 3  # the attribute name counts too
    assert item_size({"név": {"S": "Rønde"}}) == 4 + 6  # UTF-8 bytes, names and values
    assert attribute_value_size({"N": "123.4500"}) == 3 + 1  # 4 significant digits
    assert attribute_value_size({"B": b"\x00" * 10}) == 10
    assert attribute_value_size({"BOOL": True}) == attribute_value_size({"NULL": True}) == 1
    assert attribute_value_size({"L": [{"S": "ab"}, {"S": "c"}]}) == 3 + 3 + 2
    assert attribute_value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1


def padded_item(size: int, sk: str = "PAD#1") -> dict[str, Any]:
    """An item of exactly ``size`` bytes by DynamoDB's rule."""
    item = key(sk=sk)
    item["blob"] = {"S": ""}
    item["blob"]["S"] = "x" * (size - item_size(item))
    assert item_size(item) == size
    return item


def test_items_over_400_kb_are_refused(aws: LocalResources) -> None:
    message = refused("ValidationException", dynamodb().put_item, TableName=TABLE,
                      Item=padded_item(400 * 1024 + 1))
    assert "Item size has exceeded" in message
    refused("ValidationException", dynamodb().batch_write_item, RequestItems={TABLE: [
        {"PutRequest": {"Item": padded_item(400 * 1024 + 1)}}]})
    assert count_items() == 0
    # moto itself refuses from 405,000 bytes (its own measure), a little below AWS's 409,600
    dynamodb().put_item(TableName=TABLE, Item=padded_item(400_000))
    assert count_items() == 1


def test_transactions_hold_100_actions(aws: LocalResources) -> None:
    def puts(count: int) -> list[dict[str, Any]]:
        return [{"Put": {"TableName": TABLE, "Item": key(sk=f"T#{i}")}} for i in range(count)]

    message = refused("ValidationException", dynamodb().transact_write_items,
                      TransactItems=puts(101))
    assert "less than or equal to 100" in message
    assert count_items() == 0
    dynamodb().transact_write_items(TransactItems=puts(100))  # moto alone stops at 25
    assert count_items() == 100


def test_transactions_hold_4_mb(aws: LocalResources) -> None:
    def puts(count: int) -> list[dict[str, Any]]:
        return [{"Put": {"TableName": TABLE, "Item": padded_item(380_000, f"T#{i}")}}
                for i in range(count)]

    message = refused("ValidationException", dynamodb().transact_write_items,
                      TransactItems=puts(12))  # 4,560,000 bytes
    assert "4 MB" in message
    assert count_items() == 0
    dynamodb().transact_write_items(TransactItems=puts(11))  # 4,180,000 bytes
    assert count_items() == 11


def test_batch_writes_hold_25_requests(aws: LocalResources) -> None:
    def puts(count: int) -> dict[str, Any]:
        return {TABLE: [{"PutRequest": {"Item": key(sk=f"B#{i}")}} for i in range(count)]}

    message = refused("ValidationException", dynamodb().batch_write_item,
                      RequestItems=puts(26))
    assert "less than or equal to 25" in message
    assert count_items() == 0
    dynamodb().batch_write_item(RequestItems=puts(25))
    assert count_items() == 25


def test_batch_gets_hold_100_keys(aws: LocalResources) -> None:
    """Enforced by moto itself: shown here so that the limit is known to hold locally."""
    def keys(count: int) -> dict[str, Any]:
        return {TABLE: {"Keys": [key(sk=f"G#{i}") for i in range(count)]}}

    refused("ValidationException", dynamodb().batch_get_item, RequestItems=keys(101))
    assert dynamodb().batch_get_item(RequestItems=keys(100))["Responses"][TABLE] == []


def queue_messages(resources: LocalResources) -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_sqs_messages_hold_256_kb_attributes_included(aws: LocalResources) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = aws.queue_url
    message = refused("InvalidParameterValue", sqs.send_message, QueueUrl=url,
                      MessageBody="é" * 131_072 + "x")  # 262,145 bytes in 131,073 characters
    assert "262144 bytes" in message
    attribute: Any = {"kind": {"DataType": "String", "StringValue": "x"}}
    body = "x" * (262_144 - message_size({"MessageAttributes": attribute}))
    refused("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody=body + "x",
            MessageAttributes=attribute)
    assert queue_messages(aws) == 0
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attribute)
    sqs.send_message(QueueUrl=url, MessageBody="é" * 131_072)
    assert queue_messages(aws) == 2


def test_sqs_batches_hold_256_kb_in_total_and_10_entries(aws: LocalResources) -> None:
    sqs = boto3.client("sqs", region_name=REGION)

    def entries(count: int, size: int) -> Any:
        return [{"Id": str(i), "MessageBody": "x" * size} for i in range(count)]

    message = refused("BatchRequestTooLong", sqs.send_message_batch, QueueUrl=aws.queue_url,
                      Entries=entries(2, 131_073))
    assert "262144 bytes" in message
    refused("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", sqs.send_message_batch,
            QueueUrl=aws.queue_url, Entries=entries(11, 10))  # moto's own check
    assert queue_messages(aws) == 0
    sqs.send_message_batch(QueueUrl=aws.queue_url, Entries=entries(2, 131_072))
    sqs.send_message_batch(QueueUrl=aws.queue_url, Entries=entries(10, 10))
    assert queue_messages(aws) == 12


def raw_email(size: int) -> bytes:
    head = (b"From: webinars@estro.example\r\nTo: ada@example.com\r\nSubject: size\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    line = b"x" * 998 + b"\r\n"
    body = line * ((size - len(head)) // len(line))
    return head + body + b"x" * (size - len(head) - len(body))


def test_ses_v2_raw_messages_hold_40_mb(aws: LocalResources) -> None:
    verify_sender("webinars@estro.example")
    ses = boto3.client("sesv2", region_name=REGION)

    def send(size: int) -> Any:
        return ses.send_email(FromEmailAddress="webinars@estro.example",
                              Destination={"ToAddresses": ["ada@example.com"]},
                              Content={"Raw": {"Data": raw_email(size)}})

    message = refused("MessageRejected", send, 40 * 1024 * 1024 + 1)
    assert "41943040 bytes" in message
    at_limit = {"Content": {"Raw": {"Data": raw_email(40 * 1024 * 1024)}}}
    aws_limits.AwsLimits()("sesv2", "SendEmail", at_limit)  # passes (moto takes 4 s to store it)
    assert send(100_000)["MessageId"]


def test_the_local_runtime_enforces_the_limits(harness: Harness) -> None:
    refused("ValidationException", harness.runtime.store.get_series, "x" * 2100)
    assert harness.runtime.store.get_series("x" * 60) is None


def test_leaving_the_stand_in_restores_moto() -> None:
    from moto import mock_aws
    from moto.dynamodb import responses

    before = responses.TRANSACTION_MAX_ITEMS
    with mock_aws():
        with aws_limits.enforced():
            create_resources()
            assert responses.TRANSACTION_MAX_ITEMS == 100
        assert before == responses.TRANSACTION_MAX_ITEMS
        assert "Item" not in dynamodb().get_item(TableName=TABLE, Key=key(pk=PK_OVER))


def test_the_largest_announcement_test_copy_fits_in_one_sqs_message(tmp_path: Path) -> None:
    """Found by the stand-in: 50,000 characters outside ASCII, escaped as \\uXXXX inside the
    queued job, came to 700 KB, which SQS refuses (a 5xx for the organiser)."""
    clock = VirtualClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    with local_runtime(clock, outbox, LocalSettings(webhook_secrets={}, queue="sqs")) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        answer = runtime.organiser(f"/organiser/series/{SERIES_ID}/announcements", {
            "id": "largest", "subject": "Largest", "body_markdown": "😀" * 50_000,
            "audience": {"all": True}, "test_to": "organiser@example.org"}, "largest-1")
        assert answer.status == 202, answer.body
        runtime.drain()
    assert [entry["to"] for entry in outbox.entries()] == ["organiser@example.org"]
