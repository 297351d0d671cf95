"""Lambda events and contexts exactly as AWS shapes them, for the local runner and tests."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded")


@dataclass
class LocalContext:
    """The attributes of a Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    timeout_ms: int = 60_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def http_api_event(method: str, path: str, headers: Mapping[str, str], body: bytes,
                   at: datetime, iam_caller: str | None = None,
                   jwt_claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event: lower-case headers, base64 for non-text bodies; with
    ``iam_caller`` as the IAM authorizer passes a verified caller, with ``jwt_claims`` as the
    JWT authorizer passes a verified token's claims."""
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type", "")
    try:
        text = body.decode("utf-8")
        is_text = content_type.startswith(TEXT_TYPES) or not content_type
    except UnicodeDecodeError:
        is_text = False
    request_id = str(uuid.uuid4())
    path, _, query = path.partition("?")
    authorizer: dict[str, Any] | None = {"iam": {
        "userArn": iam_caller, "callerId": iam_caller.rsplit("/", 1)[-1],
        "accountId": "123456789012"}} if iam_caller else None
    if jwt_claims is not None:
        authorizer = {"jwt": {"claims": authorizer_claims(jwt_claims), "scopes": None}}
    if iam_caller and "authorization" not in lowered:  # as the CLI signs: every header it sends
        signed = ";".join(sorted({*lowered, "host", "x-amz-date"}))
        lowered["authorization"] = (f"AWS4-HMAC-SHA256 Credential=local/{at:%Y%m%d}/eu-west-1/"
                                    f"execute-api/aws4_request, SignedHeaders={signed}, "
                                    f"Signature={'0' * 64}")
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        **({"queryStringParameters": {k: v[0] for k, v in parse_qs(query).items()}}
           if query else {}),
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": request_id, "routeKey": "$default",
            "stage": "$default", "time": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(at.timestamp() * 1000),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": lowered.get("user-agent", "")},
            **({"authorizer": authorizer} if authorizer else {}),
        },
        "body": text if is_text else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not is_text,
    }


def authorizer_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the HTTP API's JWT authorizer hands them on: every value a string, a list
    as its items in brackets separated by spaces (``"[a.editor b.viewer]"``)."""
    def flat(value: Any) -> str:
        if isinstance(value, list | tuple):
            return "[" + " ".join(flat(v) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return {str(name): flat(value) for name, value in claims.items()}


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event for the records received from a queue."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {},
        "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": "eu-west-1",
    } for m in messages]}


def scheduled_event(at: datetime) -> dict[str, Any]:
    """An EventBridge Scheduler invocation (the payload is not read by the scheduler)."""
    return {"source": "aws.scheduler", "detail-type": "Scheduled Event",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}}
