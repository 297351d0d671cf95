"""The webhook route, driven through the real API handler on moto."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from conftest import SECRET, WEBHOOK, Harness, registration_body
from webinar_notify.core.signatures import sign
from webinar_notify.local.events import http_api_event
from webinar_notify.local.runtime import LocalContext


def test_registration_is_stored_and_confirmed_once(harness: Harness) -> None:
    answer = harness.register(time_zone="America/Toronto")

    assert answer.status == 202
    assert answer.body["status"] == "registered"
    registrations = harness.items("REG#")
    assert len(registrations) == 1
    assert registrations[0]["time_zone"]["S"] == "America/Toronto"
    assert registrations[0]["whole_series"]["BOOL"] is True
    assert harness.runtime.drain() == 1
    [entry] = harness.outbox.entries()
    assert entry["kind"] == "confirmation"
    assert entry["to"] == "ada@example.com"
    assert entry["sessions"] == [f"s{i}" for i in range(1, 9)]
    assert entry["sent_at"] == "2023-10-02T09:00:00Z"
    assert (harness.outbox_dir / str(entry["file"])).exists()


def test_the_same_webhook_three_times_gives_one_registration_and_one_email(
        harness: Harness) -> None:
    body = registration_body("ada@example.com", "Ada", "evt-7", created=harness.clock.now())
    statuses = [harness.post(body).status for _ in range(3)]

    assert statuses == [202, 200, 200]
    harness.runtime.drain()
    assert len(harness.items("REG#")) == 1
    assert len(harness.outbox.entries()) == 1


def test_concurrent_deliveries_give_one_registration_and_one_email(
        harness: Harness, atomic_moto: None) -> None:
    body = registration_body("Ada@Example.com", "Ada", "evt-9", created=harness.clock.now())
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def deliver() -> None:
        barrier.wait()
        statuses.append(harness.post(body).status)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert 202 in statuses and set(statuses) <= {200, 202}
    harness.runtime.drain()
    assert len(harness.items("REG#")) == 1
    assert len(harness.outbox.entries()) == 1


def test_address_case_does_not_make_a_second_registration(harness: Harness) -> None:
    harness.register(email="ada@example.com", event_id="evt-1", sessions=["s1"])
    harness.register(email="ADA@Example.COM", event_id="evt-2", sessions=["s2"])

    [registration] = harness.items("REG#")
    assert set(registration["sessions"]["SS"]) == {"s1", "s2"}
    harness.runtime.drain()
    assert [e["sessions"] for e in harness.outbox.entries()] == [["s1"], ["s1", "s2"]]


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{not json", 400, "not valid UTF-8 JSON"),
    (b"\xff\xfe", 400, "not valid UTF-8 JSON"),
    (b"[]", 400, "body must be a JSON object"),
    (json.dumps({"id": "e", "type": "registration.created", "created": 1696237200,
                 "data": {"registrant": {"full_name": "No Address"}}}).encode(),
     400, "data.registrant.email is required"),
    (json.dumps({"id": "e", "type": "subscription.created", "created": 1696237200,
                 "data": {}}).encode(), 400, "type must be one of"),
    (json.dumps({"id": "e", "type": "registration.created", "created": 1696237200,
                 "data": {"registrant": {"email": "a@example.com", "full_name": "A"},
                          "sessions": ["s9"]}}).encode(), 400, "unknown session"),
    (json.dumps({"id": "e", "type": "registration.created", "created": 1696237200,
                 "data": {"registrant": {"email": "not-an-address", "full_name": "A"}}}
                ).encode(), 400, "data.registrant.email is not a valid email address"),
])
def test_bad_payloads_get_a_clear_400_and_store_nothing(
        harness: Harness, body: bytes, status: int, message: str) -> None:
    answer = harness.post(body)

    assert answer.status == status
    assert message in answer.body["error"]
    assert harness.items("REG#") == [] and harness.items("EVENT#") == []
    assert harness.queued() == 0


def test_signature_failures_get_401_and_store_nothing(harness: Harness) -> None:
    body = registration_body("ada@example.com", "Ada", "evt-1", created=harness.clock.now())
    now = int(harness.clock.now().timestamp())
    reserialised = json.dumps(json.loads(body), indent=2).encode()
    good_signature = sign(SECRET, now, body)

    answers = [
        harness.post(body, secret="another-secret"),
        harness.post(body, timestamp=now - 301),
        harness.post(body, timestamp=now + 301),
        harness.post(body, headers={"Webinar-Signature": "v1=abc"}),
        harness.post(body, headers={"Webinar-Signature": ""}),
        harness.post(reserialised, headers={"Webinar-Signature": good_signature}),
    ]

    assert [a.status for a in answers] == [401] * 6
    assert all("error" in a.body for a in answers)
    assert harness.items("REG#") == [] and harness.queued() == 0


def test_timestamp_at_the_edge_of_the_window_is_accepted(harness: Harness) -> None:
    body = registration_body("ada@example.com", "Ada", "evt-1", created=harness.clock.now())
    assert harness.post(body, timestamp=int(harness.clock.now().timestamp()) - 300).status == 202


def test_rotated_secrets_are_both_accepted(tmp_path: object) -> None:
    from conftest import SERIES_FILE, START
    from webinar_notify.adapters.clock import VirtualClock
    from webinar_notify.adapters.outbox import OutboxMailer
    from webinar_notify.local.runtime import LocalSettings, local_runtime
    from webinar_notify.series_files import load_series_file

    clock = VirtualClock(START)
    settings = LocalSettings(webhook_secrets={"generic": "old-secret\nnew-secret"})
    with local_runtime(clock, OutboxMailer(tmp_path / "o", clock), settings) as runtime:  # type: ignore[operator]
        runtime.push_series(load_series_file(SERIES_FILE))
        t = int(clock.now().timestamp())
        for i, secret in enumerate(["old-secret", "new-secret"]):
            body = registration_body(f"p{i}@example.com", "P", f"evt-{i}", created=clock.now())
            headers = {"Webinar-Signature": sign(secret, t, body)}
            assert runtime.request("POST", WEBHOOK, headers, body).status == 202
        body = registration_body("p9@example.com", "P", "evt-9", created=clock.now())
        both = f"t={t},v1={'0' * 64},v1={sign('new-secret', t, body).split('v1=')[1]}"
        assert runtime.request("POST", WEBHOOK, {"Webinar-Signature": both}, body).status == 202


def test_unknown_series_provider_and_route_get_404(harness: Harness) -> None:
    body = registration_body("ada@example.com", "Ada", "evt-1", created=harness.clock.now())
    assert harness.post(body, path="/webhooks/generic/no-such-series").status == 404
    assert harness.post(body, path="/webhooks/carrier-pigeon/reirradiation-2023").status == 404
    assert harness.post(body, path="/elsewhere").status == 404
    assert harness.items("REG#") == []


def test_body_over_256_kb_gets_413(harness: Harness) -> None:
    body = registration_body("ada@example.com", "Ada", "evt-1", created=harness.clock.now(),
                             consent={"note": "x" * 300_000})
    answer = harness.post(body)
    assert answer.status == 413
    assert harness.items("REG#") == []


def test_base64_encoded_bodies_are_verified_over_the_raw_bytes(harness: Harness) -> None:
    from webinar_notify.entrypoints import api

    body = registration_body("zoë@example.com".replace("ë", "e"), "Zoë O'Brien-Łukasik",
                             "evt-b64", created=harness.clock.now())
    headers = {"content-type": "application/octet-stream",
               "webinar-signature": sign(SECRET, int(harness.clock.now().timestamp()), body)}
    event = http_api_event("POST", WEBHOOK, headers, body, harness.clock.now())
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True

    answer = api.lambda_handler(event, LocalContext("api"))  # type: ignore[arg-type]

    assert answer["statusCode"] == 202
    [registration] = harness.items("REG#")
    assert registration["full_name"]["S"] == "Zoë O'Brien-Łukasik"


def test_unknown_time_zone_falls_back_to_the_series_zone(harness: Harness) -> None:
    harness.register(time_zone="Mars/Olympus_Mons")
    [registration] = harness.items("REG#")
    assert registration["time_zone"]["S"] == "Europe/Brussels"


def test_cancellation_sends_no_confirmation_and_older_events_cannot_undo_it(
        harness: Harness) -> None:
    harness.register(event_id="evt-1")
    harness.runtime.drain()
    harness.clock.advance(timedelta(minutes=1))
    cancel = registration_body("ada@example.com", "Ada", "evt-2", created=harness.clock.now(),
                               event_type="registration.cancelled")
    assert harness.post(cancel).status == 202
    late_retry = registration_body("ada@example.com", "Ada", "evt-0",
                                   created=harness.clock.now() - timedelta(hours=1))
    ignored = harness.post(late_retry)
    assert (ignored.status, ignored.body["status"]) == (200, "ignored")

    [registration] = harness.items("REG#")
    assert registration["status"]["S"] == "cancelled"
    harness.runtime.drain()
    assert len(harness.outbox.entries()) == 1  # only the first confirmation


def test_sessions_that_are_over_are_refused_or_left_out(harness: Harness) -> None:
    harness.clock.set(datetime(2023, 11, 14, 9, 0, tzinfo=UTC))  # after s1 and s2
    refused = harness.register(event_id="evt-old", sessions=["s1", "s3"])
    assert refused.status == 400 and "'s1' has already taken place" in refused.body["error"]
    assert harness.items("REG#") == []

    whole = harness.register(event_id="evt-all")
    assert whole.status == 202 and whole.body["confirmation_queued"] is True
    harness.runtime.drain()
    assert harness.outbox.entries()[0]["sessions"] == [f"s{i}" for i in range(3, 9)]


def test_registering_after_the_last_session_confirms_nothing(harness: Harness) -> None:
    harness.clock.set(datetime(2024, 6, 1, tzinfo=UTC))
    answer = harness.register(event_id="evt-late")
    assert answer.status == 202 and answer.body["confirmation_queued"] is False
    harness.runtime.drain()
    assert harness.outbox.entries() == []
