"""The organiser console's pages, driven through the real API handler on moto (no browser):
sign-in and sessions, access per series and role, counts, compose, session changes with a dry
run and a confirmation, registrant care, CSV export, delivery and the audit trail."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest

from conftest import SERIES_ID, Harness
from webinar_notify.core.text import registrant_id
from webinar_notify.local.events import LocalContext
from webinar_notify.local.runtime import HttpAnswer
from webinar_notify.local.ses_events import ses_event, sns_delivery

ORGANISER = "olga.organiser@example.net"
ORGANISER_NAME = "Olga Organiser"
BASE = f"/console/series/{SERIES_ID}"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Browser:
    """A signed-in organiser: the session cookie sent with every request, as a browser does."""

    harness: Harness
    cookie: str = ""
    pages: list[str] = field(default_factory=list)

    def get(self, path: str) -> HttpAnswer:
        answer = self.harness.runtime.request("GET", path, self._headers(), b"")
        self.pages.append(answer.text)
        return answer

    def post(self, path: str, fields: dict[str, str], *, site: str = "same-origin"
             ) -> HttpAnswer:
        headers = self._headers() | {"content-type": FORM, "sec-fetch-site": site}
        answer = self.harness.runtime.request("POST", path, headers,
                                              urlencode(fields).encode())
        self.pages.append(answer.text)
        return answer

    def form(self, page: str, **fields: str) -> dict[str, str]:
        """The input fields of the page (or part of one) as a browser sends them (the first
        of each name; boxes only when checked), plus the given ones."""
        found: dict[str, str] = {}
        for tag in re.findall(r"<input\b[^>]*>", page):
            attributes = dict(re.findall(r'([a-z_-]+)="([^"]*)"', tag))
            if "name" not in attributes or attributes["name"] in found:
                continue
            if attributes.get("type") in ("checkbox", "radio") and " checked" not in tag:
                continue
            found[attributes["name"]] = unescape(attributes.get("value", ""))
        return found | fields

    def _headers(self) -> dict[str, str]:
        return {"cookie": self.cookie} if self.cookie else {}


def sign_in(harness: Harness, email: str = ORGANISER, name: str = ORGANISER_NAME,
            series_id: str = SERIES_ID, role: str = "editor") -> Browser:
    password = harness.runtime.add_organiser(email, name, series_id, role)  # type: ignore[arg-type]
    browser = Browser(harness)
    answer = harness.runtime.request(
        "POST", "/console/sign-in", {"content-type": FORM, "sec-fetch-site": "same-origin"},
        urlencode({"username": email, "password": password}).encode())
    assert answer.status == 303, answer.text
    assert answer.headers["Location"] == "/console"
    (cookie,) = answer.cookies
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
    browser.cookie = cookie.split(";")[0]
    return browser


@pytest.fixture
def editor(harness: Harness) -> Browser:
    return sign_in(harness)


def sent_to(harness: Harness, address: str, kind: str | None = None) -> list[dict[str, Any]]:
    harness.runtime.drain()
    return [e for e in harness.outbox.entries()
            if e["to"] == address and kind in (None, e["kind"])]


def rid(address: str) -> str:
    return registrant_id("local-development-only", SERIES_ID, address)


# -- signing in, sessions and access ------------------------------------------------------------
def test_signed_out_pages_send_the_browser_to_sign_in(harness: Harness) -> None:
    for path in ("/console", f"{BASE}/", f"{BASE}/registrants", f"{BASE}/audit"):
        answer = harness.runtime.request("GET", path, {}, b"")
        assert answer.status == 303, path
        assert answer.headers["Location"] == "/console/sign-in"
        assert answer.headers["Cache-Control"] == "private, no-store"
    page = harness.runtime.request("GET", "/console/sign-in", {}, b"")
    assert page.status == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'name="username"' in page.text and 'name="password"' in page.text


def test_a_wrong_password_is_refused_with_the_same_words_as_an_unknown_account(
        harness: Harness) -> None:
    harness.runtime.add_organiser(ORGANISER, ORGANISER_NAME, SERIES_ID, "editor")
    answers = [harness.runtime.request(
        "POST", "/console/sign-in", {"content-type": FORM, "sec-fetch-site": "same-origin"},
        urlencode({"username": user, "password": "Wrong-password-1"}).encode())
        for user in (ORGANISER, "nobody@example.net")]
    assert [a.status for a in answers] == [401, 401]
    assert not any(a.cookies for a in answers)
    assert _error_text(answers[0].text) == _error_text(answers[1].text)


def test_a_first_sign_in_asks_for_a_new_password_then_signs_in(harness: Harness) -> None:
    import boto3

    harness.runtime.add_organiser(ORGANISER, ORGANISER_NAME, SERIES_ID, "editor")
    boto3.client("cognito-idp", region_name="eu-west-1").admin_set_user_password(
        UserPoolId=harness.runtime.pool.pool_id, Username=ORGANISER,
        Password="Temporary-pass-1", Permanent=False)  # as Cognito's emailed password is
    headers = {"content-type": FORM, "sec-fetch-site": "same-origin"}
    asked = harness.runtime.request("POST", "/console/sign-in", headers, urlencode(
        {"username": ORGANISER, "password": "Temporary-pass-1"}).encode())
    assert asked.status == 200 and not asked.cookies
    step = Browser(harness).form(asked.text)
    assert step["step"] == "new_password" and step["session"]
    mismatch = harness.runtime.request("POST", "/console/sign-in", headers, urlencode(
        step | {"new_password": "A-new-password-9", "confirm_password": "Another-one-9"}
    ).encode())
    assert mismatch.status == 400 and not mismatch.cookies
    done = harness.runtime.request("POST", "/console/sign-in", headers, urlencode(
        step | {"new_password": "A-new-password-9", "confirm_password": "A-new-password-9"}
    ).encode())
    assert done.status == 303 and done.headers["Location"] == "/console"
    browser = Browser(harness, cookie=done.cookies[0].split(";")[0])
    assert browser.get(f"{BASE}/").status == 200


def test_a_forged_or_expired_cookie_is_refused_and_cleared(editor: Browser) -> None:
    token = editor.cookie.split("=", 1)[1]
    header, payload, signature = token.split(".")
    claims = json.loads(_b64(payload))
    forged_claims = claims | {"cognito:groups": [f"{SERIES_ID}.editor", "other.editor"]}
    forged = ".".join([header, _b64e(json.dumps(forged_claims)), signature])
    expired = _signed_by_moto(claims | {"exp": int(time.time()) - 3600,
                                        "iat": int(time.time()) - 7200})
    for bad in (forged, expired, "not-a-token"):
        editor.cookie = f"wn_console={bad}"
        answer = editor.get(f"{BASE}/")
        assert answer.status == 303
        assert answer.headers["Location"] == "/console/sign-in"
        assert any("Max-Age=0" in c for c in answer.cookies), bad[:20]


def test_an_organiser_of_another_series_gets_403_and_changes_nothing(harness: Harness) -> None:
    harness.register_many(2)
    outsider = sign_in(harness, "otto@example.net", "Otto Other", "another-series", "editor")
    for page in ("/", "/registrants", "/timeline", "/delivery", "/audit", "/compose",
                 "/sessions/s1", f"/registrants/{rid('person0@example.org')}", "/jobs/x-1",
                 "/jobs/x-1/download"):
        answer = outsider.get(BASE + page)
        assert answer.status == 403, page
        assert "person0@example.org" not in answer.text
    home = outsider.get("/console")
    token = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert token
    before = len(harness.outbox.entries())
    posts = {"/compose": {"action": "send", "subject": "Hi", "body_markdown": "Hello",
                          "audience": "all", "send": "now", "announcement_id": "x1"},
             "/sessions/s1": {"action": "confirm", "start": "2023-10-26T17:00",
                              "duration_minutes": "60", "title": "Moved", "join_url": ""},
             f"/registrants/{rid('person0@example.org')}": {"action": "erase_confirmed"},
             "/delivery": {"address": "person0@example.org"}, "/exports": {}}
    for page, fields in posts.items():
        answer = outsider.post(BASE + page, fields | {"csrf": token.group(1), "key": "k-" + page})
        assert answer.status == 403, page
    assert len(sent_to(harness, "person0@example.org")) == 1  # the confirmation only
    assert len(harness.outbox.entries()) == before
    assert harness.registration("person0@example.org") is not None
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None and series.session("s1").title != "Moved"  # type: ignore[union-attr]
    assert harness.items("AUDIT#") == []


def test_a_viewer_sees_no_action_forms_and_their_posts_are_refused(harness: Harness) -> None:
    harness.register_many(1)
    viewer = sign_in(harness, "vera@example.net", "Vera Viewer", SERIES_ID, "viewer")
    compose = viewer.get(f"{BASE}/compose")
    session = viewer.get(f"{BASE}/sessions/s1")
    assert compose.status == session.status == 200
    assert 'name="subject"' not in compose.text and 'name="start"' not in session.text
    answer = viewer.post(f"{BASE}/compose", viewer.form(compose.text, action="send",
                         subject="Hi", body_markdown="Hello", audience="all", send="now"))
    assert answer.status == 403
    assert len(sent_to(harness, "person0@example.org")) == 1


def test_a_post_without_the_session_csrf_token_or_from_another_site_is_refused(
        editor: Browser, harness: Harness) -> None:
    harness.register_many(1)
    page = editor.get(f"{BASE}/registrants/{rid('person0@example.org')}")
    fields = editor.form(page.text, action="erase_confirmed")
    assert editor.post(page_path := f"{BASE}/registrants/{rid('person0@example.org')}",
                       fields | {"csrf": "0" * 64}).status == 403
    assert editor.post(page_path, fields, site="cross-site").status == 403
    assert harness.registration("person0@example.org") is not None


# -- overview, registrants, timeline -----------------------------------------------------------
def test_overview_counts_match_the_registrations_made(editor: Browser,
                                                      harness: Harness) -> None:
    harness.register_many(3)  # whole series
    harness.register_many(2, prefix="s2only", sessions=["s2"])
    harness.register(email="gone@example.org", name="Gone", event_id="evt-gone")
    harness.post(json.dumps({"id": "evt-gone-2", "type": "registration.cancelled",
                             "created": int(harness.clock.now().timestamp()) + 1,
                             "data": {"registrant": {"email": "gone@example.org"}}}).encode(),
                 timestamp=int(harness.clock.now().timestamp()))
    page = editor.get(f"{BASE}/?tz=America/Toronto")
    assert page.status == 200
    assert _cell(page.text, "total-registered") == "5"
    assert _cell(page.text, "total-cancelled") == "1"
    rows = _rows(page.text, "sessions")
    registered = {row[0].split()[-1]: int(row[5]) for row in rows}
    assert registered["s1"] == 3 and registered["s2"] == 5 and registered["s3"] == 3
    s1 = next(row for row in rows if row[0].endswith("s1"))
    assert "15:00 CEST" in s1[1] and "09:00 EDT" in s1[2]  # the series' zone and the chosen one
    assert "Reminder" in page.text and "Next emails due" in page.text


def test_pages_show_sessions_consent_and_links_in_words(editor: Browser,
                                                       harness: Harness) -> None:
    harness.register(email="nina@example.org", name="Nina", event_id="evt-nina",
                     sessions=["s1", "s3"], consent={"reminders": True, "newsletter": False})
    harness.runtime.drain()
    listed = editor.get(f"{BASE}/registrants")
    (row,) = _rows(listed.text, "registrants")
    assert row[3].replace(" ,", ",") == "26 Oct s1, 4 Dec s3"  # dates, ids beside
    assert row[5] == "newsletter: no; reminders: yes"
    assert "True" not in listed.text and "False" not in listed.text
    person = editor.get(f"{BASE}/registrants/{rid('nina@example.org')}")
    assert "Thu 26 Oct 2023: Reirradiation Challenges &amp; Opportunities" in person.text

    session = editor.get(f"{BASE}/sessions/s6")
    assert "<h1>Session s6: Proton Reirradiation" in session.text
    assert 'aria-current="page"' not in session.text  # not the overview, nor any other
    assert '<link rel="icon" href="data:image/svg+xml,' in session.text

    assert 'class="tag tag-warn">missing<' in _row_html(editor.get(f"{BASE}/").text, "s1")
    harness.clock.set(harness.clock.now().replace(month=10, day=27))  # s1 took place
    overview = editor.get(f"{BASE}/").text
    assert "tag-warn" not in _row_html(overview, "s1")  # no warning for what is over
    assert 'class="tag tag-warn">missing<' in _row_html(overview, "s2")
    assert "Emails sent <span" in overview and "this session only" in overview


def test_unmatched_zoom_attendance_shows_on_the_overview_only_when_there_is_some(
        editor: Browser, harness: Harness) -> None:
    assert 'id="attendance-unmatched"' not in editor.get(f"{BASE}/").text
    for _ in range(3):
        harness.runtime.store.count_unmatched_attendance(SERIES_ID)
    overview = editor.get(f"{BASE}/").text
    assert "Attendance from Zoom that matched no session: 3." in overview
    assert "docs/providers/zoom.md" in overview


def test_every_console_router_answers_through_the_api(harness: Harness) -> None:
    """Each console module's router is included, so each sees the request it answers."""
    from webinar_notify.entrypoints import api, console_pages

    editor = sign_in(harness)  # the API includes the console's routers at its first request
    assert all(r.api_resolver is api.app for r in console_pages.ROUTERS)
    for path in ("/console", f"{BASE}/", f"{BASE}/compose", f"{BASE}/sessions/s1",
                 f"{BASE}/jobs/20231020-100000-0000000000"):
        answer = editor.get(path)
        assert answer.status in (200, 404), path
        assert answer.content_type.startswith("text/html"), path
    signed_out = editor.post("/console/sign-out", {"csrf": _csrf(editor.pages[0])})
    assert signed_out.status == 303 and signed_out.headers["Location"] == "/console/sign-in"


def test_registrants_search_and_pages_with_a_cursor(editor: Browser, harness: Harness) -> None:
    _store_registrations(harness, 60)
    harness.register(email="heidi@example.dk", name="Heidi Rønde", event_id="evt-heidi",
                     time_zone="Europe/Copenhagen")
    first = editor.get(f"{BASE}/registrants")
    assert first.status == 200
    names = [row[0] for row in _rows(first.text, "registrants")]
    assert len(names) == 50
    next_link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_link
    second = editor.get(unescape(next_link.group(1)))
    assert second.status == 200
    more = [row[0] for row in _rows(second.text, "registrants")]
    assert len(more) == 11 and not set(names) & set(more)
    found = editor.get(f"{BASE}/registrants?q=r%C3%B8nde")
    assert [row[0] for row in _rows(found.text, "registrants")] == ["Heidi Rønde"]
    assert "Europe/Copenhagen" in found.text
    bad = editor.get(f"{BASE}/registrants?cursor=not-a-cursor")
    assert bad.status == 400
    assert "cursor" in bad.text


def export(editor: Browser, harness: Harness) -> HttpAnswer:
    """Ask for the CSV export from the registrants page, let the job run, fetch the file."""
    page = editor.get(f"{BASE}/registrants")
    form = page.text[page.text.index('action="' + BASE + '/exports"'):]
    accepted = editor.post(f"{BASE}/exports", editor.form(form))
    assert accepted.status == 303, accepted.text
    job = accepted.headers["Location"]
    assert job.startswith(f"{BASE}/jobs/")
    waiting = editor.get(job)
    assert waiting.status == 200 and "Waiting to start" in waiting.text
    assert 'id="download"' not in waiting.text
    harness.runtime.drain()  # the job function runs the waiting job
    progress = json.loads(editor.get(f"{job}/progress").text)
    assert progress["state"] == "done" and "link" not in progress
    done = editor.get(job)
    assert 'id="download"' in done.text
    return editor.get(f"{job}/download")


def test_csv_export_is_a_job_has_every_row_neutralises_formulas_and_is_audited(
        editor: Browser, harness: Harness) -> None:
    harness.register_many(3)
    harness.register(email="eve@example.org", name="=HYPERLINK(\"x\")", event_id="evt-eve")
    answer = export(editor, harness)
    assert answer.status == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["registrant_id", "name", "email"]
    assert len(rows) == 5
    assert {r[2] for r in rows[1:]} >= {"person0@example.org", "eve@example.org"}
    assert all(not r[1].startswith("=") for r in rows[1:])
    audit = editor.get(f"{BASE}/audit")
    entries = {row[2].split(" (")[0]: row for row in _rows(audit.text, "audit")}
    assert set(entries) == {"Export of the registrants started",  # same virtual moment
                            "Export of the registrants downloaded"}
    started, downloaded = (entries[f"Export of the registrants {w}"]
                           for w in ("started", "downloaded"))
    assert ORGANISER_NAME in started[1] and started[3] == "started"
    assert "(4 registrants)" in downloaded[2] and downloaded[3] == "done"
    assert "@" not in "".join(_text(audit.text))


# -- compose ------------------------------------------------------------------------------------
def test_compose_preview_test_copy_schedule_and_cancel(editor: Browser,
                                                       harness: Harness) -> None:
    harness.register_many(3, time_zone="America/Toronto")
    page = editor.get(f"{BASE}/compose")
    assert page.status == 200
    person = rid("person1@example.org")
    fields = editor.form(page.text, subject="Slides are up", audience="all",
                         body_markdown="The **slides** are online.", send="now", preview_as=person)
    preview = editor.post(f"{BASE}/compose", fields | {"action": "preview"})
    assert preview.status == 200
    assert "Reaches about <strong id=\"preview-count\">3</strong> people now " \
        "(everyone registered)" in preview.text
    assert "P1 (America/Toronto)" in preview.text
    assert "&lt;strong&gt;slides&lt;/strong&gt;" in preview.text  # in the frame's srcdoc
    live = editor.post(f"{BASE}/compose/preview", fields)
    assert live.status == 200 and live.body["recipients"] == 3
    assert "<strong>slides</strong>" in live.body["html"]
    before = len(harness.outbox.entries())

    test_copy = editor.post(f"{BASE}/compose", editor.form(preview.text, action="test",
                                                           **_compose_fields(fields)))
    assert test_copy.status == 200 and "test copy" in test_copy.text
    mine = sent_to(harness, ORGANISER)
    assert len(mine) == 1 and mine[0]["subject"] == "Slides are up"
    assert len(harness.outbox.entries()) == before + 1

    later = _compose_fields(fields) | {"send": "later", "send_at": "2023-10-20T10:00"}
    shown = editor.post(f"{BASE}/compose", editor.form(test_copy.text, action="preview",
                                                       **later))
    assert "You chose: <strong>Fri 20 Oct 2023 10:00 CEST</strong>" in shown.text  # not 10/20
    scheduled = editor.post(f"{BASE}/compose", editor.form(test_copy.text, action="send",
                                                           **later))
    assert scheduled.status == 200
    assert "Scheduled for Fri 20 Oct 2023 10:00 CEST" in scheduled.text
    audit = _rows(editor.get(f"{BASE}/audit").text, "audit")  # at one virtual moment
    assert sorted(r[2:] for r in audit) == [
        ["Announcement scheduled \u201cSlides are up\u201d for Fri 20 Oct 2023 10:00 CEST",
         "accepted", "none yet"],
        ["Test copy of an announcement \u201cSlides are up\u201d", "accepted",
         "only the organiser (a test copy)"]]
    cancel = re.search(r'<form method="post" action="([^"]+/cancel)">(.*?)</form>',
                       scheduled.text, re.S)
    assert cancel
    cancelled = editor.post(cancel.group(1), editor.form(cancel.group(2)))
    assert cancelled.status == 200 and "The announcement is cancelled." in cancelled.text
    assert "No announcement is scheduled." in cancelled.text
    harness.clock.set(harness.clock.now().replace(month=10, day=21))
    harness.runtime.tick()
    assert sent_to(harness, "person1@example.org", "announcement") == []


def test_sending_an_announcement_now_reaches_each_registrant_once(editor: Browser,
                                                                  harness: Harness) -> None:
    harness.register_many(2)
    page = editor.get(f"{BASE}/compose")
    fields = editor.form(page.text, action="send", subject="Welcome", audience="all",
                         body_markdown="Hello all.", send="now")
    first = editor.post(f"{BASE}/compose", fields)
    again = editor.post(f"{BASE}/compose", fields)  # a double submit: the same key
    assert first.status == again.status == 200
    assert "Sending to about 2 people." in first.text
    (sent,) = _rows(editor.get(f"{BASE}/audit").text, "audit")
    assert sent[2:] == ["Announcement sent \u201cWelcome\u201d", "accepted", "2"]
    for address in ("person0@example.org", "person1@example.org"):
        assert len(sent_to(harness, address, "announcement")) == 1


def test_an_announcement_sent_now_is_followed_on_its_job_page_to_the_end(
        editor: Browser, harness: Harness) -> None:
    harness.register_many(2)
    page = editor.get(f"{BASE}/compose")
    sent = editor.post(f"{BASE}/compose", editor.form(
        page.text, action="send", subject="Welcome", audience="all", body_markdown="Hi.",
        send="now"))
    link = re.search(r'<a href="([^"]+)" id="notice-link">Follow its progress</a>', sent.text)
    assert link and link.group(1).startswith(f"{BASE}/jobs/"), sent.text
    job = link.group(1)
    waiting = editor.get(job)
    assert waiting.status == 200
    assert "Sending the announcement: 0 emails queued (of about 2)." in waiting.text
    assert "<h1>Sending an announcement</h1>" in waiting.text
    harness.runtime.drain()  # the job function fans it out; the sender sends
    done = editor.get(job)
    assert done.status == 200 and "Sent to 2 people." in done.text
    assert 'id="download"' not in done.text and "job.js" not in done.text
    progress = editor.get(f"{job}/progress")
    assert progress.status == 200
    assert (progress.body["kind"], progress.body["state"], progress.body["done"]) == \
        ("fan_out", "done", 2)
    assert progress.body["summary"] == "Sent to 2 people." and "link" not in progress.body
    refused = editor.get(f"{job}/download")
    assert refused.status == 400 and "no file to download" in refused.text
    assert refused.content_type.startswith("text/html")
    assert "downloaded" not in editor.get(f"{BASE}/audit").text


def test_an_export_not_finished_cannot_be_downloaded(editor: Browser,
                                                     harness: Harness) -> None:
    harness.register_many(1)
    page = editor.get(f"{BASE}/registrants")
    form = page.text[page.text.index('action="' + BASE + '/exports"'):]
    job = editor.post(f"{BASE}/exports", editor.form(form)).headers["Location"]
    early = editor.get(f"{job}/download")
    assert early.status == 400 and "not finished yet" in early.text
    assert "downloaded" not in editor.get(f"{BASE}/audit").text


def test_announcements_counted_as_they_go_say_so_when_sent_or_scheduled(
        editor: Browser, harness: Harness) -> None:
    from datetime import UTC, datetime

    addresses = harness.register_many(2)
    harness.clock.set(datetime(2023, 10, 27, 9, 0, tzinfo=UTC))  # after s1
    recorded = harness.runtime.organiser(f"/organiser/series/{SERIES_ID}/sessions/s1/attendance",
                                         {"emails": addresses[:1]}, idempotency_key="att")
    assert recorded.status == 202, recorded.body  # an import job
    harness.runtime.drain()
    imported = editor.get(f"{BASE}/jobs/{recorded.body['job']}")
    assert imported.status == 200 and "Attendance of s1" in imported.text
    assert 'id="attendance-recorded">1<' in imported.text
    assert 'id="attendance-not-registered">0<' in imported.text
    page = editor.get(f"{BASE}/compose")
    now = editor.post(f"{BASE}/compose", editor.form(
        page.text, action="send", subject="Thanks", audience="attended:s1",
        body_markdown="Thank you for coming.", send="now"))
    assert now.status == 200, _error_text(now.text)
    assert "Sending (how many is counted as it goes)." in now.text
    assert 'id="notice-link"' in now.text and "None" not in "".join(_text(now.text))
    later = editor.post(f"{BASE}/compose", editor.form(
        now.text, action="send", subject="Slides", audience="attended:s1",
        body_markdown="The slides.", send="later", send_at="2023-10-30T10:00"))
    assert later.status == 200, _error_text(later.text)
    assert "Scheduled for Mon 30 Oct 2023 10:00 CET; how many it reaches is counted when " \
        "it goes." in later.text
    assert 'id="notice-link"' not in later.text
    everyone = editor.post(f"{BASE}/compose", editor.form(
        later.text, action="send", subject="Room", audience="all",
        body_markdown="Room.", send="later", send_at="2023-10-30T11:00"))
    assert "it would reach about 2 people now." in everyone.text


# -- session changes ----------------------------------------------------------------------------
def test_moving_a_session_shows_the_count_and_email_then_sends_once(editor: Browser,
                                                                    harness: Harness) -> None:
    harness.register_many(3)
    harness.register_many(2, prefix="s3only", sessions=["s3"])
    page = editor.get(f"{BASE}/sessions/s2")
    assert page.status == 200
    fields = editor.form(page.text, action="preview")
    assert fields["start"] == "2023-11-06T15:00"
    outbox_before = len(harness.outbox.entries())
    dry = editor.post(f"{BASE}/sessions/s2", fields | {"start": "2023-11-06T17:00"})
    assert dry.status == 200
    assert "This will email <strong>3</strong> people." in dry.text
    assert "Send to 3 people" in dry.text and "Update email · 3 people" in dry.text
    assert "New start: <strong>Mon 6 Nov 2023 17:00 CET</strong>" in dry.text  # no 11/06
    assert "17:00" in unescape(dry.text) and "srcdoc=" in dry.text
    assert len(sent_to(harness, "person0@example.org")) == 1  # nothing sent by the dry run
    assert len(harness.outbox.entries()) == outbox_before
    confirm = editor.form(dry.text)
    assert confirm["action"] == "confirm" and confirm["start"] == "2023-11-06T17:00"
    done = editor.post(f"{BASE}/sessions/s2", confirm)
    assert done.status == 200 and "on its way to about 3 people" in done.text
    job_link = re.search(r'href="([^"]+/jobs/[^"]+)" id="notice-link"', done.text)
    assert job_link is not None
    again = editor.post(f"{BASE}/sessions/s2", confirm)
    assert again.status == 200
    for i in range(3):
        assert len(sent_to(harness, f"person{i}@example.org", "update")) == 1
    job = editor.get(job_link[1])
    assert job.status == 200 and "Sending the change to session s2" in job.text
    assert f'href="{BASE}/sessions/s2">Back to the session' in job.text
    assert "Each person is sent one email" in job.text and "announcement" not in job.text
    for i in range(2):
        assert sent_to(harness, f"s3only{i}@example.org", "update") == []
    audit = editor.get(f"{BASE}/audit")
    rows = _rows(audit.text, "audit")
    changed = [row for row in rows if row[2].startswith("Session changed")]
    assert len(changed) == 1
    assert changed[0][2] == "Session changed s2" and changed[0][3:] == ["done", "3"]


def test_cancelling_a_session_shows_the_count_then_sends_each_a_cancellation(
        editor: Browser, harness: Harness) -> None:
    harness.register_many(2)
    page = editor.get(f"{BASE}/sessions/s3")
    cancel = re.search(r'Cancel the session</h2>\s*<form method="post">(.*?)</form>',
                       page.text, re.S)
    assert cancel
    dry = editor.post(f"{BASE}/sessions/s3", editor.form(cancel.group(1)))
    assert "This will email <strong>2</strong> people." in dry.text
    assert sent_to(harness, "person0@example.org", "cancellation") == []
    done = editor.post(f"{BASE}/sessions/s3", editor.form(dry.text))
    assert done.status == 200 and "on its way to about 2 people" in done.text
    for i in range(2):
        assert len(sent_to(harness, f"person{i}@example.org", "cancellation")) == 1
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None and series.session("s3").cancelled  # type: ignore[union-attr]


def test_a_quiet_typo_fix_emails_nobody(editor: Browser, harness: Harness) -> None:
    harness.register_many(2)
    page = editor.get(f"{BASE}/sessions/s2")
    fields = editor.form(page.text, action="preview", quiet="on")
    title = fields["title"] + " (typo fixed)"
    dry = editor.post(f"{BASE}/sessions/s2", fields | {"title": title})
    assert "Nobody will be emailed" in dry.text
    done = editor.post(f"{BASE}/sessions/s2", editor.form(dry.text))
    assert done.status == 200 and "nobody was emailed" in done.text
    assert sent_to(harness, "person0@example.org", "update") == []
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None and series.session("s2").title == title  # type: ignore[union-attr]


def test_a_bad_session_value_is_a_400_page_naming_the_field(editor: Browser) -> None:
    page = editor.get(f"{BASE}/sessions/s2")
    assert "Currently: Mon 6 Nov 2023 15:00 CET." in page.text  # the date in words by the field
    answer = editor.post(f"{BASE}/sessions/s2", editor.form(page.text, action="preview",
                                                            duration_minutes="0",
                                                            start="2023-11-07T15:00"))
    assert answer.status == 400
    assert 'href="#duration_minutes"' in answer.text
    assert "You chose: <strong>Tue 7 Nov 2023 15:00 CET</strong>" in answer.text


# -- registrant care, delivery, audit -------------------------------------------------------------
def test_erasing_a_registrant_takes_a_confirmation(editor: Browser, harness: Harness) -> None:
    harness.register_many(2)
    path = f"{BASE}/registrants/{rid('person0@example.org')}"
    page = editor.get(path)
    assert page.status == 200 and "person0@example.org" in page.text
    asked = editor.post(path, editor.form(page.text, action="erase"))
    assert asked.status == 200 and "Yes, erase the data" in asked.text
    assert harness.registration("person0@example.org") is not None
    confirm = re.search(r'<div class="confirm" role="alert">(.*?)</div>', asked.text, re.S)
    assert confirm
    done = editor.post(path, editor.form(confirm.group(1)))
    assert done.status == 303
    assert harness.registration("person0@example.org") is None
    assert harness.items("ERASED#")
    assert editor.get(path).status == 404
    overview = editor.get(f"{BASE}/")
    assert _cell(overview.text, "total-registered") == "1"


def test_cancelling_a_registrant_sends_their_calendar_cancellation(editor: Browser,
                                                                   harness: Harness) -> None:
    harness.register_many(1)
    path = f"{BASE}/registrants/{rid('person0@example.org')}"
    asked = editor.post(path, editor.form(editor.get(path).text, action="cancel"))
    confirm = re.search(r'<div class="confirm" role="alert">(.*?)</div>', asked.text, re.S)
    assert confirm
    done = editor.post(path, editor.form(confirm.group(1)))
    assert done.status == 200 and "Registration cancelled." in done.text
    registration = harness.registration("person0@example.org")
    assert registration is not None and registration.status == "cancelled"
    assert len(sent_to(harness, "person0@example.org", "cancellation")) == 1


def test_a_hard_bounce_shows_on_the_timeline_and_in_the_bounce_rate(
        editor: Browser, harness: Harness) -> None:
    from webinar_notify.entrypoints import feedback

    harness.register_many(4)
    entry = next(e for e in harness.outbox.entries() if e["to"] == "person2@example.org")
    feedback.lambda_handler(sns_delivery(ses_event(entry, "Bounce", at=harness.clock.now())),
                            LocalContext("webinar-notify-feedback"))
    page = editor.get(f"{BASE}/registrants/{rid('person2@example.org')}")
    (row,) = _rows(page.text, "mail")
    assert row[1] == "Confirmation" and "Bounced (hard)" in row[3]
    assert "Suppressed" in page.text and "yes: no email reaches this address" in page.text
    delivery = editor.get(f"{BASE}/delivery")
    assert _cell(delivery.text, "rate-bounced") == "25.00 %"
    assert "at risk" in delivery.text
    suppressed = _rows(delivery.text, "suppressions")
    assert len(suppressed) == 1 and "@" not in suppressed[0][0]

    lifted = editor.post(f"{BASE}/delivery", editor.form(delivery.text,
                                                         address="Person2@Example.org"))
    assert lifted.status == 200 and "may be mailed again" in lifted.text
    assert "No address of this series is suppressed." in lifted.text


def test_delivered_shows_once_the_mail_service_reports_a_delivery(
        editor: Browser, harness: Harness) -> None:
    """By default SES reports bounces, complaints, rejects and delays, not deliveries: no
    "Delivered" column of zeros until one is reported."""
    from webinar_notify.entrypoints import feedback

    harness.register_many(2)
    states = [row[0] for row in _rows(editor.get(f"{BASE}/delivery").text, "states")]
    assert "Sent" in states and "Delivered" not in states
    assert 'data-label="Delivered"' not in editor.get(f"{BASE}/timeline").text
    entry = next(e for e in harness.outbox.entries() if e["to"] == "person1@example.org")
    feedback.lambda_handler(sns_delivery(ses_event(entry, "Delivery", at=harness.clock.now())),
                            LocalContext("webinar-notify-feedback"))
    states = {row[0]: row[1] for row in _rows(editor.get(f"{BASE}/delivery").text, "states")}
    assert states["Delivered"] == "1"
    assert '<td data-label="Delivered" class="num">1</td>' in editor.get(f"{BASE}/timeline").text


def test_the_audit_trail_names_who_and_never_an_address(editor: Browser,
                                                        harness: Harness) -> None:
    harness.register_many(2)
    page = editor.get(f"{BASE}/compose")
    editor.post(f"{BASE}/compose", editor.form(page.text, action="test", subject="T",
                                               body_markdown="x", audience="all", send="now"))
    harness.clock.advance(timedelta(minutes=5))
    path = f"{BASE}/registrants/{rid('person1@example.org')}"
    asked = editor.post(path, editor.form(editor.get(path).text, action="erase"))
    confirm = re.search(r'<div class="confirm" role="alert">(.*?)</div>', asked.text, re.S)
    assert confirm
    editor.post(path, editor.form(confirm.group(1)))
    audit = editor.get(f"{BASE}/audit")
    rows = _rows(audit.text, "audit")
    assert [r[2].split(" registrant")[0].split(" \u201c")[0] for r in rows] == [
        "Registrant's data erased", "Test copy of an announcement"]  # newest first
    assert rows[1][3:] == ["accepted", "only the organiser (a test copy)"]
    assert rows[0][3] == "done"
    assert all(ORGANISER_NAME in r[1] for r in rows)
    text = "".join(_text(audit.text))
    assert "@" not in text and "person1" not in text


def test_no_address_or_name_in_any_log_line_while_the_console_is_used(
        editor: Browser, harness: Harness, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    harness.register(email="secret.person@example.org", name="Zebulon Quux",
                     event_id="evt-secret")
    harness.runtime.drain()
    capsys.readouterr()
    caplog.clear()
    person = rid("secret.person@example.org")
    for path in ("/", "/registrants", "/registrants?q=zebulon", f"/registrants/{person}",
                 "/timeline", "/delivery", "/audit", "/compose"):
        assert editor.get(BASE + path).status == 200, path
    assert export(editor, harness).status == 200
    page = editor.get(f"{BASE}/compose")
    editor.post(f"{BASE}/compose", editor.form(page.text, action="test", subject="T",
                                               body_markdown="x", audience="all", send="now",
                                               preview_as=person))
    editor.post(f"{BASE}/delivery", editor.form(editor.get(f"{BASE}/delivery").text,
                                                address="secret.person@example.org"))
    harness.runtime.drain()
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert logged  # the handlers did log
    for secret in ("secret.person@example.org", "Zebulon", "Quux", ORGANISER, ORGANISER_NAME,
                   "Olga"):
        assert secret.lower() not in logged.lower(), secret


# -- helpers ------------------------------------------------------------------------------------
def _store_registrations(harness: Harness, count: int) -> None:
    """Many whole-series registrations written straight to the store (faster than webhooks)."""
    from webinar_notify.core.registration import Registrant, Registration

    for i in range(count):
        address = f"bulk{i}@example.org"
        harness.runtime.store.put_registration(Registration(
            SERIES_ID, rid(address), Registrant(address, f"Bulk {i}", "Europe/Brussels"),
            frozenset(), whole_series=True), harness.clock.now())


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _compose_fields(fields: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items()
            if k in ("subject", "body_markdown", "audience", "send", "send_at", "preview_as")}


def _error_text(page: str) -> str:
    match = re.search(r'class="field-error"[^>]*>(.*?)<', page)
    return match.group(1) if match else ""


def _row_html(page: str, session_id: str) -> str:
    """The overview's table row of one session, as HTML."""
    match = re.search(rf'<tr id="session-{session_id}">(.*?)</tr>', page, re.S)
    assert match, session_id
    return match.group(1)


def _cell(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">(.*?)<', page)
    assert match, element_id
    return unescape(match.group(1)).strip()


def _rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of a table, each as the text of its cells."""
    table = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert table, table_id
    body = table.group(1).split("<tbody>", 1)[1]
    return [[" ".join(_text(cell)).strip() for cell in
             re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _text(html: str) -> Iterator[str]:
    body = html.split("<main", 1)[-1]
    for part in re.split(r"<[^>]+>", body):
        text = unescape(part).strip()
        if text:
            yield re.sub(r"\s+", " ", text)


def _b64(part: str) -> str:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def _b64e(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _signed_by_moto(claims: dict[str, Any]) -> str:
    """A token signed with moto's own Cognito key (a genuine signature), for expiry checks."""
    import gzip
    from importlib import resources

    data = resources.files("moto").joinpath("cognitoidp/resources/jwks-private.json")
    keys = json.loads(data.read_bytes()) if data.is_file() else json.loads(gzip.decompress(
        resources.files("moto").joinpath("cognitoidp/resources/jwks-private.json.gz")
        .read_bytes()))
    key = jwt.PyJWK(keys["keys"][0] if "keys" in keys else keys)
    return jwt.encode(claims, key.key, algorithm="RS256",
                      headers={"kid": key.key_id or "dummy"})


def test_a_second_preview_confirmed_after_another_change_is_refused(
        editor: Browser, harness: Harness) -> None:
    """Two organisers preview moves of s2 at the same time; the first confirms. The second
    confirm must not silently undo the first move, nor email anybody."""
    harness.register_many(2)
    page = editor.get(f"{BASE}/sessions/s2")
    fields = editor.form(page.text, action="preview")
    first = editor.form(editor.post(f"{BASE}/sessions/s2",
                                    fields | {"start": "2023-11-06T17:00"}).text)
    second = editor.form(editor.post(f"{BASE}/sessions/s2",
                                     fields | {"start": "2023-11-06T18:00"}).text)
    assert first["revision"] == second["revision"]
    assert editor.post(f"{BASE}/sessions/s2", first).status == 200
    late = editor.post(f"{BASE}/sessions/s2", second)
    assert late.status == 409 and "look at it again" in unescape(late.text)
    series = harness.runtime.store.get_series(SERIES_ID)
    assert series is not None and series.session("s2").start.hour == 17  # type: ignore[union-attr]
    assert len(sent_to(harness, "person0@example.org", "update")) == 1


def test_a_registrants_page_is_headed_by_their_name_and_says_which_reminder_they_got(
        editor: Browser, harness: Harness) -> None:
    from datetime import UTC, datetime

    harness.register(email="ines@example.pt", name="Inês Antunes", event_id="evt-ines",
                     sessions=["s1"])
    s1 = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
    for before in (timedelta(days=7), timedelta(days=1)):
        harness.clock.set(s1 - before + timedelta(minutes=3))  # a run a little after it opened
        harness.runtime.tick()
        harness.runtime.drain()
    page = editor.get(f"{BASE}/registrants/{rid('ines@example.pt')}")
    assert page.status == 200
    assert "<h1>Inês Antunes: Challenges in Reirradiation" in unescape(page.text)
    text = unescape(page.text)
    assert "Reminder 7d before" in text and "Reminder 1d before" in text
