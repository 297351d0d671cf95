"""What a rehearsal leaves behind for an organiser to read: one ``requests.jsonl`` line per
request with the whole answer, and ``state.json``, everything stored and queued at the end.

Both files are local, like the outbox beside them, and hold what the outbox holds: paths are
kept as requested, so they carry the link tokens of manage pages and calendar feeds; a console
sign-in's cookies stay with its answer; stored items and queued emails carry addresses and
names. They exist so that an erasure or a suppression can be checked from outside; nothing
here writes a log line. ``state.json`` reads the table with a Scan, which only this local dump
does (the product never scans).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from .infra import REGION
from .queues import Waiting
from .runtime import HttpAnswer, LocalRuntime

STATE_FILE = "state.json"
JSON_TYPES = ("application/json",)
TEXT_TYPES = ("application/xml", "application/javascript", "application/ecmascript",
              "application/x-www-form-urlencoded", "image/svg+xml")


def request_record(at: datetime, method: str, path: str, answer: HttpAnswer,
                   note: str = "") -> dict[str, Any]:
    """One requests.jsonl line: at (ISO Z), method, path, status, the response headers,
    content_type, and the body: parsed JSON for JSON, the text for HTML and calendars
    (text/calendar) and other text, base64 with a marker for anything binary."""
    record: dict[str, Any] = {
        "at": iso_z(at), "method": method.upper(), "path": path, "status": answer.status,
        "headers": dict(sorted(answer.headers.items(), key=lambda pair: pair[0].lower())),
        "content_type": answer.content_type}
    if answer.cookies:
        record["cookies"] = list(answer.cookies)
    record.update(_body(answer))
    if note:
        record["note"] = note
    return record


def _body(answer: HttpAnswer) -> dict[str, Any]:
    """The answer's body as JSON can hold it, and how it is encoded when not as sent."""
    kind = media_type(answer.content_type)
    if is_json(kind):
        if not answer.text:
            return {"body": answer.body}  # an answer made without a text (a refused step)
        try:
            return {"body": json.loads(answer.text)}
        except ValueError:
            return {"body": answer.text, "body_encoding": "text"}  # said JSON, was not
    if not answer.text or is_text(kind, answer.content_type):
        return {"body": answer.text}
    return {"body": base64.b64encode(answer.text.encode("utf-8")).decode("ascii"),
            "body_encoding": "base64"}


def media_type(content_type: str) -> str:
    """``text/html; charset=utf-8`` -> ``text/html``."""
    return content_type.partition(";")[0].strip().lower()


def is_json(kind: str) -> bool:
    return kind in JSON_TYPES or kind.endswith("+json")


def is_text(kind: str, content_type: str) -> bool:
    """Text a person can read in the file: any text/*, XML, a form, or a declared charset."""
    return (kind.startswith("text/") or kind in TEXT_TYPES or kind.endswith("+xml")
            or "charset=" in content_type.lower() or not kind)


def state_snapshot(runtime: LocalRuntime) -> dict[str, Any]:
    """Every stored item of the table (all pages of a Scan, as plain JSON: numbers as int
    or float, sets as sorted lists, binary as base64), every message waiting in the send
    queue and its dead-letter queue (bodies parsed when JSON) without consuming them or
    changing their receive counts, waiting organiser job messages, and the keys of the
    export bucket's objects; sorted so two runs give the same file."""
    resources = runtime.resources
    return {
        "at": iso_z(runtime.clock.now()),
        "table": {"name": resources.table, "items": table_items(resources.table)},
        "send_queue": {"waiting": _messages(runtime.queue.look()),
                       "dead_letters": _messages(runtime.queue.look_dead())},
        "job_queue": {"waiting": sorted((_parsed(body) for body in runtime.jobs.look()),
                                        key=_canonical)},
        "export_bucket": {"name": resources.export_bucket,
                          "keys": bucket_keys(resources.export_bucket)},
    }


def write_state(runtime: LocalRuntime, outbox: Path) -> Path:
    """outbox/state.json (local only; pretty-printed, UTF-8)."""
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / STATE_FILE
    text = json.dumps(state_snapshot(runtime), ensure_ascii=False, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def table_items(table: str) -> list[dict[str, Any]]:
    """Every item, each page of a consistent Scan, as plain JSON sorted by its keys."""
    client = boto3.client("dynamodb", region_name=REGION)
    items = [plain_item(item)
             for page in client.get_paginator("scan").paginate(TableName=table,
                                                               ConsistentRead=True)
             for item in page.get("Items", [])]
    return sorted(items, key=lambda item: (str(item.get("pk", "")), str(item.get("sk", "")),
                                           _canonical(item)))


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (attribute values as the low-level API gives them) as plain JSON."""
    return {name: plain_value(value) for name, value in sorted(item.items())}


def plain_value(value: dict[str, Any]) -> Any:
    """One attribute value: S, N, B, BOOL, NULL, the three sets, L and M."""
    kind, content = next(iter(value.items()))
    if kind == "S":
        return content
    if kind == "N":
        return _number(content)
    if kind == "B":
        return _base64(content)
    if kind == "BOOL":
        return bool(content)
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(content)
    if kind == "NS":
        return sorted(_number(n) for n in content)
    if kind == "BS":
        return sorted(_base64(b) for b in content)
    if kind == "L":
        return [plain_value(v) for v in content]
    if kind == "M":
        return plain_item(content)
    raise ValueError(f"unknown DynamoDB attribute type {kind}")


def _number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def _base64(data: bytes | bytearray | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return base64.b64encode(raw).decode("ascii")


def bucket_keys(bucket: str) -> list[str]:
    """The keys of every object in the bucket (not their contents: an export holds people)."""
    if not bucket:
        return []
    s3 = boto3.client("s3", region_name=REGION)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(str(obj["Key"]) for page in pages for obj in page.get("Contents", []))


def _messages(messages: list[Waiting]) -> list[dict[str, Any]]:
    records = [{"body": _parsed(m.body), "receives": m.receives,
                "visible_at": iso_z(m.visible_at) if m.visible_at else None}
               for m in messages]
    return sorted(records, key=lambda r: (str(r["visible_at"] or ""), _canonical(r["body"])))


def _parsed(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def iso_z(moment: datetime) -> str:
    """A moment in UTC as ISO 8601 with ``Z`` (a naive one is taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")
