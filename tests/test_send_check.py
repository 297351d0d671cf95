"""Whether a queued email is still wanted when its turn comes (core/send_check.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from webinar_notify.core.jobs import ORGANISER_COPY, EmailJob, EmailKind
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.send_check import Recipient, withdrawn

PERSON = Registration("series", "r1", Registrant("a@example.org", "A", "Europe/Brussels"),
                      frozenset({"s1"}), whole_series=False)


def job(kind: EmailKind, sessions: tuple[str, ...] = ("s1",), rid: str = "r1") -> EmailJob:
    return EmailJob(kind, "series", 1, rid, PERSON.registrant, sessions, f"{kind}-key")


def found(registration: Registration | None, erased: bool = False) -> Recipient:
    return Recipient(suppressed=False, registration=registration, erased=erased)


@pytest.mark.parametrize("kind", ["confirmation", "reminder", "update", "cancellation",
                                  "announcement"])
def test_an_active_registrant_gets_every_kind(kind: EmailKind) -> None:
    assert not withdrawn(job(kind), found(PERSON))


@pytest.mark.parametrize("kind", ["confirmation", "reminder", "update", "announcement"])
def test_an_erased_person_gets_nothing(kind: EmailKind) -> None:
    assert withdrawn(job(kind), found(None, erased=True))


def test_a_registration_made_again_after_an_erasure_is_mailed() -> None:
    assert not withdrawn(job("reminder"), found(PERSON, erased=True))


def test_opt_outs_cancellations_and_dropped_sessions_withdraw_their_kind_only() -> None:
    no_reminders = replace(PERSON, reminders_off=True)
    assert withdrawn(job("reminder"), found(no_reminders))
    assert not withdrawn(job("announcement"), found(no_reminders))
    no_news = replace(PERSON, announcements_off=True)
    assert withdrawn(job("announcement"), found(no_news))
    assert not withdrawn(job("reminder"), found(no_news))
    cancelled = replace(PERSON, status="cancelled")
    assert withdrawn(job("reminder"), found(cancelled))
    assert not withdrawn(job("cancellation"), found(cancelled))  # it tells them so
    assert withdrawn(job("reminder", ("s2",)), found(PERSON))  # s2 dropped (or never theirs)
    assert not withdrawn(job("reminder", ("s2",)), found(replace(PERSON, whole_series=True)))


def test_organiser_copies_and_unknown_people_are_not_judged() -> None:
    assert not withdrawn(job("announcement", rid=ORGANISER_COPY), found(None, erased=True))
    assert not withdrawn(job("reminder"), found(None))
