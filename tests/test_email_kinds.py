"""One typed payload per kind of email (core/kinds/): every kind has its payload and its
composer, a queued job reads back as it was written (version 2), a version 1 message still on a
queue reads as its typed twin, and a malformed payload is a PayloadError. The follow-up, whose
words are ours, reaches each registrant in their language."""

from __future__ import annotations

import email
import email.policy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

import test_email_defects as kinds  # one email of every kind, composed as the sender does
from conftest import SERIES_ID, Harness
from webinar_notify.core.announcements import parse_announcement, translations_from_doc
from webinar_notify.core.compose import compose
from webinar_notify.core.errors import PayloadError
from webinar_notify.core.follow_ups import follow_up_announcements
from webinar_notify.core.jobs import KINDS, EmailJob, delivery_key
from webinar_notify.core.kinds import (
    REGISTRY,
    AnnouncementPayload,
    CancellationPayload,
    ConfirmationPayload,
    Payload,
    ReminderPayload,
    UpdatePayload,
)

S1_START = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
NEWS = parse_announcement({"id": "news", "subject": "News", "body_markdown": "Hello **all**.",
                           "audience": {"sessions": ["s1"]}}, kinds.series(), kinds.NOW)
TEST_COPY = replace(NEWS, translations=(("fr", "Nouvelles", "Bonjour **à tous**."),))


def _job(kind: str, payload: Payload | None = None, **fields: Any) -> EmailJob:
    base = kinds.job(kind, ("s1",), join_url="https://zoom.example/j/1")  # type: ignore[arg-type]
    return replace(base, payload=payload or REGISTRY[kind].payload(), **fields)


TYPED = {
    "confirmation": _job("confirmation", ConfirmationPayload.of(
        opted_in=False, join_urls={"s1": "https://zoom.example/j/1", "*": "https://z.example/"})),
    "reminder": _job("reminder", ReminderPayload(), not_after=S1_START + timedelta(hours=1)),
    "update": _job("update", UpdatePayload("update", S1_START, S1_START + timedelta(hours=1)),
                   deferrals=3),
    "new-session": _job("update", UpdatePayload("new_session")),
    "cancellation": _job("cancellation", CancellationPayload()),
    "dropped": _job("cancellation", CancellationPayload(dropped_by_self=True),
                    not_after=S1_START),
    "announcement": _job("announcement", AnnouncementPayload("news")),
    "test-copy": _job("announcement", AnnouncementPayload(test_copy=TEST_COPY)),
}


def test_every_kind_has_its_payload_and_its_composer() -> None:
    assert sorted(REGISTRY) == sorted(KINDS)
    for name, kind in REGISTRY.items():
        assert kind.name == name == kind.payload.KIND
        assert isinstance(kinds.job(name, ("s1",)).payload, kind.payload)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(TYPED))
def test_a_job_reads_back_as_it_was_written(name: str) -> None:
    job = TYPED[name]
    message = json.loads(job.to_json())
    assert message["v"] == 3 and "extra" not in message
    assert EmailJob.from_json(job.to_json()) == job


def test_a_default_payload_writes_nothing_and_delivery_fields_only_when_set() -> None:
    message = json.loads(_job("reminder").to_json())
    assert not {"payload", "not_after", "deferrals"} & set(message)
    message = json.loads(TYPED["update"].to_json())
    assert message["payload"] == {"notice": "update",
                                  "previous_start": "2023-10-26T13:00:00+00:00",
                                  "previous_end": "2023-10-26T14:00:00+00:00"}
    assert message["deferrals"] == 3


def _v1(job: EmailJob, extra: dict[str, str]) -> str:
    """The message version 1 wrote for a job: its payload and delivery fields in ``extra``."""
    doc = json.loads(job.to_json())
    for name in ("payload", "not_after", "deferrals"):
        doc.pop(name, None)
    return json.dumps(doc | {"v": 1, "extra": extra})


V1_EXTRA = {
    "confirmation": {"opt_in": "needed", "join_urls": json.dumps(
        {"s1": "https://zoom.example/j/1", "*": "https://z.example/"})},
    "reminder": {"not_after": "2023-10-26T14:00:00+00:00"},
    "update": {"notice": "update", "not_after": "2023-10-26T14:00:00+00:00",
               "previous_start": "2023-10-26T13:00:00+00:00",
               "previous_end": "2023-10-26T14:00:00+00:00", "deferrals": "3"},
    "new-session": {"notice": "new_session", "not_after": "2023-10-26T14:00:00+00:00"},
    "cancellation": {"notice": "cancellation", "not_after": "2023-10-26T14:00:00+00:00"},
    "dropped": {"dropped": "self", "not_after": "2023-10-26T13:00:00+00:00"},
    "announcement": {"announcement": "news", "not_after": "2023-10-27T13:00:00+00:00"},
    "test-copy": {"announcement_doc": json.dumps(TEST_COPY.to_doc())},
}


@pytest.mark.parametrize("name", sorted(TYPED))
def test_a_version_1_message_still_on_a_queue_reads_as_its_typed_twin(name: str) -> None:
    extra = V1_EXTRA[name]
    twin = TYPED[name]
    if "not_after" in extra:
        twin = replace(twin, not_after=datetime.fromisoformat(extra["not_after"]))
    assert EmailJob.from_json(_v1(twin, extra)) == replace(twin, legacy_ledger=True)


def test_a_version_1_update_composes_the_email_its_twin_does() -> None:
    series = kinds.series()
    moved = replace(series, sessions=tuple(
        replace(s, start=s.start + timedelta(hours=1), sequence=1) if s.id == "s1" else s
        for s in series.sessions))
    twin = TYPED["update"]
    old = EmailJob.from_json(_v1(twin, {k: v for k, v in V1_EXTRA["update"].items()
                                        if k != "not_after"}))
    made = [compose(moved, j, now=kinds.NOW, renderer=kinds.renderer(), links=kinds.LINKS)
            for j in (twin, old)]
    assert made[0] == made[1]
    assert made[0].subject == "New time: Reirradiation Challenges & Opportunities"


def _v2(name: str, payload: object, **fields: object) -> str:
    doc = json.loads(_job(name).to_json())
    return json.dumps(doc | {"payload": payload} | fields)


@pytest.mark.parametrize("message", [
    _v2("confirmation", "opt_in"),  # not an object
    _v2("confirmation", {"opt_in": "yes"}),
    _v2("confirmation", {"join_urls": ["https://zoom.example/j/1"]}),
    _v2("confirmation", {"join_urls": {"s1": 7}}),
    _v2("update", {"notice": "moved"}),
    _v2("update", {"previous_start": "2023-10-26T13:00:00+00:00"}),  # without its end
    _v2("update", {"previous_start": "yesterday", "previous_end": "today"}),
    _v2("update", {"previous_start": "2023-10-26T13:00:00",  # no offset
                   "previous_end": "2023-10-26T14:00:00"}),
    _v2("cancellation", {"dropped": "self"}),
    _v2("announcement", {"id": 7}),
    _v2("announcement", {"copy": {"id": "news", "subject": "News"}}),  # half a document
    _v2("reminder", {}, deferrals=-1),
    _v2("reminder", {}, deferrals="2"),
    _v2("reminder", {}, not_after="2023-10-26T14:00:00"),
    _v2("reminder", {}, v=4),
    _v2("reminder", {}, key="reminder#not-a-delivery-key"),
    _v2("reminder", {}, rid="someone-else"),
    _v2("reminder", {}, kind="postcard"),
    _v1(_job("confirmation"), {"join_urls": "{not json"}),
    _v1(_job("update"), {"previous_start": "soon", "previous_end": "later"}),
    _v1(_job("reminder"), {"deferrals": "many"}),
    json.dumps({"v": 2, "kind": "reminder"}),
    "[]",
    "not json",
])
def test_a_malformed_message_is_a_payload_error(message: str) -> None:
    with pytest.raises(PayloadError):
        EmailJob.from_json(message)


def test_a_job_refuses_another_kinds_payload() -> None:
    with pytest.raises(ValueError, match="reminder job given a UpdatePayload"):
        replace(_job("reminder"), payload=UpdatePayload())


def test_a_newer_versions_payload_field_is_left_for_it() -> None:
    """During a deploy an older reader may meet a field it does not know: it is ignored."""
    message = _v2("cancellation", {"dropped": True, "reason": "a later field"})
    assert EmailJob.from_json(message).payload == CancellationPayload(dropped_by_self=True)


# -- the follow-up in every language ------------------------------------------------------

def _follow_up(language: str, doc: dict[str, Any]) -> tuple[str, str]:
    series = kinds.series()
    s3 = series.session("s3")
    assert s3 is not None
    [announcement_doc] = follow_up_announcements(s3, doc, kinds.renderer())
    announcement = replace(parse_announcement(announcement_doc, series, kinds.NOW),
                           translations=translations_from_doc(announcement_doc["translations"]))
    job = kinds.job("announcement", ("s3",))
    job = replace(job, recipient=replace(job.recipient, language=language))
    made = compose(series, job, now=kinds.NOW, renderer=kinds.renderer(), links=kinds.LINKS,
                   announcement=announcement)
    return made.subject, re.sub(r"[ \n]+", " ", made.text)  # lines unwrapped


LINKS = {"recording_url": "https://estro.example/rec/s3",
         "survey_url": "https://estro.example/survey/s3"}


def test_a_follow_up_reads_french_to_a_french_registrant() -> None:
    subject, text = _follow_up("fr-BE", dict(LINKS))
    title = kinds.series().session("s3").title  # type: ignore[union-attr]
    assert subject == f"{title}\u00a0: enregistrement et questionnaire"
    assert f"Merci de votre intérêt pour {title}." in text  # the title as written
    assert "- Voir l’enregistrement\u00a0: https://estro.example/rec/s3" in text
    assert "Dites-nous en deux minutes ce que vous en avez pensé\u00a0: " \
        "https://estro.example/survey/s3" in text
    assert "Thank you" not in text and "recording" not in subject


def test_a_follow_up_keeps_english_and_the_organisers_subject_as_written() -> None:
    subject, text = _follow_up("", dict(LINKS))
    title = kinds.series().session("s3").title  # type: ignore[union-attr]
    assert subject == f"{title}: recording and survey"
    assert f"Thank you for your interest in {title}." in text
    assert "- Watch the recording: https://estro.example/rec/s3" in text
    given = "Aufzeichnung und Umfrage zu Sitzung 3"
    subject, text = _follow_up("de", dict(LINKS, subject=given))
    assert subject == given  # the organiser's own words, in every language
    assert "Aufzeichnung ansehen: https://estro.example/rec/s3" in text


def _message(harness: Harness, address: str) -> EmailMessage:
    entry = [e for e in harness.outbox.entries()
             if e["kind"] == "announcement" and e["to"] == address][-1]
    raw = (harness.outbox_dir / str(entry["file"])).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_stored_follow_up_goes_out_in_each_registrants_language(harness: Harness) -> None:
    """Through the organiser API, the stored task and the sender: the translations survive
    the store, and each person gets their own language."""
    for address, language in (("anne@example.org", "fr-CA"), ("sam@example.org", "")):
        body = json.dumps({"id": f"evt-{address}", "type": "registration.created",
                           "created": int(harness.clock.now().timestamp()),
                           "data": {"registrant": {"email": address, "full_name": "A B",
                                                   "time_zone": "Europe/Paris",
                                                   "language": language},
                                    "sessions": ["s1"]}}).encode()
        assert harness.post(body).status == 202
    harness.runtime.drain()
    answer = harness.runtime.organiser("/organiser/series/reirradiation-2023/follow-ups",
                                       {"session": "s1", **LINKS}, idempotency_key="fu-s1")
    harness.runtime.drain()
    assert answer.status == 202, answer.body
    french, english = _message(harness, "anne@example.org"), _message(harness, "sam@example.org")
    assert str(french["Subject"]).endswith(": enregistrement et questionnaire")
    assert french["Content-Language"] == "fr"
    assert "Voir l’enregistrement" in french.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert str(english["Subject"]).endswith(": recording and survey")
    assert "Watch the recording" in english.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_the_sender_sends_a_version_1_message_and_dead_letters_a_malformed_one(
        harness: Harness) -> None:
    """A queue that still holds version 1 messages when this version is deployed: they go
    out; a message whose payload is malformed fails and ends in the dead-letter queue."""
    harness.register_many(1, sessions=["s1"])
    [registration], _cursor = harness.runtime.store.registrations_page(SERIES_ID, None, 10)
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None
    person = registration.registrant
    v1 = {"v": 1, "kind": "reminder", "series": SERIES_ID, "rev": series.revision,
          "rid": registration.registrant_id, "sessions": ["s1"],
          "key": delivery_key("reminder", SERIES_ID, registration.registrant_id, "v1-on-queue"),
          "also": [], "extra": {"not_after": "2023-10-26T14:00:00+00:00"},
          "to": {"email": person.email, "name": person.full_name, "tz": person.time_zone,
                 "join": None}}
    harness.runtime.queue.send_raw(json.dumps(v1))
    harness.runtime.drain()
    reminders = [e for e in harness.outbox.entries() if e["kind"] == "reminder"]
    assert [e["to"] for e in reminders] == [person.email]

    dead_before = harness.runtime.queue.dead_letters()
    harness.runtime.queue.send_raw(json.dumps(v1 | {"v": 2, "key": "reminder#bad",
                                                    "payload": "not an object"}))
    for _receive in range(6):  # the queue's receives, then the dead-letter queue
        harness.runtime.drain()
    assert harness.runtime.queue.dead_letters() == dead_before + 1
    assert len([e for e in harness.outbox.entries() if e["kind"] == "reminder"]) == 1
