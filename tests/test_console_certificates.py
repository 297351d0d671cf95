"""The console's attendance and certificates page, through the real API handler on moto: an
upload as a file in a multipart form, manual marks, issuing, revoking, and who may do it."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from conftest import SERIES_ID, Harness
from test_certificates_e2e import (
    AFTER,
    S1,
    ZOOM_REPORT,
    held,
    minutes,
    register,
    rehearse,
    site,
    verify,
)
from test_console_pages import Browser, sign_in

__all__ = ["site"]  # the fixture, shared
PAGE = f"/console/series/{SERIES_ID}/certificates"


def multipart(browser: Browser, fields: dict[str, str], file_name: str = "report.csv"
              ) -> tuple[dict[str, str], bytes]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        filename = f'; filename="{file_name}"' if name == "report" else ""
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                     f'{filename}\r\n\r\n{value}\r\n')
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    headers = {"cookie": browser.cookie, "sec-fetch-site": "same-origin",
               "content-type": f"multipart/form-data; boundary={boundary}"}
    return headers, body


def test_an_editor_uploads_a_report_and_follows_the_job(site: Harness) -> None:
    register(site, "ana@example.org", "Ana")
    register(site, "khai@example.org", "Khai")
    site.clock.set(S1 + timedelta(hours=3))
    editor = sign_in(site)
    page = editor.get(PAGE)
    assert page.status == 200 and 'enctype="multipart/form-data"' in page.text
    assert "Certificates" in page.text and 'aria-current="page"' in page.text
    fields = editor.form(page.text.split('id="upload-form"')[1].split("</form>")[0],
                         session="s1", report=ZOOM_REPORT)
    headers, body = multipart(editor, fields)
    answer = site.runtime.request("POST", PAGE, headers, body)
    assert answer.status == 200, answer.text[:500]  # the session's review, with the job
    site.runtime.drain()
    link = answer.text.split('id="notice-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    job = editor.get(link)
    assert job.status == 200 and "Attendance of s1" in job.text
    assert minutes(site, "khai@example.org") == {"s1": 56}
    assert "ana@example.org" not in str(site.items("AUDIT#"))


def test_a_bad_upload_shows_its_lines_on_the_page(site: Harness) -> None:
    site.clock.set(S1 + timedelta(hours=3))
    editor = sign_in(site)
    page = editor.get(PAGE)
    fields = editor.form(page.text.split('id="upload-form"')[1].split("</form>")[0],
                         session="s1", format="csv", report="email,minutes\nnobody,5\n")
    headers, body = multipart(editor, fields)
    answer = site.runtime.request("POST", PAGE, headers, body)
    assert answer.status == 400 and "line 2" in answer.text
    assert 'href="#report"' in answer.text  # the error summary leads to the field


def test_marks_issue_and_revoke_from_the_page(site: Harness) -> None:
    rehearse(site)
    editor = sign_in(site)
    site.clock.set(AFTER)
    page = editor.get(PAGE)
    marked = editor.post(PAGE, editor.form(
        page.text.split('id="mark-form"')[1].split("</form>")[0], session="s1",
        emails="ana@example.org\nnobody@example.org", attended="yes"))
    assert marked.status == 200, marked.text[:300]
    assert "Marked 1 person present at s1; 1 matched no registration" in marked.text
    assert minutes(site, "ana@example.org")["s1"] == 60
    certificate = held(site, "hanako@example.org")["series"].certificate_id
    assert 'id="revoke-form"' in marked.text  # typed in, then confirmed on its own page
    asked = editor.get(f"{PAGE}/revoke?certificate_id={certificate.lower()}")
    assert asked.status == 200 and "Revoke this certificate?" in asked.text
    revoked = editor.post(PAGE, editor.form(asked.text.split('id="revoke-confirm"')[1]))
    assert revoked.status == 200 and f"Certificate {certificate} is revoked" in revoked.text
    assert "was revoked" in verify(site, certificate).text
    issued = editor.post(PAGE, editor.form(
        revoked.text.split('id="issue-form"')[1].split("</form>")[0]))
    assert issued.status == 303 and "/jobs/" in issued.headers["Location"]
    site.runtime.drain()
    job = editor.get(issued.headers["Location"])
    assert job.status == 200 and "Certificates of the series" in job.text
    assert "3 people assessed; 0 certificates issued." in job.text  # all issued before
    assert "Download the CSV" not in job.text


def test_a_viewer_sees_the_page_but_may_not_act(site: Harness) -> None:
    site.clock.set(S1 + timedelta(hours=3))
    viewer = sign_in(site, role="viewer")
    page = viewer.get(PAGE)
    assert page.status == 200 and 'id="upload-form"' not in page.text
    refused = viewer.post(PAGE, {"csrf": "x", "key": "k", "action": "issue"})
    assert refused.status == 403


def test_a_certificate_is_found_by_its_series_id_not_its_title(site: Harness) -> None:
    """A series renamed after issuing (its certificates keep the title they were issued
    under) still revokes them from the console."""
    import boto3

    rehearse(site)
    certificate = held(site, "hanako@example.org")["series"].certificate_id
    client = boto3.client("dynamodb", region_name="eu-west-1")
    table = site.runtime.resources.table
    for item in site.items("CERTIFICATE"):
        body = json.loads(item["body"]["S"])
        item["body"] = {"S": json.dumps({**body, "series_title": "Last year's title"})}
        client.put_item(TableName=table, Item=item)
    editor = sign_in(site)
    site.clock.set(AFTER)
    asked = editor.get(f"{PAGE}/revoke?certificate_id={certificate}")
    assert asked.status == 200 and "Revoke this certificate?" in asked.text
    assert editor.get(f"{PAGE}/revoke?certificate_id=AAAA-BBBB-CCCC-DDDD").status == 404
