"""The organiser API's JSON read routes: the console's view models for other tools, behind
API Gateway's JWT authorizer (its verified claims in the request context)."""

from __future__ import annotations

from typing import Any

from conftest import SERIES_ID, Harness
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
                 f"{BASE}/registrants?limit=many"):
        answer = read(harness, path)
        assert answer.status == 400, path
        assert answer.body["error"]
    assert read(harness, f"{BASE}/registrants/rnobody").status == 404
