"""Attendance and certificates through the real handlers on moto: the series file's
``certificates:``, Zoom's join and leave webhooks, an uploaded report, manual marks, an
evaluation from a form, the CLI. The issue's rehearsal (certificates emailed, their PDFs, the
verification page, revocation, the manage page's download, erasure) is played once in
tests/test_certificates_rehearsal.py, with the helpers below."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import SECRET, SERIES_FILE, SERIES_ID, START, Harness, registration_body
from webinar_notify import bootstrap
from webinar_notify.adapters.clock import VirtualClock
from webinar_notify.adapters.outbox import OutboxMailer
from webinar_notify.core.certificates import issue
from webinar_notify.core.errors import SeriesFileError
from webinar_notify.core.series import Series
from webinar_notify.core.series_document import parse_series, series_to_document
from webinar_notify.core.text import registrant_id
from webinar_notify.local.runtime import HttpAnswer, LocalSettings, local_runtime
from webinar_notify.series_files import load_series_file
from webinar_notify.services.certificates import certificate_rules

ZOOM_SECRET = "test-zoom-secret"
KEY = "local-development-only"  # the local runtime's registrant key
WEBINAR = "81234567890"  # mapped to s1
S1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)  # 15:00 in Brussels, one hour
S2 = datetime(2023, 11, 6, 14, 0, tzinfo=UTC)
AFTER = datetime(2023, 11, 7, 9, 0, tzinfo=UTC)
BASE = f"/organiser/series/{SERIES_ID}"
CERTIFICATES: dict[str, Any] = {
    "threshold": "85%",
    "sessions": ["s1", "s2"],
    "series": {"sessions": ["s1", "s2"], "evaluation": "required"},
    "evaluations": {"series": {"provider": "generic"}},
}


def certificate_series(**certificates: Any) -> Series:
    series = load_series_file(SERIES_FILE)
    doc = series_to_document(series)
    doc["forms"] = {**doc["forms"], "zoom": {"webinars": {WEBINAR: "s1"}}}
    doc["certificates"] = certificates or CERTIFICATES
    return parse_series(doc)


@contextmanager
def certificate_site(folder: Path, series: Series | None = None,
                     public_base_url: str | None = None) -> Iterator[Harness]:
    """The local runtime taking the generic and the Zoom webhooks, at the series' start, with
    ``series`` (the certificate series unless given) published and its outbox in
    ``folder``/outbox."""
    clock = VirtualClock(START)
    outbox = OutboxMailer(folder / "outbox", clock)
    settings = LocalSettings(webhook_secrets={"generic": SECRET, "zoom": ZOOM_SECRET},
                             quiet=True)
    if public_base_url:
        settings = replace(settings, public_base_url=public_base_url)
    with local_runtime(clock, outbox, settings) as runtime:
        runtime.push_series(series or certificate_series())
        yield Harness(runtime, clock, outbox, folder / "outbox")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Harness]:
    with certificate_site(tmp_path) as harness:
        yield harness


def rid(address: str) -> str:
    return registrant_id(KEY, SERIES_ID, address)


def zoom(site: Harness, event: str, email: str, at: datetime, connection: str) -> HttpAnswer:
    field = "join_time" if event.endswith("joined") else "leave_time"
    body = json.dumps({"event": f"webinar.participant_{event}", "event_ts": 1, "payload": {
        "object": {"id": WEBINAR, "uuid": "u==", "start_time": "2023-10-26T13:00:00Z",
                   "participant": {"email": email, field: at.isoformat().replace(
                       "+00:00", "Z"), "participant_uuid": connection}}}}).encode()
    stamp = str(int(site.clock.now().timestamp()))
    signature = hmac.new(ZOOM_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body,
                         hashlib.sha256).hexdigest()
    return site.runtime.request("POST", f"/webhooks/zoom/{SERIES_ID}", {
        "content-type": "application/json", "x-zm-signature": f"v0={signature}",
        "x-zm-request-timestamp": stamp}, body)


def visit(site: Harness, email: str, *spans: tuple[int, int], session_start: datetime = S1
          ) -> None:
    """Joins and leaves, minutes after the start, one connection per span."""
    for number, (joined, left) in enumerate(spans):
        connection = f"{email.partition('@')[0]}-{number}"
        for kind, minute in (("joined", joined), ("left", left)):
            answer = zoom(site, kind, email, session_start + timedelta(minutes=minute),
                          connection)
            assert answer.status in (200, 202), answer.body


def minutes(site: Harness, email: str) -> dict[str, int]:
    series = site.runtime.store.get_series(SERIES_ID)
    assert series is not None
    found = bootstrap.services().certificates.presence(series, rid(email))
    return {session: seen.minutes for session, seen in found.items()}


def register(site: Harness, email: str, name: str, language: str = "en") -> None:
    """A registration in the form's language (the generic form's ``registrant.language``)."""
    body = json.loads(registration_body(email, name, f"evt-{email}", created=site.clock.now()))
    body["data"]["registrant"]["language"] = language
    answer = site.post(json.dumps(body).encode())
    assert answer.status == 202, answer.body


# -- the series file ----------------------------------------------------------------------------
def test_the_series_file_keeps_its_certificate_rules_and_evaluation_mapping() -> None:
    series = certificate_series()
    assert series.certificates == CERTIFICATES
    assert parse_series(series_to_document(series)) == series
    plain = load_series_file(SERIES_FILE)
    assert plain.certificates == {} and "certificates" not in series_to_document(plain)


@pytest.mark.parametrize(("certificates", "error"), [
    ({"series": {"sessions": ["s9"]}}, "certificates.series.sessions: no session 's9'"),
    ({"threshold": "120%", "sessions": "all"}, "certificates.threshold"),
    ({"sessions": "all", "evaluations": {"s9": {"provider": "tally"}}},
     "certificates.evaluations.s9: no session 's9'"),
    ({"sessions": "all", "evaluations": {"series": {"provider": "zoom"}}},
     "certificates.evaluations.series.provider"),
    ({"sessions": "all", "evaluations": {"series": {"provider": "tally", "form": "x"}}},
     "certificates.evaluations.series: expected"),
    ({"credits_per_hour": 1}, "give series:, sessions: or both"),
])
def test_a_wrong_certificates_field_is_refused_with_its_path(certificates: dict[str, Any],
                                                             error: str) -> None:
    with pytest.raises(SeriesFileError, match=error):
        certificate_series(**certificates)


# -- Zoom's webhooks ----------------------------------------------------------------------------
def test_zoom_joins_and_leaves_are_kept_as_presence_with_reconnects_merged(
        site: Harness) -> None:
    register(site, "ana@example.org", "Ana Lima")
    site.clock.set(S1 + timedelta(hours=2))
    visit(site, "ana@example.org", (-5, 30), (38, 65))  # left for 8 minutes, came back
    assert minutes(site, "ana@example.org") == {"s1": 52}
    assert site.registration("ana@example.org").attended == frozenset({"s1"})  # follow-ups


def test_a_retried_delivery_counts_once_and_a_stranger_is_not_kept(site: Harness) -> None:
    register(site, "ana@example.org", "Ana Lima")
    site.clock.set(S1 + timedelta(hours=2))
    for _ in range(2):  # Zoom retries a delivery it got no answer for
        visit(site, "ana@example.org", (0, 20))
    before = len(site.items("PERSON#"))
    visit(site, "stranger@example.org", (0, 60))
    assert minutes(site, "ana@example.org") == {"s1": 20}
    assert len(site.items("PERSON#")) == before == 2  # one join, one leave
    assert "example.org" not in json.dumps(site.items("PERSON#"))


def test_a_leave_is_answered_and_a_bad_signature_changes_nothing(site: Harness) -> None:
    register(site, "ana@example.org", "Ana Lima")
    site.clock.set(S1 + timedelta(hours=2))
    answer = zoom(site, "left", "ana@example.org", S1 + timedelta(minutes=40), "c")
    assert (answer.status, answer.body) == (200, {"status": "presence"})
    global ZOOM_SECRET
    kept, ZOOM_SECRET = ZOOM_SECRET, "wrong"
    try:
        refused = zoom(site, "joined", "ana@example.org", S1, "d")
    finally:
        ZOOM_SECRET = kept
    assert refused.status == 401, refused.body
    assert len(site.items("PERSON#")) == 1


# -- uploads and marks ----------------------------------------------------------------------------
ZOOM_REPORT = """\ufeffAttendee Report
Report Generated:,"10/26/2023 17:05:12"
Topic,Webinar ID,Actual Start Time,Actual Duration (minutes)
Reirradiation,812 3456 7890,10/26/2023 02:55:40 PM,70
Attendee Details,
Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes)
Yes,Ana,ana@example.org,10/26/2023 02:58:00 PM,10/26/2023 04:01:00 PM,63
Yes,Khai,Khai@Example.org,10/26/2023 03:00:00 PM,10/26/2023 03:30:00 PM,30
Yes,Khai,khai@example.org,10/26/2023 03:34:00 PM,10/26/2023 04:00:00 PM,26
Yes,Guest,guest@example.org,10/26/2023 03:00:00 PM,10/26/2023 04:00:00 PM,60
No,Absent,absent@example.org,--,--,--
"""


def upload(site: Harness, text: str, key: str, session: str = "s1", fmt: str = "zoom",
           **extra: Any) -> HttpAnswer:
    return site.runtime.organiser(f"{BASE}/sessions/{session}/attendance-report",
                                  {"report": text, "format": fmt, **extra}, key)


def test_an_uploaded_zoom_report_replaces_the_webhook_log_of_its_session(
        site: Harness) -> None:
    for email, name in (("ana@example.org", "Ana"), ("khai@example.org", "Khai"),
                        ("webhook-only@example.org", "Wen")):
        register(site, email, name)
    site.clock.set(S1 + timedelta(hours=3))
    visit(site, "webhook-only@example.org", (0, 60))
    assert minutes(site, "webhook-only@example.org") == {"s1": 60}
    answer = upload(site, ZOOM_REPORT, "report-1")
    assert answer.status == 202, answer.body
    assert (answer.body["kind"], answer.body["total"]) == ("attendance", 3)
    site.runtime.drain()
    job = bootstrap.services().jobs.job(SERIES_ID, answer.body["job"])
    assert (job.state, job.recorded, job.not_registered) == ("done", 2, 1)  # the guest
    assert minutes(site, "ana@example.org") == {"s1": 60}  # clipped to the session
    assert minutes(site, "khai@example.org") == {"s1": 56}  # two connections, merged
    assert minutes(site, "webhook-only@example.org") == {"s1": 0}  # not in the report
    audit = json.dumps(site.items("AUDIT#"))
    assert "ana@example.org" not in audit and "upload_attendance" in audit


def test_a_half_written_upload_changes_nothing_until_its_last_step(
        site: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from webinar_notify.core.organiser_jobs import Continuation
    from webinar_notify.services.organiser_jobs import JobSettings

    for email in ("ana@example.org", "khai@example.org"):
        register(site, email, email[:3])
    site.clock.set(S1 + timedelta(hours=3))
    visit(site, "ana@example.org", (0, 10))
    visit(site, "khai@example.org", (0, 10))
    assert upload(site, ZOOM_REPORT, "steps").status == 202
    jobs = bootstrap.services().jobs
    monkeypatch.setattr(jobs, "settings", JobSettings(attendance_batch=1))
    body = site.runtime.jobs.take()
    assert body is not None
    rest = jobs.step(Continuation.from_json(body), site.clock.now() - timedelta(seconds=1))
    assert rest is not None and rest.rows == 1  # out of time after one row of three
    assert minutes(site, "ana@example.org") == minutes(site, "khai@example.org") == {"s1": 10}
    again = jobs.step(rest, site.clock.now() + timedelta(minutes=5))  # the rest, and the end
    assert again is None
    assert minutes(site, "ana@example.org") == {"s1": 60}
    assert minutes(site, "khai@example.org") == {"s1": 56}


def test_a_bad_report_is_refused_whole_with_its_lines_and_nothing_is_recorded(
        site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    site.clock.set(S1 + timedelta(hours=3))
    bad = "email,minutes\nana@example.org,50\nnot-an-address,10\nana@example.org,x\n"
    answer = upload(site, bad, "bad-1", fmt="csv")
    assert answer.status == 400
    assert "line 3" in answer.body["error"] and "line 4" in answer.body["error"]
    assert "@" not in answer.body["error"]
    assert site.items("PERSON#") == [] and site.items("JOB#") == []
    for body, error in (({"format": "pdf"}, "format:"), ({"time_zone": "Mars/Base"},
                                                         "time_zone:")):
        refused = upload(site, bad, f"bad-{error}", **body)
        assert refused.status == 400 and refused.body["error"].startswith(error)
    early = upload(site, bad, "early", session="s8", fmt="csv")
    assert early.status == 400 and "has not taken place" in early.body["error"]


def test_manual_marks_win_over_the_webhooks(site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    register(site, "bo@example.org", "Bo")
    site.clock.set(S1 + timedelta(hours=3))
    visit(site, "bo@example.org", (0, 60))
    present = site.runtime.organiser(f"{BASE}/sessions/s1/marks",
                                     {"emails": ["ANA@example.org", "x@example.org"]}, "m-1")
    absent = site.runtime.organiser(f"{BASE}/sessions/s1/marks",
                                    {"emails": ["bo@example.org"], "attended": False}, "m-2")
    assert (present.status, present.body["marked"], present.body["not_registered"]) == \
        (200, 1, 1)
    assert absent.status == 200, absent.body
    assert minutes(site, "ana@example.org") == {"s1": 60}
    assert minutes(site, "bo@example.org") == {"s1": 0}
    wrong = site.runtime.organiser(f"{BASE}/sessions/s1/marks",
                                   {"emails": ["a@example.org"], "attended": "yes"}, "m-3")
    assert wrong.status == 400 and "attended" in wrong.body["error"]


def test_a_name_the_fonts_cannot_draw_is_not_issued_and_its_pdf_is_a_clear_4xx(
        site: Harness) -> None:
    """The reviewer's case: marked present at s1 and s2, a Thai name earns both session
    certificates; none is issued or emailed, nothing reaches the dead-letter queue. One
    issued before issuing checked the fonts is offered with no link that cannot work, and
    its download is a page in the person's language (422), never a 5xx."""
    from webinar_notify.core import i18n
    from webinar_notify.services.certificates import UNPRINTABLE

    register(site, "m@example.org", "สมชาย ใจดี", "fr")
    site.clock.set(S2 + timedelta(hours=3))
    for session in ("s1", "s2"):
        marked = site.runtime.organiser(f"{BASE}/sessions/{session}/marks",
                                        {"emails": ["m@example.org"]}, f"m-{session}")
        assert (marked.status, marked.body["issued"]) == (200, 0), marked.body
    site.runtime.drain()
    assert site.runtime.dead_letters() == 0
    assert not [e for e in site.outbox.entries() if e["kind"] == "certificate"]
    services = bootstrap.services()
    series = site.runtime.store.get_series(SERIES_ID)
    assert series is not None
    [s1] = [a for a in services.certificates.assess(series, rid("m@example.org"), False)
            .assessments if a.scope == "session:s1"]
    rules = certificate_rules(series)
    assert rules is not None and s1.state == "earned"
    old = issue(s1, secret="an-older-version", series_id=SERIES_ID, series_title=series.title,
                registrant_id=rid("m@example.org"), name="สมชาย ใจดี", rules=rules,
                organisers=[], issued_on=site.clock.now().date(),
                verify_base_url=services.certificates.verify_base_url)
    assert services.certificates.certificates.put_certificate(old)

    path = site.manage_path("m@example.org")
    page = site.runtime.request("GET", path, {}, b"")
    said = i18n.tr("fr", UNPRINTABLE)
    assert page.status == 200 and said in page.text and "/certificates/" not in page.text
    refused = site.runtime.request("GET", f"{path}/certificates/{old.certificate_id}", {}, b"")
    assert refused.status == 422 and refused.content_type.startswith("text/html")
    assert said in refused.text and refused.headers["Content-Language"] == "fr"


def test_the_attendance_list_import_marks_people_present_for_the_whole_session(
        site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    site.clock.set(S1 + timedelta(hours=3))
    answer = site.runtime.organiser(f"{BASE}/sessions/s1/attendance",
                                    {"emails": ["ana@example.org"]}, "list-1")
    assert answer.status == 202, answer.body
    site.runtime.drain()
    assert minutes(site, "ana@example.org") == {"s1": 60}


# -- the rehearsal's steps (played in test_certificates_rehearsal.py) --------------------------
PEOPLE = {  # address: (name as typed, language, minutes present at s1 and s2)
    "hanako@example.org": ("山田 花子", "en", (60, 60)),
    "khai@example.org": ("Nguyễn Thị Minh Khai", "fr", (52, 55)),  # reconnects at s1
    "ana@example.org": ("Ana Lúcia Gonçalves", "pt", (24, 20)),
}


def evaluate(site: Harness, email: str, target: str = "series") -> HttpAnswer:
    body = registration_body(email, "", f"eval-{email}", created=site.clock.now())
    return site.post(body, path=f"/webhooks/generic/{SERIES_ID}?evaluation={target}")


def rehearse(site: Harness) -> None:
    """Three registrants at s1 (Zoom's webhooks, one reconnecting) and s2 (an uploaded CSV);
    two of them (100 % and 40 %) complete the series' evaluation."""
    for email, (name, language, _) in PEOPLE.items():
        register(site, email, name, language)
    site.clock.set(S1 + timedelta(hours=2))
    visit(site, "hanako@example.org", (-5, 61))
    visit(site, "khai@example.org", (0, 30), (38, 60))  # 52 of 60 minutes: 86 %
    visit(site, "ana@example.org", (0, 24))  # 40 %
    site.clock.set(AFTER)
    csv = "email,minutes\n" + "".join(f"{email},{times[1]}\n"
                                      for email, (_, _, times) in PEOPLE.items())
    answer = upload(site, csv, "s2-report", session="s2", fmt="csv")
    assert answer.status == 202, answer.body
    site.runtime.drain()  # the upload, then the series' assessment it starts
    for email in ("ana@example.org", "hanako@example.org"):
        done = evaluate(site, email)
        assert (done.status, done.body) == (200, {"status": "evaluation"}), done.body


def held(site: Harness, email: str) -> dict[str, Any]:
    series = site.runtime.store.get_series(SERIES_ID)
    assert series is not None
    result = bootstrap.services().certificates.assess(series, rid(email), issue_earned=False)
    return {c.scope: c for c in result.held}




def verify(site: Harness, certificate_id: str, language: str = "en") -> HttpAnswer:
    return site.runtime.request("GET", f"/verify/{certificate_id}",
                                {"accept-language": language}, b"")




def test_the_verification_page_speaks_the_readers_language(site: Harness) -> None:
    answer = verify(site, "AAAA-AAAA-AAAA-AAAA", "fr-BE,fr;q=0.9")
    assert answer.headers["Content-Language"] == "fr"
    assert '<html lang="fr"' in answer.text


def test_an_evaluation_for_a_target_the_series_does_not_map_is_refused(site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    answer = evaluate(site, "ana@example.org", target="s3")
    assert answer.status == 404 and "no evaluation 's3'" in answer.body["error"]
    stranger = evaluate(site, "nobody@example.org")
    assert (stranger.status, stranger.body) == (200, {"status": "ignored"})
    assert site.items("PERSON#") == []


@pytest.mark.parametrize("function", ["ApiFunction", "JobsFunction"])
def test_the_functions_that_issue_certificates_may_read_their_secret(function: str) -> None:
    from webinar_notify.local import iam

    parameters = {"CertificateSecretParameter": "webinar-notify/certificate-secret"}
    policy = iam.stack_for(tuple(sorted(parameters.items()))).role_policy(function)
    needs = iam.needs("ssm", "GetParameter", {"Name": "/webinar-notify/certificate-secret"})
    assert needs and iam.denied_needs(policy, needs) == []
    other = iam.needs("ssm", "GetParameter", {"Name": "/webinar-notify/other"})
    assert iam.denied_needs(policy, other) != []  # the policy names its resource


# -- the CLI ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "path", "body"), [
    (["attendance-report", SERIES_ID, "s1", "{file}", "--format", "csv", "--time-zone",
      "UTC"], f"{BASE}/sessions/s1/attendance-report",
     {"format": "csv", "time_zone": "UTC", "report": "email,minutes\na@example.org,5\n"}),
    (["attendance-mark", SERIES_ID, "s2", "--emails-file", "{emails}", "--absent"],
     f"{BASE}/sessions/s2/marks", {"emails": ["a@example.org", "b@example.org"],
                                   "attended": False}),
    (["certificates", "issue", SERIES_ID], f"{BASE}/certificates", {}),
    (["certificates", "revoke", SERIES_ID, "JALM-RKKL-DH6S-BA5K"],
     f"{BASE}/certificates/JALM-RKKL-DH6S-BA5K/revoke", {}),
])
def test_the_cli_sends_each_certificate_action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               argv: list[str], path: str,
                                               body: dict[str, Any]) -> None:
    from webinar_notify import organiser_cli
    from webinar_notify.cli import main
    from webinar_notify.organiser_requests import to_request

    report, emails = tmp_path / "report.csv", tmp_path / "emails.txt"
    report.write_text("\ufeffemail,minutes\na@example.org,5\n", "utf-8")
    emails.write_text("a@example.org\n\nb@example.org\n", "utf-8")
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(organiser_cli, "_request", lambda args, action: sent.append(
        to_request(action, args.series, tmp_path)) or {})
    argv = [a.format(file=report, emails=emails) for a in argv]
    assert main([*argv, "--api", "https://api.example.org"]) == 0
    assert sent == [(path, body)]


