"""The console's review of attendance, person by person, through the real API handler on
moto: rows needing a decision first, marks and a revocation (with its confirmation) from it,
an upload's rows that matched no registrant, and minutes marked by hand (console, API, CLI)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from conftest import SERIES_ID, Harness
from test_certificates_e2e import (
    AFTER,
    BASE,
    S1,
    ZOOM_REPORT,
    held,
    minutes,
    register,
    rehearse,
    site,
    verify,
)
from test_console_certificates import PAGE, multipart
from test_console_pages import sign_in

__all__ = ["site"]  # the fixture, shared
REVIEW = f"{PAGE}/review"


def rows(page: str) -> list[str]:
    """The review table's rows, in order, as their text."""
    body = page.split('id="review"')[1].split("</tbody>")[0].split("<tbody>")[1]
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", row)).replace(" )", ")").split())
            for row in body.split("</tr>")[:-1]]


def row_form(page: str, name: str, label: str) -> str:
    """The row's form whose button says ``label`` (e.g. "Mark present")."""
    row = next(r for r in page.split("<tr ")[1:] if name in r)
    return next(f for f in row.split("</form>") if f">{label}</button>" in f)


def with_lea(site: Harness) -> None:
    """The rehearsal, plus Léa: 48 of s1's 60 minutes (80 %, 5 points short), by hand."""
    rehearse(site)
    register(site, "lea@example.org", "Léa Dubois")
    answer = site.runtime.organiser(f"{BASE}/sessions/s1/marks",
                                    {"emails": ["lea@example.org"], "minutes": 48}, "lea-48")
    assert answer.status == 200 and answer.body["marked"] == 1, answer.body


def test_the_review_puts_decisions_first_and_marks_and_revokes_from_a_row(
        site: Harness) -> None:
    with_lea(site)
    page = sign_in(site, role="viewer").get(f"{REVIEW}?session=s1")
    assert page.status == 200, page.text[:300]
    assert "at least 85 % of its scheduled length: 51 of this session's 60 minutes" in page.text
    listed = rows(page.text)
    assert [next(n for n in ("Léa", "山田", "Nguyễn", "Ana") if n in r) for r in listed] == \
        ["Léa", "Ana", "Nguyễn", "山田"]  # the one to decide on, then by name
    lea = listed[0]
    assert "48 of 60 min (80 %)" in lea and "marked by hand" in lea and "not met" in lea
    assert "5 points under the threshold" in lea and "needs a decision" in lea
    khai = listed[2]
    assert "52 of 60 min (86 %)" in khai and " met " in khai and "issued" in khai
    ana = listed[1]  # 40 %: far under, nothing to decide
    assert "24 of 60 min (40 %)" in ana and "needs a decision" not in ana
    assert "1 of 4 on this page needs a decision" in page.text
    assert "Mark present" not in page.text  # a viewer sees, and may not act

    # the series: those needing a decision first (a near miss, an evaluation missing)
    editor = sign_in(site, email="editor@example.org")
    page = editor.get(REVIEW)
    assert page.status == 200
    listed = rows(page.text)
    assert "Léa" in listed[0] and "Nguyễn" in listed[1]  # both need a decision
    khai = listed[1]
    assert "the evaluation is not done" in khai and "2 of 2 sessions attended" in khai
    assert "missing" in khai and "waiting for the evaluation" in khai
    hanako = next(r for r in listed if "山田" in r)
    assert "done" in hanako and "issued" in hanako and "needs a decision" not in hanako
    assert "Mark present" not in page.text  # marks are per session

    # an editor acts from a row: Léa marked present earns her s1 certificate
    page = editor.get(f"{REVIEW}?session=s1")
    marked = editor.post(PAGE, editor.form(row_form(page.text, "Léa", "Mark present")))
    assert marked.status == 200, marked.text[:400]
    assert "Léa Dubois is marked present at s1. 1 certificate issued." in marked.text
    assert minutes(site, "lea@example.org") == {"s1": 60}
    assert "session:s1" in held(site, "lea@example.org")
    assert "needs a decision" not in next(r for r in rows(marked.text) if "Léa" in r)
    assert "lea@example.org" not in json.dumps(site.items("AUDIT#"))
    absent = editor.post(PAGE, editor.form(row_form(marked.text, "Léa", "Mark absent")))
    assert "is marked absent at s1" in absent.text
    assert "A certificate already issued stays valid" in absent.text
    assert minutes(site, "lea@example.org") == {"s1": 0}

    # a revocation from a session's review asks first
    certificate = held(site, "hanako@example.org")["session:s1"].certificate_id
    page = editor.get(f"{REVIEW}?session=s1")
    link = unescape(re.search(r'href="([^"]*/certificates/revoke\?certificate_id='
                              + certificate + r'[^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    asked = editor.get(link)
    assert asked.status == 200 and "山田 花子" in asked.text and "Revoke this certificate?" \
        in asked.text
    assert "is valid" in verify(site, certificate).text  # asking changed nothing
    confirmed = editor.post(PAGE, editor.form(asked.text.split('id="revoke-confirm"')[1]))
    assert confirmed.status == 200 and f"Certificate {certificate} is revoked" in confirmed.text
    assert 'id="review"' in confirmed.text  # back on the review it came from
    assert "was revoked" in verify(site, certificate).text
    hanako = next(r for r in rows(confirmed.text) if "山田" in r)
    assert "revoked" in hanako


def test_refusals_from_the_review_and_the_confirmation_change_nothing(site: Harness) -> None:
    rehearse(site)
    editor = sign_in(site)
    unknown = editor.get(f"{PAGE}/revoke?certificate_id=AAAA-AAAA-AAAA-AAAA")
    assert unknown.status == 404 and "no such certificate in this series" in unknown.text
    typed = editor.get(f"{PAGE}/revoke?certificate_id=%3Cscript%3E")
    assert typed.status == 404 and "<script>" not in typed.text
    viewer = sign_in(site, email="viewer@example.org", role="viewer")
    certificate = held(site, "hanako@example.org")["series"].certificate_id
    assert viewer.get(f"{PAGE}/revoke?certificate_id={certificate}").status == 403
    page = editor.get(f"{REVIEW}?session=s1")
    form = editor.form(row_form(page.text, "Ana", "Mark present"))
    before = site.items("PERSON#")
    for number, (registrant, session, status) in enumerate((
            ("r" + "0" * 40, "s1", 404), ("../x", "s1", 404), (form["registrant"], "s8", 400))):
        refused = editor.post(PAGE, {**form, "registrant": registrant, "session": session,
                                     "key": f"refused-{number}"})
        assert refused.status == status, (registrant, refused.text[:300])
        assert "Traceback" not in refused.text
    assert site.items("PERSON#") == before



def test_an_upload_shows_the_rows_that_matched_no_registrant_once(site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    register(site, "khai@example.org", "Khai")
    site.clock.set(S1 + timedelta(hours=3))
    editor = sign_in(site)
    page = editor.get(PAGE)
    fields = editor.form(page.text.split('id="upload-form"')[1].split("</form>")[0],
                         session="s1", report=ZOOM_REPORT)
    headers, body = multipart(editor, fields)
    answer = site.runtime.request("POST", PAGE, headers, body)
    assert answer.status == 200, answer.text[:500]
    assert "In the file but not registered (1)" in answer.text
    unmatched = answer.text.split('id="unmatched"')[1].split("</section>")[0]
    assert "guest@example.org" in unmatched and "60 minutes in the file" in unmatched
    assert "absent@example.org" not in unmatched  # the report says they did not attend
    assert "Follow its progress" in answer.text
    site.runtime.drain()
    assert minutes(site, "khai@example.org") == {"s1": 56}
    stored = json.dumps([site.items("AUDIT#"), site.items("JOB#"), site.items("PERSON#")])
    assert "guest@example.org" not in stored
    again = editor.get(f"{REVIEW}?session=s1")
    assert "guest@example.org" not in again.text
    assert any("56 of 60 min (93 %)" in row for row in rows(again.text))


def test_minutes_marked_in_the_console_count_and_a_wrong_number_is_refused(
        site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    site.clock.set(S1 + timedelta(hours=3))
    editor = sign_in(site)
    page = editor.get(PAGE)
    form = page.text.split('id="mark-form"')[1].split("</form>")[0]
    done = editor.post(PAGE, editor.form(form, session="s1", emails="ana@example.org",
                                         attended="minutes", minutes="42"))
    assert done.status == 200 and "Marked 1 person present 42 minutes at s1" in done.text
    assert minutes(site, "ana@example.org") == {"s1": 42}
    for bad in ("61", "-3", "ten", "", "²", "9" * 5000):
        refused = editor.post(PAGE, editor.form(done.text.split('id="mark-form"')[1]
                                                .split("</form>")[0], session="s1",
                                                emails="ana@example.org",
                                                attended="minutes", minutes=bad))
        assert refused.status == 400, bad
        assert 'href="#minutes"' in refused.text and "minutes:" in refused.text
    assert minutes(site, "ana@example.org") == {"s1": 42}  # the refusals changed nothing


@pytest.mark.parametrize("body", [{"minutes": 61}, {"minutes": True}, {"minutes": 2.5},
                                  {"minutes": "²"}, {"minutes": "9" * 5000}])
def test_the_api_refuses_minutes_outside_the_session(site: Harness,
                                                     body: dict[str, Any]) -> None:
    register(site, "ana@example.org", "Ana")
    site.clock.set(S1 + timedelta(hours=3))
    answer = site.runtime.organiser(f"{BASE}/sessions/s1/marks",
                                    {"emails": ["ana@example.org"], **body}, "m")
    assert answer.status == 400 and answer.body["error"].startswith("minutes:")
    assert site.items("PERSON#") == []


def test_the_cli_marks_minutes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from webinar_notify import organiser_cli
    from webinar_notify.cli import main
    from webinar_notify.organiser_requests import to_request

    emails = tmp_path / "emails.txt"
    emails.write_text("a@example.org\n", "utf-8")
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(organiser_cli, "_request", lambda args, action: sent.append(
        to_request(action, args.series, tmp_path)) or {})
    argv = ["attendance-mark", SERIES_ID, "s1", "--emails-file", str(emails), "--minutes",
            "40", "--api", "https://api.example.org"]
    assert main(argv) == 0
    assert sent == [(f"{BASE}/sessions/s1/marks", {"emails": ["a@example.org"],
                                                     "attended": True, "minutes": 40})]


def test_a_session_not_held_has_no_review(site: Harness) -> None:
    site.clock.set(AFTER)
    editor = sign_in(site)
    assert editor.get(f"{REVIEW}?session=s8").status == 404
    assert editor.get(f"{REVIEW}?session=nope").status == 404
