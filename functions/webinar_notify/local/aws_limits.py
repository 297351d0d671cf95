"""AWS service limits that moto does not enforce, enforced in the local stand-in.

A listener on every AWS call (local/aws_calls.py) raises the ClientError AWS would answer, with
AWS's error code and a message like AWS's, before moto sees the call. Code that passes locally
then stays within what AWS accepts. Checked here, where moto (5.x) lets calls through:

    DynamoDB  partition key <= 2,048 bytes, sort key <= 1,024 bytes, on reads (GetItem, Query,
              BatchGetItem, TransactGetItems) and on every write, DeleteItem included
              (moto checks them only where it stores an item)
              item <= 400 KB by DynamoDB's size rule, which the 4 MB transaction total needs
              too (moto refuses single items from 405,000 bytes of its own measure, a little
              stricter than AWS's 409,600: nothing between the two passes locally)
              TransactWriteItems <= 100 actions and <= 4 MB; BatchWriteItem <= 25 requests
    SQS       message <= 256 KB (262,144 bytes, attributes included); batch <= 256 KB in total
              (moto allows 1 MiB, as AWS has since 2025 for queues that ask for it; we keep
              to 256 KB, the MaximumMessageSize queues long had by default)
    SES v2    raw message <= 40 MB (SES v1 SendRawEmail: 10 MB; the project sends with v2)

moto already refuses BatchGetItem over 100 keys and SQS batches over 10 entries, and those are
left to it. moto still refuses TransactWriteItems over 25 actions, AWS's limit before 2022;
``enforced()`` lifts that to AWS's 100 so that what AWS accepts passes locally too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import ClientError

from . import aws_calls

PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
ITEM_BYTES = 400 * 1024
TRANSACTION_ACTIONS = 100
TRANSACTION_BYTES = 4 * 1024 * 1024
BATCH_WRITE_REQUESTS = 25
SQS_MESSAGE_BYTES = 256 * 1024
SES_V2_MESSAGE_BYTES = 40 * 1024 * 1024

KeySchema = tuple[str, str | None]  # (partition key attribute, sort key attribute or None)
_DEFAULT_SCHEMA: KeySchema = ("pk", "sk")  # the table in infra/template.yaml
_NAME_OR_VALUE = re.compile(r"#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_.]*")


class AwsLimits:
    """The listener: knows the tables' key schemas from the CreateTable calls it sees."""

    def __init__(self) -> None:
        self.schemas: dict[str, KeySchema] = {}

    def __call__(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        check = getattr(self, f"_{service}_{_snake(operation)}", None)
        if check is not None:
            check(operation, params)

    # DynamoDB -------------------------------------------------------------------------------

    def _dynamodb_create_table(self, _operation: str, params: Mapping[str, Any]) -> None:
        name = str(params.get("TableName", ""))
        self.schemas[name] = _schema(params.get("KeySchema") or [])
        for index in [*params.get("GlobalSecondaryIndexes", []),
                      *params.get("LocalSecondaryIndexes", [])]:
            self.schemas[f"{name}/{index['IndexName']}"] = _schema(index["KeySchema"])

    def _dynamodb_get_item(self, operation: str, params: Mapping[str, Any]) -> None:
        self._key(operation, params["TableName"], params.get("Key") or {})

    # A delete or an update carries only a key; an update's resulting item size only the
    # stored item can tell, and moto checks that itself.
    _dynamodb_delete_item = _dynamodb_update_item = _dynamodb_get_item

    def _dynamodb_put_item(self, operation: str, params: Mapping[str, Any]) -> None:
        self._item(operation, params["TableName"], params.get("Item") or {})

    def _dynamodb_query(self, operation: str, params: Mapping[str, Any]) -> None:
        table = params["TableName"]
        schema = self.schemas.get(f"{table}/{params['IndexName']}") if "IndexName" in params \
            else self._schema(table)
        if schema is None or "KeyConditionExpression" not in params:
            return
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        attribute = None
        for token in _NAME_OR_VALUE.findall(str(params["KeyConditionExpression"])):
            if token.startswith(":"):
                if token in values:
                    limited = {attribute: values[token]} if attribute and attribute in schema \
                        else {schema[0]: values[token]}  # unsure which key: the larger limit
                    _check_key(operation, limited, schema)
            elif token.upper() not in ("AND", "BETWEEN", "BEGINS_WITH"):
                attribute = names.get(token, token)

    def _dynamodb_batch_get_item(self, operation: str, params: Mapping[str, Any]) -> None:
        for table, request in (params.get("RequestItems") or {}).items():
            for key in request.get("Keys") or []:
                self._key(operation, table, key)

    def _dynamodb_transact_get_items(self, operation: str, params: Mapping[str, Any]) -> None:
        for action in params.get("TransactItems") or []:
            get = action.get("Get") or {}
            self._key(operation, get.get("TableName", ""), get.get("Key") or {})

    def _dynamodb_batch_write_item(self, operation: str, params: Mapping[str, Any]) -> None:
        requests = [(table, r) for table, rs in (params.get("RequestItems") or {}).items()
                    for r in rs]
        if len(requests) > BATCH_WRITE_REQUESTS:
            _refuse(operation, "ValidationException",
                    "1 validation error detected: Value at 'requestItems' failed to satisfy "
                    f"constraint: Member must have length less than or equal to "
                    f"{BATCH_WRITE_REQUESTS}")
        for table, request in requests:
            if "PutRequest" in request:
                self._item(operation, table, request["PutRequest"].get("Item") or {})
            elif "DeleteRequest" in request:
                self._key(operation, table, request["DeleteRequest"].get("Key") or {})

    def _dynamodb_transact_write_items(self, operation: str, params: Mapping[str, Any]) -> None:
        actions = params.get("TransactItems") or []
        if len(actions) > TRANSACTION_ACTIONS:
            _refuse(operation, "ValidationException",
                    "1 validation error detected: Value at 'transactItems' failed to satisfy "
                    f"constraint: Member must have length less than or equal to "
                    f"{TRANSACTION_ACTIONS}")
        total = 0
        for action in actions:
            for kind, request in action.items():
                table = request.get("TableName", "")
                if kind == "Put":
                    total += self._item(operation, table, request.get("Item") or {})
                else:
                    total += self._key(operation, table, request.get("Key") or {})
                    total += sum(attribute_value_size(v) for v in
                                 (request.get("ExpressionAttributeValues") or {}).values())
        if total > TRANSACTION_BYTES:
            _refuse(operation, "ValidationException",
                    "Transaction request cannot be larger than 4 MB")

    def _schema(self, table: str) -> KeySchema:
        return self.schemas.get(table, _DEFAULT_SCHEMA)

    def _key(self, operation: str, table: str, key: Mapping[str, Any]) -> int:
        _check_key(operation, key, self._schema(table))
        return item_size(key)

    def _item(self, operation: str, table: str, item: Mapping[str, Any]) -> int:
        _check_key(operation, item, self._schema(table))
        size = item_size(item)
        if size > ITEM_BYTES:
            _refuse(operation, "ValidationException",
                    "Item size has exceeded the maximum allowed size")
        return size

    # SQS ------------------------------------------------------------------------------------

    def _sqs_send_message(self, operation: str, params: Mapping[str, Any]) -> None:
        size = message_size(params)
        if size > SQS_MESSAGE_BYTES:
            _refuse(operation, "InvalidParameterValue",
                    "One or more parameters are invalid. Reason: Message must be shorter than "
                    f"{SQS_MESSAGE_BYTES} bytes.")

    def _sqs_send_message_batch(self, operation: str, params: Mapping[str, Any]) -> None:
        total = sum(message_size(entry) for entry in params.get("Entries") or [])
        if total > SQS_MESSAGE_BYTES:
            _refuse(operation, "BatchRequestTooLong",
                    f"Batch requests cannot be longer than {SQS_MESSAGE_BYTES} bytes. You have "
                    f"sent {total} bytes.")

    # SES v2 ---------------------------------------------------------------------------------

    def _sesv2_send_email(self, operation: str, params: Mapping[str, Any]) -> None:
        raw = ((params.get("Content") or {}).get("Raw") or {}).get("Data")
        size = len(raw.encode("utf-8") if isinstance(raw, str) else raw or b"")
        if size > SES_V2_MESSAGE_BYTES:
            _refuse(operation, "MessageRejected",
                    f"Message length is more than {SES_V2_MESSAGE_BYTES} bytes long: "
                    f"'{size}'.")


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's item size: each attribute's name and value, strings as UTF-8."""
    return sum(_utf8(name) + attribute_value_size(value) for name, value in item.items())


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """The size of one AttributeValue (developer guide, "Item sizes and formats")."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return _utf8(data)
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else _utf8(data)
    if kind == "N":
        return _number_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(v) for v in data)
    if kind == "NS":
        return sum(_number_size(v) for v in data)
    if kind == "BS":
        return sum(len(v) if isinstance(v, bytes | bytearray) else _utf8(v) for v in data)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + attribute_value_size(v) for k, v in data.items())
    return 0


def message_size(message: Mapping[str, Any]) -> int:
    """An SQS message's size as SQS counts it: the body and every message attribute."""
    size = _utf8(message.get("MessageBody", ""))
    for name, attribute in (message.get("MessageAttributes") or {}).items():
        size += _utf8(name) + _utf8(attribute.get("DataType", ""))
        size += _utf8(attribute.get("StringValue", ""))
        binary = attribute.get("BinaryValue", b"")
        size += len(binary) if isinstance(binary, bytes | bytearray) else _utf8(binary)
    return size


@contextmanager
def enforced() -> Iterator[AwsLimits]:
    """Enforce the limits on every AWS call made inside (around ``mock_aws()``; enter it before
    the tables are created, so that their key schemas are known)."""
    from moto.dynamodb import responses as moto_dynamodb

    limits = AwsLimits()
    stop = aws_calls.watch(limits)
    before = moto_dynamodb.TRANSACTION_MAX_ITEMS
    moto_dynamodb.TRANSACTION_MAX_ITEMS = TRANSACTION_ACTIONS
    try:
        yield limits
    finally:
        moto_dynamodb.TRANSACTION_MAX_ITEMS = before
        stop()


def _check_key(operation: str, key: Mapping[str, Any], schema: KeySchema) -> None:
    partition, sort = schema
    if partition in key and attribute_value_size(key[partition]) > PARTITION_KEY_BYTES:
        _refuse(operation, "ValidationException",
                "One or more parameter values were invalid: Size of hashkey has exceeded the "
                f"maximum size limit of {PARTITION_KEY_BYTES} bytes")
    if sort is not None and sort in key and attribute_value_size(key[sort]) > SORT_KEY_BYTES:
        _refuse(operation, "ValidationException",
                "One or more parameter values were invalid: Aggregated size of all range keys "
                f"has exceeded the size limit of {SORT_KEY_BYTES} bytes")


def _schema(key_schema: list[Mapping[str, str]]) -> KeySchema:
    kinds = {entry["KeyType"]: entry["AttributeName"] for entry in key_schema}
    return kinds.get("HASH", "pk"), kinds.get("RANGE")


def _number_size(text: object) -> int:
    """About one byte per two significant digits, plus one (leading/trailing zeros trimmed)."""
    try:
        digits = Decimal(str(text)).normalize().as_tuple().digits
    except InvalidOperation:
        return _utf8(str(text))
    return (len(digits) + 1) // 2 + 1


def _utf8(text: object) -> int:
    return len(str(text).encode("utf-8", "surrogatepass"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _refuse(operation: str, code: str, message: str) -> None:
    raise ClientError({"Error": {"Code": code, "Message": message},
                       "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {},
                                            "RequestId": "", "HostId": "", "RetryAttempts": 0}},
                      operation)
