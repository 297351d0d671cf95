"""Organisers and registration policies: approving and declining from the console, the API
(a large list as a job) and the CLI; seats, waitlists and pending counts in the console and
the read API; the manage page's standing per session and leaving the waitlist."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest

from conftest import SERIES_ID, Harness
from test_console_pages import BASE, sign_in
from test_organiser_reads import read
from test_registration_policies_e2e import calendars, counts, mail, publish
from webinar_notify import organiser_cli
from webinar_notify.adapters.memory_store import MemoryStore
from webinar_notify.core.policies import Policy, SeatCounts
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.series_document import series_to_document
from webinar_notify.organiser_requests import to_request

API = f"/organiser/series/{SERIES_ID}"


def pending_people(harness: Harness, count: int, prefix: str = "p") -> list[str]:
    publish(harness, Policy(approval="manual", session_capacity={"s1": 2}))
    people = [f"{prefix}{i}@example.org" for i in range(count)]
    for i, address in enumerate(people):
        assert harness.register(email=address, name=f"P {i}", event_id=f"evt-{prefix}{i}",
                                sessions=["s1"]).status == 202
    return people


def arriving_out_of_id_order(harness: Harness, prefix: str, count: int) -> tuple[list[str],
                                                                               list[str]]:
    """``count`` people pending approval, a second apart, whose registrant ids do not sort in
    their order of arrival: their addresses and their ids, in that order."""
    publish(harness, Policy(approval="manual"))
    people = [f"{prefix}{9 - i}@example.org" for i in range(count)]
    for i, address in enumerate(people):
        harness.clock.advance(timedelta(seconds=1))
        assert harness.register(email=address, name=f"{prefix} {i}",
                                event_id=f"evt-{prefix}{i}", sessions=["s1"]).status == 202
    ids = [harness.registration(a).registrant_id for a in people]
    assert ids != sorted(ids)  # arrival order is not registrant id order here
    return people, ids


def test_the_console_approves_and_declines_the_ticked_with_a_reason(harness: Harness) -> None:
    people = pending_people(harness, 3)
    editor = sign_in(harness)
    page = editor.get(f"{BASE}/approvals")
    assert page.status == 200 and page.text.count('type="checkbox"') == 3
    assert all(a in page.text for a in people)
    assert re.search(r'id="seats-s1">.*?>2<.*?>0<.*?>0<.*?>3<', page.text, re.S)

    ticked = {f"pick-{harness.registration(a).registrant_id}": "1" for a in people[:2]}
    done = editor.post(f"{BASE}/approvals", editor.form(page.text, action="approve", **ticked))
    assert done.status == 200 and "Approved: 2." in unescape(done.text)
    assert sorted(str(e["to"]) for e in mail(harness, "confirmation")) == people[:2]
    assert all(calendars(harness, e) == ["s1"] for e in mail(harness, "confirmation"))

    last = {f"pick-{harness.registration(people[2]).registrant_id}": "1"}
    declined = editor.post(f"{BASE}/approvals", editor.form(
        done.text, action="decline", reason="Members only, sorry.", **last))
    assert "Declined: 1." in unescape(declined.text)
    [email] = mail(harness, "declined")
    assert email["to"] == people[2]
    assert counts(harness) == SeatCounts(confirmed=2)
    assert "Nobody is awaiting approval." in declined.text

    page = editor.get(f"{BASE}/").text
    assert 'id="approvals-link"' in page
    assert re.search(r'data-label="Seats" class="num">2 / 2<', page)

    overview = read(harness, API)
    assert overview.body["seats"]["s1"] == {"capacity": 2, "confirmed": 2, "waitlisted": 0,
                                           "pending": 0}
    assert overview.body["totals"]["declined"] == 1


def test_a_viewer_sees_the_page_but_cannot_decide(harness: Harness) -> None:
    people = pending_people(harness, 1)
    viewer = sign_in(harness, email="vic@example.net", role="viewer")
    page = viewer.get(f"{BASE}/approvals")
    assert page.status == 200 and "Approve the ticked" not in page.text
    ticked = {f"pick-{harness.registration(people[0]).registrant_id}": "1"}
    refused = viewer.post(f"{BASE}/approvals", viewer.form(page.text, action="approve",
                                                           **ticked))
    assert refused.status == 403
    assert mail(harness, "confirmation") == []


def test_a_long_list_is_decided_by_a_job_and_the_line_is_read_in_order(
        harness: Harness) -> None:
    people = pending_people(harness, 30)
    answer = harness.runtime.organiser(f"{API}/approvals", {
        "decision": "approve", "emails": people}, "bulk-1")
    assert answer.status == 202 and answer.body["kind"] == "decisions"
    harness.runtime.drain()
    job = read(harness, f"{API}/jobs/{answer.body['job']}")
    assert job.body["state"] == "done" and job.body["changed"] == 30

    assert counts(harness) == SeatCounts(confirmed=2, waitlisted=28)
    assert len(mail(harness, "confirmation")) == 2 and len(mail(harness, "waitlisted")) == 28
    view = read(harness, f"{API}/approvals?session=s1")
    line = view.body["line"]
    assert [w["place"] for w in line] == list(range(1, 26))
    assert view.body["next_line_cursor"]
    # one virtual instant for all: the line is in registrant id order (the tiebreak)
    waiting = [a for a in people if a not in {str(e["to"]) for e in
                                              mail(harness, "confirmation")}]
    assert [w["email"] for w in line] == sorted(
        waiting, key=lambda a: harness.registration(a).registrant_id)[:25]
    rest = read(harness, f"{API}/approvals?session=s1&line={view.body['next_line_cursor']}")
    assert [w["place"] for w in rest.body["line"]] == [26, 27, 28]


@pytest.mark.parametrize(("body", "message"), [
    ({"decision": "maybe", "registrants": ["r" + "0" * 31]}, "decision: expected approve"),
    ({"decision": "approve"}, "name at least one registrant"),
    ({"decision": "approve", "registrants": ["ada@example.org"]}, "is not a registrant id"),
    ({"decision": "decline", "registrants": ["r" + "0" * 31], "reason": "x" * 1001},
     "reason: at most 1000 characters"),
])
def test_bad_decisions_are_one_line_4xx_and_change_nothing(
        harness: Harness, body: dict[str, Any], message: str) -> None:
    pending_people(harness, 1)
    answer = harness.runtime.organiser(f"{API}/approvals", body, f"bad-{message[:8]}")
    assert answer.status == 400 and message in answer.body["error"]
    assert counts(harness) == SeatCounts(pending=1)


def test_the_cli_sends_approve_and_decline_with_addresses_and_a_reason(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(organiser_cli, "_request", lambda _args, action: sent.append(action)
                        or {"changed": []})
    listed = tmp_path / "people.txt"
    listed.write_text("ada@example.org\n\nbob@example.org\n")
    parser = organiser_cli_parser()
    for argv in (["approve", SERIES_ID, "--api", "https://x.example", "--email",
                  "eve@example.org", "--emails-file", str(listed)],
                 ["decline", SERIES_ID, "--api", "https://x.example", "--registrant",
                  "r" + "1" * 31, "--reason", "Members only"]):
        args = parser.parse_args(argv)
        assert args.run(args) == 0
    paths = [to_request(action, SERIES_ID, tmp_path) for action in sent]
    assert paths == [
        (API + "/approvals", {"decision": "approve", "registrants": [],
                              "emails": ["eve@example.org", "ada@example.org",
                                         "bob@example.org"]}),
        (API + "/approvals", {"decision": "decline", "registrants": ["r" + "1" * 31],
                              "emails": [], "reason": "Members only"})]


def organiser_cli_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    organiser_cli.add_commands(parser.add_subparsers())
    return parser


def test_the_manage_page_shows_the_place_and_leaving_the_line_or_a_seat_moves_it_on(
        harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s1": 1}))
    a, b, c = (f"{n}@example.org" for n in ("ann", "ben", "cat"))
    for i, address in enumerate((a, b, c)):
        harness.clock.advance(timedelta(seconds=1))
        assert harness.register(email=address, name=address[:3], event_id=f"evt-{i}",
                                sessions=["s1"]).status == 202
    pages = {x: harness.manage_path(to=x) for x in (a, b, c)}
    form = {"content-type": "application/x-www-form-urlencoded"}

    page = harness.runtime.request("GET", pages[c], {}, b"").text
    assert "you are on its waitlist, place 2." in page and "Leave the waitlist" in page
    assert "Your seat is confirmed." in harness.runtime.request("GET", pages[a], {}, b"").text

    left = harness.runtime.request("POST", pages[b], form, b"action=drop&session=s1")
    assert left.status == 200 and "You left the waitlist." in left.text
    assert "place 1." in harness.runtime.request("GET", pages[c], {}, b"").text
    assert [e for e in mail(harness, "cancellation") if e["to"] == b] == []  # nothing to undo

    dropped = harness.runtime.request("POST", pages[a], form, b"action=drop&session=s1")
    assert dropped.status == 200
    [promoted] = [e for e in mail(harness, "confirmation") if e["to"] == c]
    assert calendars(harness, promoted) == ["s1"]
    assert [e["to"] for e in mail(harness, "cancellation")] == [a]
    assert counts(harness) == SeatCounts(confirmed=1)
    assert "Your seat is confirmed." in harness.runtime.request("GET", pages[c], {}, b"").text


def test_publishing_more_seats_promotes_as_many_as_now_fit(harness: Harness) -> None:
    publish(harness, Policy(session_capacity={"s1": 1}))
    people = [f"w{i}@example.org" for i in range(4)]
    for i, address in enumerate(people):
        harness.register(email=address, name="W", event_id=f"evt-w{i}", sessions=["s1"])
    assert counts(harness) == SeatCounts(confirmed=1, waitlisted=3)
    stored = harness.runtime.store.get_series(SERIES_ID)
    assert stored is not None
    document = series_to_document(replace(stored, policy=Policy(session_capacity={"s1": 3})))
    answer = harness.runtime.organiser(f"{API}/push", {"series": document, "quiet": True},
                                       "raise-1")
    assert answer.status == 200, answer.body
    promoted = mail(harness, "confirmation")
    assert len(promoted) == 3 and all(calendars(harness, e) == ["s1"] for e in promoted)
    assert counts(harness) == SeatCounts(confirmed=3, waitlisted=1)


def test_the_pending_list_is_in_order_of_arrival_in_the_console_and_the_read_api(
        harness: Harness) -> None:
    people, ids = arriving_out_of_id_order(harness, "late", 6)

    assert [p["id"] for p in read(harness, f"{API}/approvals").body["pending"]] == ids
    page = sign_in(harness).get(f"{BASE}/approvals").text
    assert list(dict.fromkeys(re.findall(r"late\d@example\.org", page))) == people

    def paged() -> list[str]:  # the index, two at a time: the cursor keeps the order
        found, cursor = [], None
        while True:
            batch, cursor = harness.runtime.store.pending_page(SERIES_ID, cursor, 2)
            found += [r.registrant_id for r in batch]
            if cursor is None:
                return found
    assert paged() == ids

    decide = {"decision": "approve", "registrants": [ids[1]]}
    assert harness.runtime.organiser(f"{API}/approvals", decide, "k-order").status == 200
    harness.erase(people[2])
    assert paged() == [ids[0], *ids[3:]]


def test_the_memory_store_lists_the_pending_in_order_of_arrival_too() -> None:
    store = MemoryStore()
    start = datetime(2023, 10, 2, 9, 0, tzinfo=UTC)
    ids = [f"r{c * 31}" for c in "f0a"]  # arrival order, not id order
    for i, rid in enumerate(ids):
        registration = Registration(SERIES_ID, rid, Registrant(f"{i}@example.org", "", "UTC"),
                                    frozenset({"s1"}), False, approval="pending")
        store.put_registration(registration, start + timedelta(microseconds=i))
    first, cursor = store.pending_page(SERIES_ID, None, 2)
    rest, end = store.pending_page(SERIES_ID, cursor, 2)
    assert [r.registrant_id for r in first + rest] == ids and end is None
    stored = store.get_registration(SERIES_ID, ids[0])
    assert stored is not None
    store.put_registration(replace(stored, approval="approved"), start)
    assert [r.registrant_id for r in store.pending_page(SERIES_ID, None, 5)[0]] == ids[1:]


# ---- a stack updated over registrants pending before the list had an order -----------------

def as_before_the_ordered_index(harness: Harness) -> None:
    """Rewrite the pending index as the previous version wrote it: a bare ``PENDING#<id>`` per
    pending registrant, no ``arrived``, no ``PENDINGAT#`` twin and no mark."""
    import boto3

    client = boto3.client("dynamodb", region_name="eu-west-1")
    table = harness.runtime.resources.table
    for item in harness.items("PENDING"):
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
        if item["sk"]["S"].startswith("PENDING#"):
            client.put_item(TableName=table, Item={"pk": item["pk"], "sk": item["sk"]})


def index_of(harness: Harness, rid: str) -> list[str]:
    """The pending index's items naming this registrant."""
    return [i["sk"]["S"] for i in harness.items("PENDING") if i["sk"]["S"].endswith(rid)]


def listed(harness: Harness) -> list[str]:
    return [p["id"] for p in read(harness, f"{API}/approvals").body["pending"]]


def test_registrants_pending_before_the_update_are_listed_in_order_and_decided(
        harness: Harness) -> None:
    people, ids = arriving_out_of_id_order(harness, "old", 4)
    as_before_the_ordered_index(harness)
    assert index_of(harness, ids[0]) == [f"PENDING#{ids[0]}"]

    # decided before anyone read the list: its bare entry goes, nothing is left behind
    decide = {"decision": "approve", "registrants": [ids[3]]}
    assert harness.runtime.organiser(f"{API}/approvals", decide, "k-bare").status == 200
    assert index_of(harness, ids[3]) == []

    harness.clock.advance(timedelta(seconds=1))  # one who registers after the update
    assert harness.register(email="new@example.org", name="N", event_id="evt-new",
                            sessions=["s1"]).status == 202
    newcomer = harness.registration("new@example.org").registrant_id

    assert listed(harness) == [*ids[:3], newcomer]  # in order of registration
    page = sign_in(harness).get(f"{BASE}/approvals").text
    assert list(dict.fromkeys(re.findall(r"(?:old\d|new)@example\.org", page))) == \
        [*people[:3], "new@example.org"]
    assert read(harness, API).body["seats"]["s1"]["pending"] == 4
    assert len(index_of(harness, ids[0])) == 2  # mended: an arrival and its ordered twin

    assert harness.runtime.organiser(f"{API}/approvals", {
        "decision": "approve", "registrants": [ids[1]]}, "k-mended").status == 200
    assert [e["to"] for e in mail(harness, "confirmation")] == [people[3], people[1]]
    harness.erase(people[2])
    assert index_of(harness, ids[1]) == [] and index_of(harness, ids[2]) == []
    assert listed(harness) == [ids[0], newcomer]
    assert read(harness, API).body["seats"]["s1"]["pending"] == 2


def test_a_decision_that_read_the_bare_entry_before_it_was_mended_leaves_nothing_behind(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    people = pending_people(harness, 2)
    ids = [harness.registration(a).registrant_id for a in people]
    as_before_the_ordered_index(harness)
    store = harness.runtime.store
    get_item = store.client.get_item
    mended: list[bool] = []

    def read_then_mend(**request: Any) -> Any:
        """The list is read (and mended) just after the decision looked at the entry."""
        found = get_item(**request)
        if request["Key"]["sk"]["S"] == f"PENDING#{ids[0]}" and not mended:
            mended.append(True)
            assert [r.registrant_id for r in store.pending_page(SERIES_ID, None, 25)[0]] == ids
        return found
    monkeypatch.setattr(store.client, "get_item", read_then_mend)

    decide = {"decision": "decline", "registrants": [ids[0]]}
    assert harness.runtime.organiser(f"{API}/approvals", decide, "k-race").status == 200
    assert mended and index_of(harness, ids[0]) == []
    assert [r.registrant_id for r in store.pending_page(SERIES_ID, None, 25)[0]] == ids[1:]


def test_once_mended_and_settled_the_first_page_costs_what_it_did(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from webinar_notify.adapters.store import PENDING_MEND_WINDOW, DynamoStore
    from webinar_notify.local import aws_calls

    pending_people(harness, 3)
    as_before_the_ordered_index(harness)
    store = harness.runtime.store
    assert isinstance(store, DynamoStore)
    calls: list[str] = []
    stop = aws_calls.watch(lambda service, operation, _: calls.append(operation)
                           if service == "dynamodb" else None)
    try:
        def first_page(at: float) -> list[str]:
            monkeypatch.setattr(store, "wall_clock", lambda: at)
            calls.clear()
            assert len(store.pending_page(SERIES_ID, None, 2)[0]) == 2
            return list(calls)
        mending = first_page(1_000_000)
        settling = first_page(1_000_000 + PENDING_MEND_WINDOW - 1)
        settled = first_page(1_000_000 + PENDING_MEND_WINDOW)
        rest, end = store.pending_page(SERIES_ID, store.pending_page(SERIES_ID, None, 2)[1], 2)
    finally:
        stop()
    assert mending.count("TransactWriteItems") == 3 and "PutItem" in mending
    assert settling == ["Query", "Query", "BatchGetItem"]  # one Query finds nothing to mend
    assert settled == ["Query", "BatchGetItem"]  # as before the index had an order
    assert len(rest) == 1 and end is None


def test_the_memory_store_lists_those_pending_from_before_as_the_table_does(
        harness: Harness) -> None:
    people, ids = arriving_out_of_id_order(harness, "m", 4)
    memory = MemoryStore()
    for address in people[::-1]:  # what the table holds, without the order of arrival
        stored = harness.registration(address)
        memory.put_registration(replace(stored, version=0), datetime(2030, 1, 1, tzinfo=UTC))
    memory.pending_arrived.clear()
    as_before_the_ordered_index(harness)
    cursors: list[str | None] = [None]
    for store in (harness.runtime.store, memory):
        first, cursor = store.pending_page(SERIES_ID, None, 3)
        rest, end = store.pending_page(SERIES_ID, cursor, 3)
        assert [r.registrant_id for r in first + rest] == ids and end is None
        cursors.append(cursor)
    assert cursors[1] == cursors[2]
