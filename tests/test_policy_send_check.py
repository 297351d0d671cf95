"""The sender's last check under a registration policy (core/send_check.py): reminders,
changes and session announcements only to those holding a seat, nothing but the decline to
anyone not approved, and a waitlist email only while they still wait."""

from __future__ import annotations

from dataclasses import replace

import pytest

from test_send_check import PERSON, SERIES, job
from webinar_notify.core.jobs import EmailKind
from webinar_notify.core.kinds import DeclinedPayload, PendingPayload, WaitlistedPayload
from webinar_notify.core.send_check import Recipient, seat_sessions, seated_ahead, withdrawn


def check(kind: EmailKind, standing: str | None, approval: str = "approved") -> bool:
    payload = {"waitlisted": WaitlistedPayload((("s1", 1),)), "pending": PendingPayload(),
               "declined": DeclinedPayload("")}.get(kind)
    person = replace(PERSON, approval=approval)  # type: ignore[arg-type]
    return withdrawn(job(kind, payload=payload),
                     Recipient(False, person, False, {"s1": standing} if standing else {}),
                     SERIES, None)


@pytest.mark.parametrize("kind", ["reminder", "update", "cancellation"])
def test_a_session_email_goes_to_the_seated_only(kind: EmailKind) -> None:
    assert not check(kind, "confirmed")
    assert not check(kind, None)  # registered before the series had a policy: a seat
    assert check(kind, "waitlisted") and check(kind, "pending")


def test_nothing_but_the_decline_reaches_anyone_not_approved() -> None:
    for kind in ("confirmation", "reminder", "announcement", "waitlisted"):
        assert check(kind, None, approval="pending"), kind  # type: ignore[arg-type]
        assert check(kind, None, approval="declined"), kind  # type: ignore[arg-type]
    assert not check("declined", None, approval="declined")
    assert not check("pending", "pending", approval="pending")
    assert check("pending", "confirmed")  # approved before it went: no "awaiting" any more


def test_a_waitlist_email_is_dropped_once_the_person_has_the_seat() -> None:
    assert not check("waitlisted", "waitlisted")
    assert check("waitlisted", "confirmed") and check("waitlisted", None)


def test_the_sender_reads_the_seat_only_where_it_matters() -> None:
    assert seat_sessions(job("reminder", ("s1",))) == ("s1",)
    assert seat_sessions(job("confirmation", ("s1", "s2"))) == ()


def test_a_reminders_sessions_ahead_are_only_those_with_a_seat() -> None:
    from webinar_notify.core.policies import Policy

    reminder = replace(job("reminder", ("s1",)), also=("s2", "s3", "s4"))
    policed = replace(SERIES, policy=Policy(capacity=3))
    assert seat_sessions(reminder, policed) == ("s1", "s2", "s3", "s4")
    assert seat_sessions(reminder, SERIES) == ("s1",)  # no policy: no more keys read
    standings = {"s1": "confirmed", "s2": "waitlisted", "s3": "pending"}
    kept = seated_ahead(reminder, Recipient(False, PERSON, False, standings))
    assert kept.also == ("s4",)  # s4: no standing, a seat from before the policy
    assert kept.key == reminder.key  # the same email for the ledger
    everything = Recipient(False, PERSON, False, {})
    assert seated_ahead(reminder, everything) is reminder
