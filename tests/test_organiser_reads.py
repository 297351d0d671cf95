"""The organiser API's JSON read routes: the console's view models for other tools, behind
API Gateway's JWT authorizer (its verified claims in the request context)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import SERIES_ID, Harness
from webinar_notify import bootstrap
from webinar_notify.core.text import registrant_id
from webinar_notify.local.runtime import HttpAnswer

BASE = f"/organiser/series/{SERIES_ID}"
VIEWER = {"sub": "4f1c-viewer", "name": "Vera Viewer", "email": "vera@example.net",
          "cognito:groups": f"[{SERIES_ID}.viewer]", "token_use": "id"}


def read(harness: Harness, path: str, claims: dict[str, Any] | None = VIEWER) -> HttpAnswer:
    return harness.runtime.request("GET", path, {}, b"", jwt_claims=claims)


def test_every_read_route_answers_with_its_view_model(harness: Harness) -> None:
    harness.register_many(3)
    harness.register_many(1, prefix="s2only", sessions=["s2"])
    overview = read(harness, BASE)
    assert overview.status == 200
    assert overview.body["totals"]["registered"] == 4
    sessions = {s["id"]: s for s in overview.body["sessions"]}
    assert sessions["s1"]["registered"] == 3 and sessions["s2"]["registered"] == 4
    assert sessions["s1"]["starts_series_zone"] == "Thu 26 Oct 2023 15:00 CEST"
    assert overview.body["next_due"][0]["kind"] == "reminder"
    assert overview.body["attendance_unmatched"] == 0
    harness.runtime.store.count_unmatched_attendance(SERIES_ID)
    assert read(harness, BASE).body["attendance_unmatched"] == 1
    toronto = read(harness, f"{BASE}?tz=America/Toronto")
    assert toronto.body["sessions"][0]["starts_viewer_zone"] == "Thu 26 Oct 2023 09:00 EDT"

    people = read(harness, f"{BASE}/registrants?limit=2")
    assert people.status == 200 and len(people.body["registrants"]) == 2
    rest = read(harness, f"{BASE}/registrants?limit=2&cursor={people.body['next_cursor']}")
    assert len(rest.body["registrants"]) == 2
    ids = {r["id"] for r in people.body["registrants"] + rest.body["registrants"]}
    assert len(ids) == 4

    rid = registrant_id("local-development-only", SERIES_ID, "person0@example.org")
    one = read(harness, f"{BASE}/registrants/{rid}")
    assert one.status == 200 and one.body["registrant"]["email"] == "person0@example.org"
    assert [m["kind"] for m in one.body["mail"]] == ["confirmation"]

    timeline = read(harness, f"{BASE}/timeline")
    sent = {(row["kind"], row["session"]): row["sent"] for row in timeline.body["sent"]}
    assert sum(n for (kind, _), n in sent.items() if kind == "confirmation") == 4
    assert timeline.body["ahead"]

    delivery = read(harness, f"{BASE}/delivery")
    totals = {t["state"]: t["count"] for t in delivery.body["totals"]}
    assert totals["sent"] == 4 and delivery.body["suppressions"] == []
    assert {r["state"]: r["level"] for r in delivery.body["rates"]} == \
        {"bounced": "healthy", "complained": "healthy"}

    audit = read(harness, f"{BASE}/audit")
    assert audit.status == 200 and audit.body["entries"] == []


def test_no_claims_is_401_and_another_series_is_403(harness: Harness) -> None:
    harness.register_many(1)
    for path in ("", "/registrants", "/timeline", "/delivery", "/audit"):
        unsigned = read(harness, BASE + path, None)
        assert unsigned.status == 401, path
        other = read(harness, BASE + path, VIEWER | {"cognito:groups": "[another.editor]"})
        assert other.status == 403, path
        assert "person0" not in other.text


def test_bad_cursors_and_limits_are_400_not_500(harness: Harness) -> None:
    for path in (f"{BASE}/registrants?cursor=abc", f"{BASE}/audit?cursor=%%%",
                 f"{BASE}/delivery?cursor=AAAA", f"{BASE}/registrants?limit=0",
                 f"{BASE}/registrants?limit=many", f"{BASE}/registrants?limit=%C2%B2",
                 f"{BASE}/registrants?limit={'9' * 5000}"):
        answer = read(harness, path)
        assert answer.status == 400, path
        assert answer.body["error"]
    assert read(harness, f"{BASE}/registrants/rnobody").status == 404


def test_a_fan_out_job_reads_as_emails_queued_and_then_sent(harness: Harness) -> None:
    harness.register_many(3)
    sent = harness.runtime.organiser(f"{BASE}/announcements", {
        "id": "hello", "subject": "Hello", "body_markdown": "Hi.", "audience": {"all": True}},
        "hello-1")
    job = f"{BASE}/jobs/{sent.body['job']}"
    waiting = read(harness, job)
    assert waiting.status == 200
    assert waiting.body["summary"] == "Sending the announcement: 0 emails queued (of about 3)."
    harness.runtime.drain()
    done = read(harness, job)
    assert done.status == 200 and done.body["state"] == "done"
    assert done.body["summary"] == "Sent to 3 people."
    assert "link" not in done.body and "bytes" not in done.body


def test_an_export_link_given_out_is_audited_as_a_download(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.register_many(2)
    started = harness.runtime.organiser(f"{BASE}/exports", {}, "export-1")
    job = f"{BASE}/jobs/{started.body['job']}"
    assert "link" not in read(harness, job).body  # not finished: no link
    harness.runtime.drain()
    local = read(harness, job)  # no links in a local run: nothing handed out
    assert local.body["state"] == "done" and local.body["link"] is None
    assert _downloads(harness) == []

    exports = bootstrap.services().exports
    monkeypatch.setattr(exports, "link", lambda key, filename: f"https://s3.test/{filename}")
    linked = read(harness, job)
    assert linked.body["link"] == f"https://s3.test/{SERIES_ID}-registrants.csv"
    assert linked.body["summary"].startswith("Ready: 2 registrants, one row each (")
    (entry,) = _downloads(harness)
    assert entry["who"] == "Vera Viewer" and entry["rows"] == 2 and entry["result"] == "done"
    assert entry["what"].startswith("jobs/")


def test_an_exact_address_is_found_first_even_when_later_by_order(harness: Harness) -> None:
    target = "ann@example.org"
    lookalikes = [f"{c}ann@example.org" for c in "bcdefghijk"]  # each contains the target
    for i, address in enumerate([target, *lookalikes]):
        harness.register(email=address, name=f"A {i}", event_id=f"evt-{i}")
    key = registrant_id("local-development-only", SERIES_ID, target)
    ordered = sorted(registrant_id("local-development-only", SERIES_ID, a)
                     for a in [target, *lookalikes])
    assert ordered.index(key) >= 2  # by order alone, not on a first page of two
    found = read(harness, f"{BASE}/registrants?q={target}&limit=2")
    assert found.status == 200
    assert found.body["registrants"][0]["email"] == target


def _downloads(harness: Harness) -> list[dict[str, Any]]:
    entries = read(harness, f"{BASE}/audit").body["entries"]
    return [e for e in entries if e["action"] == "download_export"]
