"""The manage link in every confirmation leads to a private, read-only page."""

from __future__ import annotations

from conftest import Harness


def _manage_path(harness: Harness, to: str | None = None) -> str:
    return harness.link(r"http://localhost:8000(/manage/\S+)", to=to)


def test_the_link_shows_the_registration_and_changes_nothing(harness: Harness) -> None:
    harness.register(name="Ada <b>Lovelace</b>", time_zone="America/Toronto",
                     sessions=["s1", "s5"])
    path = _manage_path(harness)
    before = harness.items("REG#")

    page = harness.runtime.request("GET", path, {}, b"")

    assert page.status == 200 and page.content_type.startswith("text/html")
    assert "Reirradiation Challenges &amp; Opportunities" in page.text
    assert "Dose Constraints for Reirradiation" in page.text
    registered = page.text.split("More sessions ahead")[0]
    assert "Challenges in the Clinical Reirradiation Workflow" not in registered
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST)" in page.text
    assert "ada@example.com" not in page.text
    assert harness.items("REG#") == before


def test_a_tampered_or_foreign_token_is_refused(harness: Harness) -> None:
    harness.register()
    path = _manage_path(harness)
    series_id, token = path.split("/")[2:4]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (f"/manage/{series_id}/{tampered}", f"/manage/other-series/{token}",
                f"/manage/{series_id}/not-a-token", f"/manage/{series_id}/r{'0' * 31}.x"):
        answer = harness.runtime.request("GET", bad, {}, b"")
        assert answer.status == 404, bad
        assert "not valid" in answer.text


def _post(harness: Harness, path: str, form: str) -> str:
    answer = harness.runtime.request("POST", path,
                                     {"content-type": "application/x-www-form-urlencoded"},
                                     form.encode())
    harness.runtime.drain()
    assert answer.status == 200, answer.text
    return answer.text


def test_adding_and_dropping_sessions_from_the_page(harness: Harness) -> None:
    harness.register(sessions=["s1"])
    path = _manage_path(harness)
    added = _post(harness, path, "action=add&session=s2")
    assert "Added" in added
    entries = harness.outbox.entries()
    assert [e["sessions"] for e in entries] == [["s1"], ["s1", "s2"]]  # a new confirmation
    dropped = _post(harness, path, "action=drop&session=s1")
    assert "Dropped" in dropped
    data = harness.runtime.request("GET", f"{path}/data", {}, b"")
    assert data.status == 200 and data.body["sessions"] == ["s2"]
    assert data.body["email"] == "ada@example.com"


def test_erasure_leaves_no_copy_of_the_address_in_the_table(harness: Harness) -> None:
    import boto3

    harness.register(email="erase.me@example.org", name="Erase Me", event_id="evt-e",
                     interests=["estro24-pre-meeting"])
    harness.register(email="keep@example.org", name="Keep", event_id="evt-k")
    path = _manage_path(harness, "erase.me@example.org")
    asked = _post(harness, path, "action=erase")
    assert "This cannot be undone" in asked
    assert _registration_count(harness) == 2  # nothing gone before the second press
    erased = _post(harness, path, "action=erase_confirmed")
    assert "Your data is deleted" in erased

    client = boto3.client("dynamodb", region_name="eu-west-1")
    dump = str(client.scan(TableName=harness.runtime.resources.table)["Items"])
    assert "erase.me" not in dump.lower() and "Erase Me" not in dump
    assert "keep@example.org" in dump  # the scan does see addresses that are still there
    assert harness.runtime.request("GET", path, {}, b"").status == 404


def test_links_in_emails_expire_a_year_after_the_last_session(harness: Harness) -> None:
    from datetime import UTC, datetime

    harness.register()
    path = _manage_path(harness)
    harness.clock.set(datetime(2025, 5, 23, 12, 0, tzinfo=UTC))  # s8 + 365 days: still valid
    assert harness.runtime.request("GET", path, {}, b"").status == 200
    harness.clock.set(datetime(2025, 5, 25, 12, 0, tzinfo=UTC))
    expired = harness.runtime.request("GET", path, {}, b"")
    assert expired.status == 404 and "expired" in expired.text


def _registration_count(harness: Harness) -> int:
    import boto3

    items = boto3.client("dynamodb", region_name="eu-west-1").scan(
        TableName=harness.runtime.resources.table)["Items"]
    return sum(1 for item in items if item["sk"]["S"].startswith("REG#"))


def test_a_tampered_token_cannot_erase_or_change_anything(harness: Harness) -> None:
    harness.register()
    path = _manage_path(harness)
    rid_part, day, signature = path.rsplit("/", 1)[1].split(".")
    forged = path.rsplit("/", 1)[0] + f"/{rid_part}.{day}.{'A' * len(signature)}"
    for form in ("action=erase_confirmed", "action=cancel", "action=add&session=s2"):
        answer = harness.runtime.request(
            "POST", forged, {"content-type": "application/x-www-form-urlencoded"},
            form.encode())
        assert answer.status == 404 and "not valid" in answer.text
    assert _registration_count(harness) == 1


def test_adding_a_session_sends_nothing_to_a_suppressed_address(harness: Harness) -> None:
    from webinar_notify.core.text import suppression_id

    harness.register(sessions=["s1"])
    path = _manage_path(harness)
    harness.runtime.store.suppress(suppression_id("local-development-only", "ada@example.com"),
                                   "bounce", harness.clock.now())
    _post(harness, path, "action=add&session=s2")
    assert [e["kind"] for e in harness.outbox.entries()] == ["confirmation"]
