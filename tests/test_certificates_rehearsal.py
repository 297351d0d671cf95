"""The issue's must-show, played once through the real handlers on moto: three registrants at
100 %, 86 % (reconnecting, a Vietnamese name) and 40 %, two of whom (100 % and 40 %) complete
the series' evaluation, the third later. Exactly the earned certificates go out by email, once
each, their PDF attached and holding the name as typed; the verification page confirms each
id and says when one was revoked; the manage page downloads them; an erased registrant's no
longer verify.

One rehearsal serves the whole module (a PDF is drawn per email, once); a test that changes
something (Khai's session certificates revoked, Hanako and Ana erased) leaves what the others
assert on as it was, whatever order they run in.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from pypdf import PdfReader

from conftest import SERIES_ID, Harness
from test_certificates_e2e import (
    BASE,
    PEOPLE,
    certificate_series,
    certificate_site,
    evaluate,
    held,
    rehearse,
    verify,
)
from webinar_notify import bootstrap
from webinar_notify.core import i18n
from webinar_notify.local.events import LocalContext, http_api_event

HANAKO, KHAI, ANA = "hanako@example.org", "khai@example.org", "ana@example.org"


@dataclass
class Rehearsal:
    site: Harness
    before_khai_evaluated: list[str]  # the certificate emails' files at that moment


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    with certificate_site(tmp_path_factory.mktemp("rehearsal")) as site:
        rehearse(site)
        site.runtime.drain()
        before = [str(e["file"]) for e in site.outbox.entries() if e["kind"] == "certificate"]
        assert evaluate(site, KHAI).status == 200  # his evaluation comes a day later
        site.runtime.drain()
        yield Rehearsal(site, before)


def message(site: Harness, file: str) -> EmailMessage:
    raw = (site.outbox_dir / file).read_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def certificate_emails(site: Harness) -> list[dict[str, Any]]:
    return [e for e in site.outbox.entries() if e["kind"] == "certificate"]


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def scopes_sent(site: Harness, files: list[str] | None = None) -> dict[str, list[str]]:
    """Who got which certificate, read from each email's PDF file name."""
    found: dict[str, list[str]] = {}
    for entry in certificate_emails(site):
        if files is not None and entry["file"] not in files:
            continue
        attached = [part.get_filename() or "" for part in
                    message(site, str(entry["file"])).iter_attachments()]
        found.setdefault(str(entry["to"]), []).extend(
            name.removeprefix(f"certificate-{SERIES_ID}-").removesuffix(".pdf")
            for name in attached)
    return {to: sorted(scopes) for to, scopes in found.items()}


def test_exactly_the_earned_certificates_go_out_by_email_once_each(
        rehearsal: Rehearsal) -> None:
    site = rehearsal.site
    assert scopes_sent(site, rehearsal.before_khai_evaluated) == {
        HANAKO: ["s1", "s2", "series"], KHAI: ["s1", "s2"]}  # 40 %: nothing; no evaluation
    assert scopes_sent(site) == {HANAKO: ["s1", "s2", "series"],
                                 KHAI: ["s1", "s2", "series"]}  # his, once evaluated
    for entry in certificate_emails(site):
        to = str(entry["to"])
        name, language, _ = PEOPLE[to]
        mail = message(site, str(entry["file"]))
        (pdf,) = list(mail.iter_attachments())
        assert pdf.get_content_type() == "application/pdf"
        data = pdf.get_content()
        body = mail.get_body(("plain",))
        assert body is not None
        plain = body.get_content()
        verification = re.search(r"http://localhost:8000/verify/([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})",
                                 plain)
        assert verification and name in plain, plain
        text = pdf_text(data)
        assert name in text and verification[0] in text, (name, text[:200])  # the same id
        assert i18n.tr(language, "This is to certify that") in text  # in their language
        assert mail["Content-Language"] == language
        assert len(data) < 100_000  # SES v2 takes 40 MB; an 18 KB PDF is far from it
    subjects = {str(message(site, str(e["file"]))["Subject"]) for e in certificate_emails(site)
                if e["to"] == KHAI}
    title = certificate_series().title
    french = i18n.tr("fr", "Your certificate of attendance: %(title)s", title=title)
    assert french in subjects and french != f"Your certificate of attendance: {title}"

    count = len(certificate_emails(site))
    again = site.runtime.organiser(f"{BASE}/certificates", {}, "assess-again")
    assert again.status == 202, again.body
    assert evaluate(site, KHAI).status == 200  # a retried evaluation: nothing new
    site.runtime.drain()
    assert len(certificate_emails(site)) == count
    assert bootstrap.services().certificates.to_email(SERIES_ID) == []


def test_the_verification_page_confirms_each_id_and_says_when_it_was_revoked(
        rehearsal: Rehearsal) -> None:
    site = rehearsal.site
    khai = held(site, KHAI)
    page = verify(site, khai["series"].certificate_id)
    assert page.status == 200 and "is valid" in page.text
    assert "Nguyễn Thị Minh Khai" in page.text and "2 ECMEC" in page.text
    assert "example.org" not in page.text
    assert certificate_series().sessions[0].title not in page.text  # only name, series, credits
    s1 = khai["session:s1"].certificate_id
    typed = verify(site, s1.lower().replace("-", " ").replace("O", "0"))
    assert typed.status == 200 and "Nguyễn Thị Minh Khai" in typed.text
    revoked = site.runtime.organiser(f"{BASE}/certificates/{s1}/revoke", {}, "revoke-s1")
    assert (revoked.status, revoked.body) == (200, {"revoked": s1})
    page = verify(site, s1)
    assert page.status == 200 and "was revoked" in page.text and "is valid" not in page.text
    site.runtime.organiser(f"{BASE}/certificates", {}, "reassess")
    site.runtime.drain()  # assessing again never un-revokes
    assert "was revoked" in verify(site, s1).text
    other = site.runtime.organiser(f"{BASE}/certificates/AAAA-AAAA-AAAA-AAAA/revoke", {},
                                   "revoke-other")
    assert other.status == 404


def get(site: Harness, path: str, language: str = "") -> dict[str, Any]:
    """The API handler's own answer (a PDF's bytes stay base64, as API Gateway gets them)."""
    from webinar_notify.entrypoints import api

    headers = {"accept-language": language} if language else {}
    event = http_api_event("GET", path, headers, b"", site.clock.now())
    answer: dict[str, Any] = api.lambda_handler(event, LocalContext("webinar-notify-api"))
    return answer


def erase(site: Harness, path: str, language: str) -> None:
    """The two presses on the manage page, in the person's language."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    asked = site.runtime.request("POST", path, form, b"action=erase")
    confirm = re.search(r'name="confirm" value="([^"]+)"', asked.text)
    assert asked.status == 200 and confirm
    erased = site.runtime.request("POST", path, form,
                                  f"action=erase_confirmed&confirm={confirm[1]}".encode())
    assert erased.status == 200 and i18n.tr(language, "Your data is deleted") in erased.text


def test_the_manage_page_lists_the_certificates_and_downloads_each_pdf(
        rehearsal: Rehearsal) -> None:
    site = rehearsal.site
    path = site.manage_path(KHAI)
    khai = held(site, KHAI)
    page = site.runtime.request("GET", path, {}, b"")
    assert page.status == 200 and page.headers["Content-Language"] == "fr"  # his language
    links = re.findall(r'href="[^"]*/certificates/([A-Z0-9-]+)"', page.text)
    assert sorted(links) == sorted(c.certificate_id for c in khai.values() if not c.revoked)
    assert len(khai) == 3  # the series' and two sessions' (one may be revoked by now)
    assert i18n.tr("fr", "Download the certificate (PDF)") in page.text

    series_id = khai["series"].certificate_id
    answer = get(site, f"{path}/certificates/{series_id}")
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"]
    assert answer["headers"]["Content-Type"] == "application/pdf"
    assert answer["headers"]["Content-Disposition"] == \
        f'attachment; filename="certificate-{SERIES_ID}-series.pdf"'
    assert "no-store" in answer["headers"]["Cache-Control"]
    text = pdf_text(base64.b64decode(answer["body"]))
    assert "Nguyễn Thị Minh Khai" in text and series_id in text

    s2 = khai["session:s2"].certificate_id
    assert site.runtime.organiser(f"{BASE}/certificates/{s2}/revoke", {},
                                  "revoke-s2").status == 200
    page = site.runtime.request("GET", path, {}, b"")
    assert s2 not in page.text and i18n.tr(
        "fr", "Revoked by the organisers: it is no longer valid.") in page.text
    refused = site.runtime.request("GET", f"{path}/certificates/{s2}", {}, b"")
    assert refused.status == 404 and refused.content_type.startswith("text/html")
    said = i18n.tr("fr", "this certificate was revoked: it can no longer be downloaded")
    assert said[1:] in refused.text  # (the page begins it with a capital letter)
    for other in ("AAAA-AAAA-AAAA-AAAA", "not-an-id"):  # not one of his: not found
        assert site.runtime.request("GET", f"{path}/certificates/{other}", {},
                                    b"").status == 404

    ana = site.manage_path(ANA)
    erase(site, ana, "pt")
    gone = site.runtime.request("GET", f"{ana}/certificates/{series_id}", {}, b"")
    ordinary = site.runtime.request("GET", ana, {}, b"")
    assert gone.status == ordinary.status == 404 and gone.text == ordinary.text


def test_an_erased_registrants_data_and_certificates_go_and_no_longer_verify(
        rehearsal: Rehearsal) -> None:
    site = rehearsal.site
    hanako = held(site, HANAKO)["series"]
    path = site.manage_path(HANAKO)
    data = site.runtime.request("GET", f"{path}/data", {}, b"")
    assert data.status == 200
    assert [c["certificate_id"] for c in data.body["certificates"]
            if c["scope"] == "series"] == [hanako.certificate_id]
    assert data.body["presence"]["s1"]["events"]  # the joins and leaves as Zoom sent them
    unknown = verify(site, "AAAA-AAAA-AAAA-AAAA")
    erase(site, path, "en")
    erased = verify(site, hanako.certificate_id)
    assert unknown.status == erased.status == 404
    assert "No certificate with the ID" in erased.text
    assert erased.text.replace(hanako.certificate_id, "X") == \
        unknown.text.replace("AAAA-AAAA-AAAA-AAAA", "X")
    from test_certificates_e2e import rid

    records = bootstrap.services().certificates.certificates
    assert records.person_data(SERIES_ID, rid(HANAKO)) == {
        "presence": {}, "evaluations": {}, "certificates": []}
    assert verify(site, held(site, KHAI)["series"].certificate_id).status == 200  # others stay
