"""Registration policies: reading them from a series file, and the decisions they make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from webinar_notify.core.errors import InvalidInputError, SeriesFileError
from webinar_notify.core.policies import (
    ApprovalError,
    Policy,
    SeatCounts,
    Standing,
    approval_after,
    clean_reason,
    decide_many,
    first_approval,
    placements,
    policy_fields,
    promotions,
    read_policy,
)

SESSIONS = [{"id": "s1", "title": "Workflow"}, {"id": "s2", "capacity": 40},
            {"id": "course", "capacity": 0}]


def test_a_series_file_without_policy_accepts_everyone() -> None:
    policy = read_policy({"id": "x", "sessions": SESSIONS[:1]})
    assert policy == Policy()
    assert not policy.counts_seats
    assert policy.capacity_of("s1") is None
    assert not policy.needs_approval("ada@example.org")


def test_capacity_per_series_with_per_session_overrides() -> None:
    policy = read_policy({"capacity": 120, "sessions": SESSIONS})
    assert [policy.capacity_of(s) for s in ("s1", "s2", "course", "new")] == [120, 40, 0, 120]
    assert policy.counts_seats
    only_sessions = read_policy({"sessions": SESSIONS})
    assert [only_sessions.capacity_of(s) for s in ("s1", "s2", "course")] == [None, 40, 0]


@pytest.mark.parametrize(("document", "message"), [
    ({"capacity": -1}, "capacity: from 0 to 1,000,000 seats (got -1)"),
    ({"capacity": 12.5}, "capacity: expected a whole number of seats (got '12.5')"),
    ({"capacity": 40.0}, "capacity: expected a whole number of seats (got '40.0')"),
    ({"capacity": "40"}, "capacity: expected a whole number of seats (got '40')"),
    ({"capacity": True}, "capacity: expected a whole number of seats (got 'True')"),
    ({"sessions": [{"id": "s1"}, {"id": "s2", "capacity": -3}]},
     "sessions[1].capacity: from 0 to 1,000,000 seats (got -3)"),
    ({"approval": "moderated"}, "approval: 'moderated' is not one of automatic, manual"),
    ({"approval": True}, "approval: 'True' is not one of automatic, manual"),
    ({"approval": "manual", "auto_approve": {"domains": ["estro.org", "estro"]}},
     "auto_approve.domains[1]: 'estro' is not a domain such as estro.org"),
    ({"approval": "manual", "auto_approve": {"domains": ["@estro.org"]}},
     "auto_approve.domains[0]: '@estro.org' is not a domain such as estro.org"),
    ({"approval": "manual", "auto_approve": {"domains": ["*.estro.org"]}},
     "auto_approve.domains[0]: '*.estro.org' is not a domain such as estro.org"),
    ({"approval": "manual", "auto_approve": {"domains": ["https://estro.org"]}},
     "auto_approve.domains[0]: 'https://estro.org' is not a domain such as estro.org"),
    ({"approval": "manual", "auto_approve": {"domains": [7]}},
     "auto_approve.domains[0]: '7' is not a domain such as estro.org"),
    ({"approval": "manual", "auto_approve": {"domains": "estro.org"}},
     "auto_approve.domains: expected a list of domains"),
    ({"approval": "manual", "auto_approve": {"emails": ["a@b.org"]}},
     "auto_approve.emails: unknown field"),
    ({"auto_approve": {"domains": ["estro.org"]}}, "auto_approve: only with approval: manual"),
])
def test_a_bad_policy_is_refused_with_the_field_named(document: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(SeriesFileError) as refused:
        read_policy(document)
    assert str(refused.value) == message
    assert refused.value.status == 400


def test_manual_approval_with_domains_that_approve_themselves() -> None:
    policy = read_policy({"approval": "manual",
                          "auto_approve": {"domains": [" ESTRO.org ", "uni-köln.de"]}})
    assert policy.auto_approve_domains == {"estro.org", "xn--uni-kln-e1a.de"}
    assert not policy.needs_approval("ada@estro.org")
    assert not policy.needs_approval("ada@Mail.ESTRO.org")  # a subdomain is the same owner's
    assert not policy.needs_approval("ada@uni-köln.de")
    assert policy.needs_approval("ada@notestro.org")
    assert policy.needs_approval("ada@estro.org.evil.example")
    assert policy.needs_approval("ada@example.org")
    assert first_approval(policy, "ada@example.org") == "pending"
    assert first_approval(policy, "ada@estro.org") == "approved"
    assert first_approval(Policy(), "ada@example.org") == "approved"


def test_the_policy_fields_read_back_as_the_same_policy() -> None:
    policy = read_policy({"capacity": 3, "approval": "manual",
                          "auto_approve": {"domains": ["estro.org"]}, "sessions": SESSIONS})
    document = {**policy_fields(policy),
                "sessions": [{"id": s, "capacity": c} for s, c in
                             policy.session_capacity.items()]}
    assert read_policy(document) == policy
    assert policy_fields(Policy()) == {}


def test_a_newcomer_is_seated_only_where_a_seat_is_free_and_nobody_waits() -> None:
    policy = Policy(capacity=3, session_capacity={"open": 100})
    counts = {"s1": SeatCounts(confirmed=2), "s2": SeatCounts(confirmed=3, waitlisted=1),
              "s3": SeatCounts(confirmed=1, waitlisted=2), "open": SeatCounts(confirmed=99)}
    assert placements(policy, "ada@example.org", ["s1", "s2", "s3", "open", "s4"], counts) == {
        "s1": Standing("confirmed"),
        "s2": Standing("waitlisted", place=2),
        "s3": Standing("waitlisted", place=3),  # seats free, but the line goes first
        "open": Standing("confirmed"),
        "s4": Standing("confirmed"),  # nothing counted yet: empty
    }
    assert placements(Policy(), "ada@example.org", ["s1"],
                      {"s1": SeatCounts(confirmed=10**6)}) == {"s1": Standing("confirmed")}
    assert placements(Policy(capacity=0), "ada@example.org", ["s1"], {}) == \
        {"s1": Standing("waitlisted", place=1)}


def test_a_registrant_awaiting_approval_holds_no_seat_until_approved() -> None:
    policy = Policy(capacity=1, approval="manual", auto_approve_domains=frozenset({"estro.org"}))
    counts = {"s1": SeatCounts(confirmed=0, pending=4)}
    assert placements(policy, "ada@example.org", ["s1"], counts) == {"s1": Standing("pending")}
    assert placements(policy, "ada@estro.org", ["s1"], counts) == {"s1": Standing("confirmed")}
    # Approved when the session is full: waitlisted, not over capacity.
    full = {"s1": SeatCounts(confirmed=1, pending=3)}
    assert placements(policy, "ada@example.org", ["s1"], full, approved=True) == \
        {"s1": Standing("waitlisted", place=1)}


def test_promotions_take_the_first_in_line_as_many_as_fit() -> None:
    line = ["r1", "r2", "r3"]
    assert promotions(3, 2, line) == ["r1"]  # one cancellation
    assert promotions(5, 3, line) == ["r1", "r2"]  # capacity raised from 3 to 5
    assert promotions(3, 3, line) == []
    assert promotions(2, 3, line) == []  # lowered below the seats taken: nobody moves
    assert promotions(None, 3, line) == line  # capacity removed: everyone
    assert promotions(10, 0, []) == []


def test_only_a_pending_registrant_can_be_approved_or_declined() -> None:
    assert approval_after("pending", "approve") == "approved"
    assert approval_after("pending", "decline") == "declined"
    for state in ("approved", "declined"):
        for decision in ("approve", "decline"):
            with pytest.raises(ApprovalError) as refused:
                approval_after(state, decision)
            assert refused.value.status == 409
            assert str(refused.value) == \
                f"only a pending registrant can be {decision}d (this one is {state})"


def test_a_bulk_decision_changes_the_pending_and_lists_the_rest() -> None:
    decided = decide_many({"r1": "pending", "r2": "approved", "r3": "pending",
                           "r4": "declined"}, "decline")
    assert decided.changed == {"r1": "declined", "r3": "declined"}
    assert decided.refused == {
        "r2": "only a pending registrant can be declined (this one is approved)",
        "r4": "only a pending registrant can be declined (this one is declined)"}


def test_a_reason_is_kept_as_text_without_control_characters() -> None:
    assert clean_reason(None) == ""
    assert clean_reason("  The room\x00 is   full.\r\nSee you  next year \u202e ") == \
        "The room is full.\nSee you next year"
    with pytest.raises(InvalidInputError, match="reason: at most 1000 characters"):
        clean_reason("x" * 1001)
    with pytest.raises(InvalidInputError, match="reason: expected text"):
        clean_reason(["full"])


def test_the_example_in_the_docs_reads_as_documented() -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "registration_policies.md"
    block = page.read_text(encoding="utf-8").split("```yaml\n")[1].split("```")[0]
    policy = read_policy(yaml.safe_load(block))
    assert (policy.capacity, policy.capacity_of("glasgow-course")) == (120, 40)
    assert policy.approval == "manual" and policy.auto_approve_domains == {"estro.org"}


def test_a_policy_is_hashable_and_its_capacities_cannot_change_under_it() -> None:
    capacities = {"s1": 40}
    policy = Policy(capacity=120, session_capacity=capacities)
    capacities["s1"] = 1  # the caller's dict changes later ...
    assert policy.capacity_of("s1") == 40  # ... the policy does not
    assert hash(policy) == hash(Policy(capacity=120, session_capacity={"s1": 40}))
    assert policy == Policy(capacity=120, session_capacity={"s1": 40})
    assert policy != Policy(capacity=120, session_capacity={"s1": 41})
    with pytest.raises(TypeError):
        policy.session_capacity["s1"] = 2  # type: ignore[index]
