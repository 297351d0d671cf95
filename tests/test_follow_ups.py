"""The absentees' follow-up in a series that gives certificates says that the recording does
not count for live credit: our words in the reader's language by default, the organisers' own
text from the series file, or nothing with ``absentee_note: off``; those who were there, and
series without certificates, never get the line."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conftest import SERIES_FILE, SERIES_ID, Harness
from test_certificates_e2e import (
    S1,
    certificate_series,
    certificate_site,
    register,
    visit,
    zoom,
)
from webinar_notify import bootstrap
from webinar_notify.core import i18n
from webinar_notify.core.errors import SeriesFileError
from webinar_notify.core.follow_ups import absentee_note, follow_up_announcements
from webinar_notify.core.organiser_jobs import Continuation
from webinar_notify.core.render import Renderer
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series, series_to_document
from webinar_notify.core.text import registrant_id
from webinar_notify.series_files import load_series_file
from webinar_notify.services.job_steps import JobSettings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("Please note: watching the recording does not count as live attendance, so it "
           "earns no credit towards a certificate of attendance.")
RULES: dict[str, Any] = {"sessions": "all"}
FOLLOW_UP = {"session": "s3", "recording_url": "https://estro.example/rec/s3",
             "survey_url": "https://estro.example/survey/s3", "split": True}


@cache
def renderer() -> Renderer:
    return Renderer(ROOT / "templates")


def with_certificates(**extra: Any) -> Series:
    return certificate_series(**RULES, **extra)


def bodies(series: Series) -> dict[str, dict[str, str]]:
    """Each group's follow-up text, by language."""
    session = series.session("s3")
    assert session is not None
    found: dict[str, dict[str, str]] = {}
    for doc in follow_up_announcements(session, FOLLOW_UP, renderer(), absentee_note(series)):
        group = doc["id"].rsplit("-", 1)[-1]
        found[group] = {i18n.SOURCE: doc["body_markdown"]} | {
            language: text["body_markdown"] for language, text in doc["translations"].items()}
    return found


def test_the_absentees_get_the_line_in_their_language_and_the_attendees_do_not() -> None:
    found = bodies(with_certificates())
    assert DEFAULT in found["absent"]["en"]
    for language in i18n.LANGUAGES:
        line = i18n.tr(language, DEFAULT)
        assert line in found["absent"][language]
        assert line not in found["attended"][language]
        assert language == "en" or line != DEFAULT  # translated, not left in English


def test_the_organisers_text_replaces_ours_in_every_language() -> None:
    note = "Recordings carry no ECMEC: only the live session counts."
    found = bodies(with_certificates(absentee_note=f"  {note} "))
    for language in i18n.LANGUAGES:
        assert note in found["absent"][language]
        assert i18n.tr(language, DEFAULT) not in found["absent"][language]
        assert note not in found["attended"][language]


@pytest.mark.parametrize("off", [False, "off", "OFF"])  # YAML reads a bare off as false
def test_off_leaves_the_line_out(off: object) -> None:
    series = with_certificates(absentee_note=off)
    assert series.certificates["absentee_note"] == "off"
    assert parse_series(series_to_document(series)) == series
    found = bodies(series)
    assert all(i18n.tr(language, DEFAULT) not in found["absent"][language]
               for language in i18n.LANGUAGES)
    assert "We missed you" in found["absent"]["en"]


def test_a_series_without_certificates_says_nothing_of_credit() -> None:
    found = bodies(load_series_file(SERIES_FILE))
    assert DEFAULT not in found["absent"]["en"]


@pytest.mark.parametrize("value", ["", "   ", 12, ["a"], "x" * 501])
def test_a_wrong_note_is_refused_with_its_path(value: object) -> None:
    with pytest.raises(SeriesFileError, match=r"certificates\.absentee_note"):
        with_certificates(absentee_note=value)


def test_through_the_organiser_api_only_the_absent_person_reads_the_line(
        tmp_path: Path) -> None:
    """Two registrants of s3, one marked present: the split follow-up, as sent."""
    with certificate_site(tmp_path, with_certificates()) as site:
        clock, outbox, runtime = site.clock, site.outbox, site.runtime
        register(site, "there@example.org", "Bea")
        register(site, "away@example.org", "Jules", "fr")
        clock.set(datetime(2023, 12, 5, 9, 0, tzinfo=UTC))
        base = f"/organiser/series/{SERIES_ID}"
        marked = runtime.organiser(f"{base}/sessions/s3/attendance",
                                   {"emails": ["there@example.org"]}, "attendance-s3")
        assert marked.status == 202, marked.body
        runtime.drain()
        answer = runtime.organiser(f"{base}/follow-ups", FOLLOW_UP, "follow-up-s3")
        assert answer.status == 202, answer.body
        runtime.drain()
        texts = {str(e["to"]): plain(tmp_path / "outbox" / str(e["file"]))
                 for e in outbox.entries() if e["kind"] == "announcement"}
    assert set(texts) == {"there@example.org", "away@example.org"}
    french = i18n.tr("fr", DEFAULT)
    assert " ".join(french.split()) in " ".join(texts["away@example.org"].split())
    assert "survey/s3" not in texts["away@example.org"]
    assert "credit" not in texts["there@example.org"] and "survey/s3" in texts[
        "there@example.org"]


def plain(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


# -- the split follows attendance as recorded, whatever its source ----------------------------
BASE = f"/organiser/series/{SERIES_ID}"
ON_S1 = {**FOLLOW_UP, "session": "s1", "recording_url": "https://estro.example/rec/s1",
         "survey_url": "https://estro.example/survey/s1"}
REPORT = "email,minutes\nreport@example.org,30\nlisted-absent@example.org,0\n"
PEOPLE = ("report@example.org", "listed-absent@example.org", "joined@example.org",
          "minutes@example.org", "webhook-only@example.org")


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Harness]:
    """Five registrants of s1 whose attendance comes from different sources, up to the
    upload of s1's report (drained):

    - report@: only in the uploaded report, 30 minutes (under the certificate threshold);
    - listed-absent@: in the report with 0 minutes;
    - joined@: joined and left on Zoom, then marked absent by an organiser;
    - minutes@: a manual mark of 20 minutes, not in the report (a mark stands);
    - webhook-only@: joined on Zoom, not in the report (the report replaces the webhooks).
    """
    with certificate_site(tmp_path, with_certificates()) as site:
        clock, runtime = site.clock, site.runtime
        for address in PEOPLE:
            register(site, address, address.partition("@")[0])
        clock.set(S1 + timedelta(hours=3))
        visit(site, "joined@example.org", (0, 55))
        visit(site, "webhook-only@example.org", (5, 60))
        marks = [({"emails": ["joined@example.org"], "attended": False}, "absent"),
                 ({"emails": ["minutes@example.org"], "minutes": 20}, "minutes")]
        for body, key in marks:
            answer = runtime.organiser(f"{BASE}/sessions/s1/marks", body, key)
            assert answer.status == 200, answer.body
        # Zoom delivers the join again after the mark: the organiser's mark still wins.
        again = zoom(site, "joined", "joined@example.org", S1, "joined-0")
        assert again.status == 200, again.body
        uploaded = upload(site, "report-1")
        assert uploaded.status == 202, uploaded.body
        runtime.drain()
        yield site


def upload(site: Harness, key: str, report: str = REPORT) -> Any:
    return site.runtime.organiser(f"{BASE}/sessions/s1/attendance-report",
                                  {"report": report, "format": "csv"}, key)


def present(site: Harness) -> set[str]:
    return {a for a, (_, attended) in versions(site).items() if "s1" in attended}


def versions(site: Harness) -> dict[str, tuple[int, frozenset[str]]]:
    """Each registration's version and attended sessions, by address."""
    found = {}
    for address in PEOPLE:
        registration = site.runtime.store.get_registration(
            SERIES_ID, registrant_id("local-development-only", SERIES_ID, address))
        assert registration is not None
        found[address] = (registration.version, registration.attended)
    return found


def test_the_split_follows_attendance_as_recorded_whatever_its_source(
        recorded: Harness, tmp_path: Path) -> None:
    answer = recorded.runtime.organiser(f"{BASE}/follow-ups", ON_S1, "follow-up-s1")
    assert answer.status == 202, answer.body
    recorded.runtime.drain()
    texts = {str(e["to"]): plain(tmp_path / "outbox" / str(e["file"]))
             for e in recorded.outbox.entries() if e["kind"] == "announcement"}
    assert set(texts) == set(PEOPLE)
    attendees = {a for a, text in texts.items() if "survey/s1" in text}
    absentees = {a for a, text in texts.items() if DEFAULT in " ".join(text.split())}
    assert attendees == {"report@example.org", "minutes@example.org"}
    assert absentees == {"listed-absent@example.org", "joined@example.org",
                         "webhook-only@example.org"}
    assert all("We missed you" not in texts[a] for a in attendees)


def test_a_rerun_of_the_upload_changes_nothing(recorded: Harness) -> None:
    before = versions(recorded)
    assert present(recorded) == {"report@example.org", "minutes@example.org"}
    answer = upload(recorded, "report-2")
    assert answer.status == 202, answer.body
    recorded.runtime.drain()
    assert versions(recorded) == before  # no registration written again


def test_a_newer_report_replaces_the_older_one_a_page_of_registrations_a_step(
        recorded: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flags are kept in steps that hand on (one registration a step here): those the new
    report leaves out are absent, those it lists present, the manual mark stands."""
    jobs = bootstrap.services().jobs
    monkeypatch.setattr(jobs, "settings", JobSettings(attendance_batch=1, certificate_page=1))
    answer = upload(recorded, "report-3", "email,minutes\nwebhook-only@example.org,45\n")
    assert answer.status == 202, answer.body
    body = recorded.runtime.jobs.take()
    assert body is not None
    work: Continuation | None = Continuation.from_json(body)
    steps = 0
    while work is not None:
        work = jobs.step(work, recorded.clock.now() - timedelta(seconds=1))  # out of time
        work = Continuation.from_json(work.to_json()) if work else None  # as queued
        steps += 1
    assert steps > len(PEOPLE)  # one row, then one registration, a step
    assert present(recorded) == {"webhook-only@example.org", "minutes@example.org"}
