"""Answer listeners see every AWS call with what came back, for the cost benchmark to count
requests and the items DynamoDB read or wrote."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import boto3
from moto import mock_aws

from webinar_notify.local import aws_calls

Seen = tuple[str, str, dict[str, Any], dict[str, Any], float]


def test_an_answer_listener_sees_parameters_answers_and_errors_until_stopped() -> None:
    seen: list[Seen] = []

    def listen(service: str, operation: str, params: Mapping[str, Any],
               answer: Mapping[str, Any], seconds: float) -> None:
        seen.append((service, operation, dict(params), dict(answer), seconds))

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk",
                                                     "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        stop = aws_calls.watch_answers(listen)
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        item = dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]
        # A conditional write that fails still comes back, with its error.
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}},
                              ConditionExpression="attribute_not_exists(pk)")
        stop()
        dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})

    assert [(s, o) for s, o, *_ in seen] == [("dynamodb", "PutItem"), ("dynamodb", "GetItem"),
                                             ("dynamodb", "PutItem")]
    put, get, failed = seen
    assert put[2]["Item"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert get[3]["Item"] == item
    assert failed[3]["Error"]["Code"] == "ConditionalCheckFailedException"
    assert all(seconds >= 0 for *_, seconds in seen)
