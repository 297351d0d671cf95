"""Form providers: each one's example payload, signed as the provider signs it, becomes the
right registrant and a confirmation; tampered, re-encoded or stale deliveries get a 401."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import SERIES_FILE, START, Harness, registration_body
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.text import registrant_id
from webinar_notify.local.runtime import LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file

SECRET = "provider-secret"
FORMS = {
    "typeform": {"email": "email", "full_name": ["first_name", "last_name"], "time_zone": "tz",
                 "sessions": "sessions", "consent": "reminders_ok",
                 "choices": {"26 Oct: Challenges & Opportunities": "s1",
                             "6 Nov: Clinical Workflow": "s2"},
                 "interests": {"glasgow": "estro24-pre-meeting"}},
    "tally": {"email": "Email", "full_name": "Your name", "time_zone": "tz",
              "sessions": "Which sessions?",
              "choices": {"Session 1 (26 Oct)": "s1", "Session 5 (5 Feb)": "s5"}},
    "zoom": {"webinars": {"81234567890": "s1", "89999999999": "*"}},
}


@pytest.fixture
def forms(tmp_path: Path) -> Iterator[Harness]:
    clock = VirtualClock(START)
    outbox = OutboxMailer(tmp_path / "outbox", clock)
    secrets = {name: SECRET for name in ("generic", "typeform", "tally", "zoom", "msforms",
                                         "jotform", "eventbrite", "eventbrite-oauth")}
    with local_runtime(clock, outbox, LocalSettings(webhook_secrets=secrets)) as runtime:
        series = replace(load_series_file(SERIES_FILE), forms=FORMS)
        runtime.push_series(series)
        yield Harness(runtime, clock, outbox, tmp_path / "outbox")


def _b64_hmac(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _registration(harness: Harness, address: str) -> Any:
    rid = registrant_id("local-development-only", "reirradiation-2023", address)
    return harness.runtime.store.get_registration("reirradiation-2023", rid)


def _confirmation_text(harness: Harness, address: str) -> str:
    harness.runtime.drain()
    [entry] = [e for e in harness.outbox.entries() if e["to"] == address]
    message = email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                       policy=email.policy.default)
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def typeform_body(first: str, last: str, address: str, tz: str = "Europe/Copenhagen") -> bytes:
    """Shaped like Typeform's documented form_response example."""
    return json.dumps({
        "event_id": "01GW9YZ9J0XQ8QG4MVE0T0Z0R1", "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15",
            "landed_at": "2023-10-02T08:58:02Z", "submitted_at": "2023-10-02T09:00:00Z",
            "hidden": {"tz": tz},
            "definition": {"id": "lT4Z3j", "title": "Reirradiation webinars", "fields": []},
            "answers": [
                {"type": "text", "text": first,
                 "field": {"id": "JwWggjAKtOkA", "type": "short_text", "ref": "first_name"}},
                {"type": "text", "text": last,
                 "field": {"id": "SMEUb7VJz92Q", "type": "short_text", "ref": "last_name"}},
                {"type": "email", "email": address,
                 "field": {"id": "k6TP9oLGgHjl", "type": "email", "ref": "email"}},
                {"type": "choices", "choices": {"labels": [
                    "26 Oct: Challenges & Opportunities", "6 Nov: Clinical Workflow"]},
                 "field": {"id": "PNe8ZKBK8C2Q", "type": "multiple_choice", "ref": "sessions"}},
                {"type": "boolean", "boolean": True,
                 "field": {"id": "Q7M2XAwY04dW", "type": "yes_no", "ref": "reminders_ok"}},
                {"type": "boolean", "boolean": True,
                 "field": {"id": "gFFf3xAkJKsr", "type": "yes_no", "ref": "glasgow"}}]}},
        ensure_ascii=False).encode()


@pytest.mark.parametrize(("first", "last"), [
    ("Søren", "Kierkegaard"), ("José", "Núñez"), ("Zoë", "O'Brien-Łukasik"),
    ("田中", "愛子"), ("Nguyễn Thị", "Minh Khai")])
def test_a_typeform_response_becomes_the_registrant_and_a_confirmation(
        forms: Harness, first: str, last: str) -> None:
    body = typeform_body(first, last, "reader@example.org")
    answer = forms.runtime.request("POST", "/webhooks/typeform/reirradiation-2023", {
        "Typeform-Signature": f"sha256={_b64_hmac(body)}",
        "Content-Type": "application/json"}, body)
    assert answer.status == 202, answer.body
    stored = _registration(forms, "reader@example.org")
    assert stored.registrant.full_name == f"{first} {last}"
    assert stored.registrant.time_zone == "Europe/Copenhagen"
    assert stored.session_ids == frozenset({"s1", "s2"})
    assert stored.interests == frozenset({"estro24-pre-meeting"})
    assert f"Dear {first} {last}," in _confirmation_text(forms, "reader@example.org")


def test_tally_answers_with_option_ids_and_hidden_fields(forms: Harness) -> None:
    body = json.dumps({
        "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1", "eventType": "FORM_RESPONSE",
        "createdAt": "2023-10-02T09:00:00.000Z",
        "data": {"responseId": "2wgx4n", "submissionId": "2wgx4n", "respondentId": "dwQKYm",
                 "formId": "VwbNEw", "formName": "Reirradiation", "createdAt":
                 "2023-10-02T09:00:00.000Z", "fields": [
                     {"key": "question_mVGEg3", "label": "Your name", "type": "INPUT_TEXT",
                      "value": "Heidi Rønde"},
                     {"key": "question_nPdLv8", "label": "Email", "type": "INPUT_EMAIL",
                      "value": "heidi@example.dk"},
                     {"key": "question_3EKz4n", "label": "Which sessions?",
                      "type": "CHECKBOXES", "value": ["5c6e7f", "9a8b7c"],
                      "options": [{"id": "5c6e7f", "text": "Session 1 (26 Oct)"},
                                  {"id": "9a8b7c", "text": "Session 5 (5 Feb)"}]},
                     {"key": "question_w4Q1Xa", "label": "tz", "type": "HIDDEN_FIELDS",
                      "value": "Europe/Copenhagen"}]}}, ensure_ascii=False).encode()
    answer = forms.runtime.request("POST", "/webhooks/tally/reirradiation-2023",
                                   {"Tally-Signature": _b64_hmac(body)}, body)
    assert answer.status == 202, answer.body
    stored = _registration(forms, "heidi@example.dk")
    assert stored.registrant.full_name == "Heidi Rønde"
    assert stored.session_ids == frozenset({"s1", "s5"})
    assert "Dear Heidi Rønde," in _confirmation_text(forms, "heidi@example.dk")


def _zoom(body: dict[str, Any], at: int, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), f"v0:{at}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"x-zm-signature": f"v0={signature}", "x-zm-request-timestamp": str(at)}, raw


def test_a_zoom_registrant_keeps_the_personal_join_link(forms: Harness) -> None:
    at = int(forms.clock.now().timestamp())
    headers, raw = _zoom({"event": "webinar.registration_created", "event_ts": at * 1000,
                          "payload": {"account_id": "AAAAAABBBB", "object": {
                              "uuid": "4444AAAiAAAAAiAiAiiAii==", "id": "81234567890",
                              "host_id": "x1yCzABCDEfg123HiJKl5m",
                              "topic": "Reirradiation Challenges & Opportunities",
                              "start_time": "2023-10-26T13:00:00Z",
                              "timezone": "America/Los_Angeles",  # the host's: not used
                              "registrant": {
                                  "id": "abcdefghij0-klmnopq23456", "first_name": "José",
                                  "last_name": "Núñez", "email": "jose@example.es",
                                  "join_url": "https://example.zoom.us/w/81234567890?tk=abc"}}}},
                         at)
    answer = forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023", headers, raw)
    assert answer.status == 202, answer.body
    stored = _registration(forms, "jose@example.es")
    assert stored.registrant.full_name == "José Núñez"
    assert stored.registrant.time_zone == "Europe/Brussels"  # the series', not the host's
    assert stored.session_ids == frozenset({"s1"})
    assert "https://example.zoom.us/w/81234567890?tk=abc" in _confirmation_text(
        forms, "jose@example.es")

    joined_headers, joined = _zoom({"event": "webinar.participant_joined", "event_ts": at,
                                    "payload": {"object": {"id": "81234567890", "participant": {
                                        "user_name": "José Núñez",
                                        "email": "jose@example.es"}}}}, at)
    assert forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023",
                                 joined_headers, joined).status == 200
    assert _registration(forms, "jose@example.es").attended == frozenset({"s1"})


def test_a_recurring_zoom_webinar_records_each_occurrence_on_its_session(
        forms: Harness) -> None:
    """Webinar 89999999999 stands for the whole series: one id, one occurrence per session."""
    assert forms.post(registration_body("ines@example.pt", "Inês", "evt-ines",
                                        created=forms.clock.now()), secret=SECRET).status == 202
    forms.clock.set(datetime(2023, 11, 6, 15, 0, tzinfo=UTC))  # during s2
    at = int(forms.clock.now().timestamp())

    def joined(start_time: str | None, join_time: str) -> int:
        webinar: dict[str, Any] = {"id": "89999999999", "uuid": f"occ-{start_time}",
                                   "participant": {"user_name": "Inês", "join_time": join_time,
                                                   "email": "ines@example.pt"}}
        if start_time:
            webinar["start_time"] = start_time
        headers, raw = _zoom({"event": "webinar.participant_joined", "event_ts": at * 1000,
                              "payload": {"object": webinar}}, at)
        return forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023", headers,
                                     raw).status

    assert joined("2023-10-26T13:00:00Z", "2023-10-26T13:04:00Z") == 200  # s1's occurrence
    assert joined(None, "2023-11-06T14:10:00Z") == 200  # no start_time: s2 by the join time
    assert _registration(forms, "ines@example.pt").attended == frozenset({"s1", "s2"})

    assert joined("2023-12-25T14:00:00Z", "2023-12-25T14:01:00Z") == 200  # no such session
    assert _registration(forms, "ines@example.pt").attended == frozenset({"s1", "s2"})
    counts = forms.items("COUNTS")
    assert [int(i["attendance_unmatched"]["N"]) for i in counts
            if "attendance_unmatched" in i] == [1]


def test_zoom_url_validation_is_answered_and_stores_nothing(forms: Harness) -> None:
    at = int(forms.clock.now().timestamp())
    headers, raw = _zoom({"event": "endpoint.url_validation", "event_ts": at,
                          "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}, at)
    answer = forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023", headers, raw)
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer.status == 200
    assert answer.body == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    unsigned = forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023", {}, raw)
    assert unsigned.status == 401  # an unsigned challenge must not make us an HMAC oracle


def test_re_encoded_other_secret_or_stale_deliveries_are_refused(forms: Harness) -> None:
    body = typeform_body("Søren", "Kierkegaard", "reader@example.org")
    reencoded = json.dumps(json.loads(body)).encode()  # same JSON, other bytes (\\u escapes)
    at = int(forms.clock.now().timestamp())
    zoom_headers, zoom_raw = _zoom({"event": "webinar.registration_created", "event_ts": at,
                                    "payload": {"object": {"id": "81234567890", "registrant": {
                                        "email": "z@example.org", "first_name": "Z"}}}},
                                   at - 301)
    tally = json.dumps({"eventId": "e1", "eventType": "FORM_RESPONSE",
                        "createdAt": "2023-10-02T09:00:00Z", "data": {"fields": [
                            {"key": "q1", "label": "Email", "type": "INPUT_EMAIL",
                             "value": "reader@example.org"}]}}).encode()
    tally_reencoded = json.dumps(json.loads(tally), indent=1).encode()
    fresh_headers, fresh_zoom = _zoom(json.loads(zoom_raw), at, secret="another")
    cases = [
        ("typeform", {"Typeform-Signature": f"sha256={_b64_hmac(body)}"}, reencoded),
        ("typeform", {"Typeform-Signature": f"sha256={_b64_hmac(body, 'other')}"}, body),
        ("tally", {"Tally-Signature": _b64_hmac(tally, "other")}, tally),
        ("tally", {"Tally-Signature": _b64_hmac(tally)}, tally_reencoded),
        ("zoom", zoom_headers, zoom_raw),  # signed, but 301 s ago
        ("zoom", fresh_headers, fresh_zoom),  # fresh, but with another secret
        ("zoom", {**_zoom(json.loads(zoom_raw), at)[0]},
         json.dumps(json.loads(zoom_raw), indent=1).encode()),  # re-encoded
    ]
    for provider, headers, raw in cases:
        answer = forms.runtime.request("POST", f"/webhooks/{provider}/reirradiation-2023",
                                       headers, raw)
        assert answer.status == 401, (provider, answer.body)
    assert _registration(forms, "reader@example.org") is None
    assert _registration(forms, "z@example.org") is None


def test_a_missing_email_an_unknown_zone_or_an_unknown_choice_is_a_400(
        forms: Harness) -> None:
    no_email = typeform_body("Ana", "Silva", "")
    unknown = typeform_body("Ana", "Silva", "ana@example.org").replace(
        b"6 Nov: Clinical Workflow", b"7 Nov: No such session")
    no_zone = typeform_body("Ana", "Silva", "ana@example.org", tz="Mars/Olympus_Mons")
    for raw, message in ((no_email, "answer 'email' is required"),
                         (unknown, "is not a session of this series"),
                         (no_zone, "is not a time zone")):
        answer = forms.runtime.request("POST", "/webhooks/typeform/reirradiation-2023",
                                       {"Typeform-Signature": f"sha256={_b64_hmac(raw)}"}, raw)
        assert answer.status == 400 and message in answer.body["error"]
    assert _registration(forms, "ana@example.org") is None


def test_microsoft_forms_through_power_automate_with_a_static_token(forms: Harness) -> None:
    series = forms.runtime.store.get_series("reirradiation-2023")
    assert series is not None
    forms.runtime.push_series(replace(series, forms={
        **series.forms, "msforms": {"email": "Email address", "full_name": "Full name",
                                    "sessions": "Sessions",
                                    "choices": {"26 October": "s1", "6 November": "s2"}}}))
    body = json.dumps({"id": "12", "submitted": "2023-10-02T09:00:00Z", "answers": {
        "Email address": "nguyen@example.vn", "Full name": "Nguyễn Thị Minh Khai",
        "Sessions": "26 October;6 November;"}}, ensure_ascii=False).encode()
    refused = forms.runtime.request("POST", "/webhooks/msforms/reirradiation-2023",
                                    {"X-Webinar-Token": "guess"}, body)
    accepted = forms.runtime.request("POST", "/webhooks/msforms/reirradiation-2023",
                                     {"X-Webinar-Token": SECRET}, body)
    assert refused.status == 401 and accepted.status == 202, accepted.body
    stored = _registration(forms, "nguyen@example.vn")
    assert stored.registrant.full_name == "Nguyễn Thị Minh Khai"
    assert stored.session_ids == frozenset({"s1", "s2"})
    assert "Dear Nguyễn Thị Minh Khai," in _confirmation_text(forms, "nguyen@example.vn")


def test_jotform_multipart_with_the_token_in_the_url(forms: Harness) -> None:
    series = forms.runtime.store.get_series("reirradiation-2023")
    assert series is not None
    forms.runtime.push_series(replace(series, forms={
        **series.forms, "jotform": {"email": "q4_email", "full_name": "q3_name",
                                    "time_zone": "q7_tz"}}))
    raw_request = json.dumps({"slug": "submit/231234567890", "q3_name": {
        "first": "田中", "last": "愛子"}, "q4_email": "aiko@example.jp",
        "q7_tz": "Asia/Tokyo"}, ensure_ascii=False)
    boundary = "------------------------8e2f6a3c1b"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"formID\"\r\n\r\n"
            f"231234567890\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"submissionID\"\r\n\r\n5712345678901234567\r\n--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"rawRequest\"\r\n\r\n{raw_request}\r\n"
            f"--{boundary}--\r\n").encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    path = "/webhooks/jotform/reirradiation-2023"
    assert forms.runtime.request("POST", path, headers, body).status == 401
    assert forms.runtime.request("POST", f"{path}?token=wrong", headers, body).status == 401
    accepted = forms.runtime.request("POST", f"{path}?token={SECRET}", headers, body)
    assert accepted.status == 202, accepted.body
    stored = _registration(forms, "aiko@example.jp")
    assert stored.registrant.full_name == "田中 愛子"
    assert stored.registrant.time_zone == "Asia/Tokyo"
    assert "Thu 26 Oct 2023 22:00 JST (15:00 CEST)" in _confirmation_text(forms,
                                                                         "aiko@example.jp")


def test_eventbrite_orders_are_read_from_its_api_host_only(forms: Harness) -> None:
    from webinar_notify import bootstrap

    series = forms.runtime.store.get_series("reirradiation-2023")
    assert series is not None
    forms.runtime.push_series(replace(series, forms={
        **series.forms, "eventbrite": {"webinars": {"717926867587": "*"}}}))
    fetched: list[tuple[str, str, str]] = []

    class FakeEventbrite:
        def get_json(self, url: str, token: str, allowed_host: str) -> dict[str, Any]:
            fetched.append((url, token, allowed_host))
            return {"id": "5126713099", "created": "2023-10-02T08:59:00Z",
                    "event_id": "717926867587", "first_name": "Zoë",
                    "last_name": "O'Brien-Łukasik", "email": "zoe@example.ie",
                    "status": "placed"}

    bootstrap.services().intake.fetcher = FakeEventbrite()
    path = f"/webhooks/eventbrite/reirradiation-2023?token={SECRET}"
    elsewhere = json.dumps({"config": {"action": "order.placed"},
                            "api_url": "https://attacker.example/v3/orders/1/"}).encode()
    assert forms.runtime.request("POST", path, {}, elsewhere).status == 400
    assert fetched == []  # never a request to anywhere but Eventbrite's API host

    body = json.dumps({"config": {"action": "order.placed", "user_id": "1234",
                                  "webhook_id": "5678"},
                       "api_url": "https://www.eventbriteapi.com/v3/orders/5126713099/"}).encode()
    assert forms.runtime.request("POST", "/webhooks/eventbrite/reirradiation-2023",
                                 {}, body).status == 401  # no token in the URL
    answer = forms.runtime.request("POST", path, {}, body)
    assert answer.status == 202, answer.body
    assert fetched == [("https://www.eventbriteapi.com/v3/orders/5126713099/"
                        "?expand=attendees,answers", SECRET, "www.eventbriteapi.com")]
    stored = _registration(forms, "zoe@example.ie")
    assert stored.registrant.full_name == "Zoë O'Brien-Łukasik" and stored.whole_series
    assert "Dear Zoë O'Brien-Łukasik," in _confirmation_text(forms, "zoe@example.ie")


MALFORMED = [b"[]", b"{}", b'{"event_type": "form_response", "form_response": []}',
             b'{"event_type": "form_response", "form_response": '
             b'{"answers": [1, "x", {"field": "x"}]}}',
             b'{"event_type": "form_response", "form_response": '
             b'{"hidden": [], "submitted_at": 5}}',
             b'{"eventType": "FORM_RESPONSE", "data": {"fields": [null, {"options": [1]}]}}',
             b'{"eventType": "FORM_RESPONSE", "createdAt": [], "data": {"fields": "x"}}',
             b'{"event": "webinar.registration_created", "payload": []}',
             b'{"event": "webinar.registration_created", "payload": {"object": {"registrant": 7}}}',
             b'{"event": "webinar.participant_joined", "payload": {"object": {"id": "81234567890", '
             b'"participant": "x"}}}',
             b'{"event": "endpoint.url_validation", "payload": {"plainToken": {"a": 1}}}',
             b'{"id": 1, "submitted": "x", "answers": []}',
             b'{"config": [], "api_url": 5}',
             b"\xff\xfe not json"]


@pytest.mark.parametrize("raw", MALFORMED)
@pytest.mark.parametrize("provider", ["typeform", "tally", "zoom", "msforms", "eventbrite",
                                      "jotform"])
def test_malformed_but_signed_deliveries_get_a_4xx_never_a_5xx(
        forms: Harness, provider: str, raw: bytes) -> None:
    at = int(forms.clock.now().timestamp())
    headers = {
        "typeform": {"Typeform-Signature": f"sha256={_b64_hmac(raw)}"},
        "tally": {"Tally-Signature": _b64_hmac(raw)},
        "zoom": {"x-zm-request-timestamp": str(at), "x-zm-signature": "v0=" + hmac.new(
            SECRET.encode(), f"v0:{at}:".encode() + raw, hashlib.sha256).hexdigest()},
        "msforms": {"X-Webinar-Token": SECRET},
        "eventbrite": {},
        "jotform": {"Content-Type": "multipart/form-data; boundary=x"},
    }[provider]
    query = f"?token={SECRET}" if provider in ("eventbrite", "jotform") else ""
    answer = forms.runtime.request("POST", f"/webhooks/{provider}/reirradiation-2023{query}",
                                   headers, raw)
    assert 200 <= answer.status < 500, (provider, raw, answer)
    assert harness_registrations(forms) == 0


def harness_registrations(harness: Harness) -> int:
    import boto3

    items = boto3.client("dynamodb", region_name="eu-west-1").scan(
        TableName=harness.runtime.resources.table)["Items"]
    return sum(1 for item in items if item["sk"]["S"].startswith("REG#"))


def test_each_zoom_webinar_keeps_its_own_personal_link(forms: Harness) -> None:
    series = forms.runtime.store.get_series("reirradiation-2023")
    assert series is not None
    forms.runtime.push_series(replace(series, forms={
        **series.forms, "zoom": {"webinars": {"81234567890": "s1", "82222222222": "s2"}}}))
    at = int(forms.clock.now().timestamp())
    for webinar, link in (("81234567890", "https://example.zoom.us/w/1?tk=one"),
                          ("82222222222", "https://example.zoom.us/w/2?tk=two")):
        headers, raw = _zoom({"event": "webinar.registration_created", "event_ts": at * 1000,
                              "payload": {"object": {"uuid": f"u{webinar}", "id": webinar,
                                                     "registrant": {
                                                         "id": f"r{webinar}",
                                                         "first_name": "Søren",
                                                         "last_name": "Nørgaard",
                                                         "email": "soren@example.dk",
                                                         "join_url": link}}}}, at)
        assert forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023", headers,
                                     raw).status == 202
    stored = _registration(forms, "soren@example.dk")
    assert stored.join_url_for("s1") == "https://example.zoom.us/w/1?tk=one"
    assert stored.join_url_for("s2") == "https://example.zoom.us/w/2?tk=two"
    forms.runtime.drain()
    last = [e for e in forms.outbox.entries() if e["to"] == "soren@example.dk"][-1]
    message = email.message_from_bytes((forms.outbox_dir / str(last["file"])).read_bytes(),
                                       policy=email.policy.default)
    invites = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert "tk=one" in invites["reirradiation-2023-s1.ics"].replace("\r\n ", "")
    assert "tk=two" in invites["reirradiation-2023-s2.ics"].replace("\r\n ", "")


def test_a_webinar_of_the_zoom_account_that_is_not_mapped_is_ignored(
        forms: Harness) -> None:
    at = int(forms.clock.now().timestamp())
    headers, raw = _zoom({"event": "webinar.registration_created", "event_ts": at * 1000,
                          "payload": {"object": {"id": "80000000000", "registrant": {
                              "id": "x", "email": "other@example.org"}}}}, at)
    answer = forms.runtime.request("POST", "/webhooks/zoom/reirradiation-2023", headers, raw)
    assert answer.status == 200 and answer.body["status"] == "ignored"
    assert _registration(forms, "other@example.org") is None
