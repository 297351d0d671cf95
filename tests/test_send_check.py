"""Whether a queued email is still wanted when its turn comes (core/send_check.py): the rules
that queued it, applied to the registration as it is when it goes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from conftest import SERIES_FILE
from webinar_notify.core.announcements import parse_announcement
from webinar_notify.core.jobs import ORGANISER_COPY, EmailJob, EmailKind
from webinar_notify.core.kinds import Payload, UpdatePayload
from webinar_notify.core.registration import Registrant, Registration
from webinar_notify.core.send_check import Recipient, withdrawn
from webinar_notify.series_files import load_series_file

SERIES = load_series_file(SERIES_FILE)
NEW_SESSION = UpdatePayload("new_session")
PERSON = Registration(SERIES.id, "r1", Registrant("a@example.org", "A", "Europe/Brussels"),
                      frozenset({"s1"}), whole_series=False)


def job(kind: EmailKind, sessions: tuple[str, ...] = ("s1",), rid: str = "r1",
        payload: Payload | None = None) -> EmailJob:
    return EmailJob(kind, SERIES.id, 1, rid, PERSON.registrant, sessions, f"{kind}-key",
                    payload=payload)


def found(registration: Registration | None, erased: bool = False) -> Recipient:
    return Recipient(suppressed=False, registration=registration, erased=erased)


def judged(kind: EmailKind, registration: Registration | None, *, erased: bool = False,
           sessions: tuple[str, ...] = ("s1",), audience: object = None,
           payload: Payload | None = None) -> bool:
    announcement = parse_announcement({
        "id": "news", "subject": "News", "body_markdown": "Hello.",
        "audience": audience or {"all": True}}, SERIES, datetime(2023, 10, 1, tzinfo=UTC)) \
        if kind == "announcement" else None
    return withdrawn(job(kind, sessions, payload=payload), found(registration, erased), SERIES,
                     announcement)


@pytest.mark.parametrize("kind", ["confirmation", "reminder", "update", "cancellation",
                                  "announcement"])
def test_an_active_registrant_gets_every_kind(kind: EmailKind) -> None:
    assert not judged(kind, PERSON)


@pytest.mark.parametrize("kind", ["confirmation", "reminder", "update", "cancellation",
                                  "announcement"])
def test_an_erased_person_gets_nothing(kind: EmailKind) -> None:
    assert judged(kind, None, erased=True)


def test_a_registration_made_again_after_an_erasure_is_mailed() -> None:
    assert not judged("reminder", PERSON, erased=True)


def test_opt_outs_withdraw_their_kind_only() -> None:
    no_reminders = replace(PERSON, reminders_off=True)
    assert judged("reminder", no_reminders)
    assert not judged("announcement", no_reminders)
    no_news = replace(PERSON, announcements_off=True)
    assert judged("announcement", no_news)
    assert not judged("reminder", no_news)


def test_a_cancellation_withdraws_reminders_updates_and_announcements_not_its_own_email(
        ) -> None:
    cancelled = replace(PERSON, status="cancelled")
    for kind in ("reminder", "update", "announcement"):
        assert judged(kind, cancelled), kind  # type: ignore[arg-type]
    assert not judged("cancellation", cancelled)  # it tells them so
    assert not judged("confirmation", cancelled)


def test_a_dropped_or_cancelled_session_withdraws_its_reminder_and_its_update() -> None:
    assert judged("reminder", PERSON, sessions=("s2",))  # s2 dropped (or never theirs)
    assert judged("update", PERSON, sessions=("s2",))  # would put it back in the calendar
    everything = replace(PERSON, whole_series=True)
    assert not judged("reminder", everything, sessions=("s2",))
    cancelled_s1 = replace(SERIES, sessions=tuple(
        replace(s, status="cancelled") if s.id == "s1" else s
        for s in SERIES.sessions))
    assert withdrawn(job("reminder"), found(PERSON), cancelled_s1, None)


def test_a_new_sessions_offer_goes_to_whole_series_registrants_only() -> None:
    assert judged("update", replace(PERSON, whole_series=True), sessions=("s8",),
                  payload=NEW_SESSION) is False
    assert judged("update", PERSON, sessions=("s8",), payload=NEW_SESSION)
    assert judged("update", replace(PERSON, whole_series=True, status="cancelled"),
                  sessions=("s8",), payload=NEW_SESSION)


def test_an_announcement_follows_its_audience_as_it_is_now() -> None:
    assert not judged("announcement", PERSON, audience={"sessions": ["s1"]})
    assert judged("announcement", PERSON, audience={"sessions": ["s2"]})  # left s2 since


def test_organiser_copies_and_unknown_people_are_not_judged() -> None:
    assert not withdrawn(job("announcement", rid=ORGANISER_COPY), found(None, erased=True),
                         SERIES, None)
    assert not judged("reminder", None)
