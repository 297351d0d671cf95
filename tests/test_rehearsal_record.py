"""What a rehearsal records: every answer whole in requests.jsonl, and state.json with every
stored item and queued message, read without changing what it shows."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from conftest import SECRET, SERIES_FILE, SERIES_ID, START, WEBHOOK, Harness, registration_body
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.organiser_jobs import Continuation
from webinar_notify.core.signatures import sign
from webinar_notify.core.text import suppression_id
from webinar_notify.local.events import LocalContext
from webinar_notify.local.rehearsal_record import (
    plain_value,
    request_record,
    state_snapshot,
    write_state,
)
from webinar_notify.local.runtime import HttpAnswer, LocalSettings, local_runtime
from webinar_notify.local.ses_events import ses_event, sns_delivery
from webinar_notify.series_files import load_series_file

ADDRESS = "Erase.Me@Example.org"  # as typed; stored and mailed with the domain lower-cased
DELIVERED = "Erase.Me@example.org"
KEY = "local-development-only"  # the local registrant key, which keys the suppression hash


def _get(harness: Harness, path: str) -> HttpAnswer:
    return harness.runtime.request("GET", path, {}, b"")


def _as_jsonl(record: dict[str, object]) -> dict[str, object]:
    """The record as a line of the file and read back: it must survive that unchanged."""
    line = json.dumps(record, ensure_ascii=False)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    assert parsed == record
    return parsed


def _headers(record: dict[str, object]) -> dict[str, str]:
    headers = record["headers"]
    assert isinstance(headers, dict)
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _state_text(harness: Harness) -> str:
    return json.dumps(state_snapshot(harness.runtime), ensure_ascii=False)


def _items(snapshot: dict[str, object], prefix: str) -> list[dict[str, object]]:
    table = snapshot["table"]
    assert isinstance(table, dict)
    return [i for i in table["items"] if str(i["sk"]).startswith(prefix)]


# ---- requests.jsonl -----------------------------------------------------------------------

def test_a_json_answer_a_manage_page_and_a_calendar_feed_are_each_recorded_whole(
        harness: Harness) -> None:
    answer = harness.register(email=ADDRESS, name="Erase Me")
    at = harness.clock.now()
    record = _as_jsonl(request_record(at, "post", "/webhooks/generic/x", answer, note="first"))
    assert record["at"] == "2023-10-02T09:00:00Z"
    assert (record["method"], record["path"], record["status"]) == (
        "POST", "/webhooks/generic/x", 202)
    assert record["content_type"] == "application/json"
    assert record["body"] == json.loads(answer.text) and answer.body["status"] == "registered"
    assert "body_encoding" not in record and record["note"] == "first"
    assert _headers(record)["content-type"] == "application/json"

    manage = harness.link(r"http://localhost:8000(/manage/\S+)")
    shown = _get(harness, manage)
    page = _as_jsonl(request_record(at, "GET", manage, shown))
    assert page["status"] == 200 and page["path"] == manage  # as requested, token and all
    assert str(page["content_type"]).startswith("text/html")
    assert page["body"] == shown.text and "<html" in shown.text.lower()
    assert "body_encoding" not in page and "note" not in page
    assert "frame-ancestors 'none'" in _headers(page)["content-security-policy"]
    assert _headers(page)["cache-control"] == "private, no-store"

    feed = harness.link(r"http://localhost:8000(/calendar/\S+\.ics)")
    calendar = _as_jsonl(request_record(at, "GET", feed, _get(harness, feed)))
    assert calendar["status"] == 200
    assert str(calendar["content_type"]).startswith("text/calendar")
    body = str(calendar["body"])
    assert body.startswith("BEGIN:VCALENDAR") and body.count("BEGIN:VEVENT") >= 1


def test_binary_is_base64_with_a_marker_and_a_refused_step_keeps_its_error() -> None:
    at = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    pdf = "%PDF-1.7 \u00e9"
    binary = request_record(at, "GET", "/x.pdf", HttpAnswer(
        200, {}, pdf, "application/pdf", {"Content-Type": "application/pdf"}))
    assert binary["body_encoding"] == "base64"
    assert base64.b64decode(binary["body"]).decode("utf-8") == pdf
    refused = request_record(at, "POST", "organiser:announce",
                             HttpAnswer(400, {"error": "sessions: unknown session s9"}))
    assert refused["body"] == {"error": "sessions: unknown session s9"}
    broken = request_record(at, "GET", "/odd", HttpAnswer(502, {}, "{not json",
                                                          "application/json"))
    assert (broken["body"], broken["body_encoding"]) == ("{not json", "text")
    naive = request_record(datetime(2024, 1, 15, 10, 30), "GET", "/", HttpAnswer(
        304, {}, "", "text/calendar; charset=utf-8"))
    assert naive["at"] == "2024-01-15T10:30:00Z" and naive["body"] == ""


# ---- state.json ---------------------------------------------------------------------------

def test_a_registrant_is_in_the_state_and_after_erasing_themselves_nowhere(
        harness: Harness) -> None:
    harness.register(email=ADDRESS, name="Erase Me", sessions=["s1", "s2"])
    harness.register(email="keep@example.org", name="Keep Me", event_id="evt-keep")
    harness.runtime.drain()
    before = state_snapshot(harness.runtime)
    registrations = _items(before, "REG#")
    assert len(registrations) == 2
    assert ADDRESS.lower() in json.dumps(registrations).lower()

    harness.clock.advance(timedelta(minutes=2))
    harness.erase(DELIVERED)
    after_text = _state_text(harness)
    assert ADDRESS.lower() not in after_text.lower()
    assert "erase.me" not in after_text.lower() and "Erase Me" not in after_text
    assert "keep@example.org" in after_text  # the others stay
    tombstones = _items(json.loads(after_text), "ERASED#")
    assert len(tombstones) == 1 and set(tombstones[0]) == {"pk", "sk", "erased_at",
                                                          "expires_at"}
    harness.runtime.drain()
    assert ADDRESS.lower() not in _state_text(harness).lower()


def test_a_hard_bounce_leaves_a_suppression_holding_only_the_keyed_hash(
        harness: Harness) -> None:
    from webinar_notify.entrypoints import feedback

    harness.register(email=ADDRESS, name="Erase Me")
    harness.runtime.drain()
    entry = next(e for e in harness.outbox.entries() if e["to"] == DELIVERED)
    assert _items(state_snapshot(harness.runtime), "SUPPRESSED") == []
    counted = feedback.lambda_handler(
        sns_delivery(ses_event(entry, "Bounce", at=harness.clock.now())),
        LocalContext("webinar-notify-feedback"))  # type: ignore[arg-type]
    assert counted.get("hard_bounces") == 1
    snapshot = state_snapshot(harness.runtime)
    hashed = suppression_id(KEY, ADDRESS)
    suppressions = [i for i in snapshot["table"]["items"] if "SUPPRESSED" in str(i["pk"])
                    + str(i["sk"])]
    assert {(i["pk"], i["sk"]) for i in suppressions} >= {
        (f"SUPPRESSED#{hashed}", "SUPPRESSED")}
    assert ADDRESS.lower() not in json.dumps(suppressions).lower()
    assert all(hashed in str(i["pk"]) + str(i["sk"]) for i in suppressions)


def test_a_queued_message_is_listed_and_still_delivered_afterwards(harness: Harness) -> None:
    harness.register(email=ADDRESS, name="Erase Me")  # its confirmation waits on the queue
    first = state_snapshot(harness.runtime)
    assert state_snapshot(harness.runtime) == first  # looking twice changes nothing
    waiting = first["send_queue"]["waiting"]
    assert len(waiting) == 1 and first["send_queue"]["dead_letters"] == []
    assert waiting[0]["body"]["kind"] == "confirmation"  # parsed, not a string
    assert waiting[0]["receives"] == 0 and waiting[0]["visible_at"] == "2023-10-02T09:00:00Z"
    assert harness.runtime.drain() == 1
    assert [e["kind"] for e in harness.outbox.entries() if e["to"] == DELIVERED] == [
        "confirmation"]
    assert state_snapshot(harness.runtime)["send_queue"]["waiting"] == []


def test_waiting_job_steps_and_export_keys_are_listed_and_the_file_is_stable(
        harness: Harness, tmp_path: Path) -> None:
    harness.runtime.jobs.send(Continuation(SERIES_ID, "job-1", "registrants_csv"))
    s3 = boto3.client("s3", region_name="eu-west-1")
    bucket = harness.runtime.resources.export_bucket
    for key in ("exports/b.csv", "exports/a.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"email\nsomeone@example.org\n")
    path = write_state(harness.runtime, tmp_path / "outbox")
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "outbox" / "state.json" and text.endswith("}\n")
    state = json.loads(text)
    assert state["export_bucket"]["keys"] == ["exports/a.csv", "exports/b.csv"]
    assert "someone@example.org" not in text  # keys only, never an export's rows
    job = state["job_queue"]["waiting"]
    assert len(job) == 1 and "job-1" in json.dumps(job)
    assert len(harness.runtime.jobs.look()) == 1  # still waiting
    assert write_state(harness.runtime, tmp_path / "outbox").read_text("utf-8") == text


def test_on_moto_sqs_a_look_counts_no_receive_and_the_message_is_delivered(
        tmp_path: Path) -> None:
    clock = VirtualClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    settings = LocalSettings(webhook_secrets={"generic": SECRET}, queue="sqs")
    with local_runtime(clock, outbox, settings) as runtime:
        runtime.push_series(load_series_file(SERIES_FILE))
        runtime.queue.send_raw("not an email job")  # poison: it ends in the dead-letter queue
        assert runtime.drain() == 0
        body = registration_body(ADDRESS, "Erase Me", "evt-1", created=clock.now())
        signed = {"Content-Type": "application/json",
                  "Webinar-Signature": sign(SECRET, int(clock.now().timestamp()), body)}
        assert runtime.request("POST", WEBHOOK, signed, body).status == 202
        for _ in range(runtime.resources.max_receive_count + 1):
            state = state_snapshot(runtime)
        waiting = state["send_queue"]["waiting"]
        assert [(w["body"]["kind"], w["receives"], w["visible_at"]) for w in waiting] == [
            ("confirmation", 0, None)]
        assert [d["body"] for d in state["send_queue"]["dead_letters"]] == ["not an email job"]
        assert runtime.drain() == 1
        assert [e["kind"] for e in outbox.entries()] == ["confirmation"]
        assert runtime.dead_letters() == 1 and state_snapshot(runtime)["send_queue"][
            "waiting"] == []


def test_every_attribute_type_becomes_plain_json() -> None:
    assert plain_value({"N": "10"}) == 10 and plain_value({"N": "1.5"}) == 1.5
    assert plain_value({"N": "1E+3"}) == 1000
    assert plain_value({"NS": ["3", "1.25", "2"]}) == [1.25, 2, 3]
    assert plain_value({"SS": ["b", "a"]}) == ["a", "b"]
    assert plain_value({"B": b"\x00\xff"}) == "AP8="
    assert plain_value({"BS": [b"b", b"a"]}) == ["YQ==", "Yg=="]
    assert plain_value({"BOOL": False}) is False and plain_value({"NULL": True}) is None
    assert plain_value({"L": [{"S": "x"}, {"M": {"z": {"N": "0"}, "a": {"S": "y"}}}]}) == [
        "x", {"a": "y", "z": 0}]
