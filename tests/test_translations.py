"""Every registrant in their own language: the catalogs are complete, the language is chosen
per email and per page, and English stays as it was.

The catalogs are checked against what Babel extracts from the code and the templates, so a
new sentence without its translations fails here, in every language at once.
"""

from __future__ import annotations

import email
import email.policy
import importlib.util
import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import read_po, write_po

import test_email_defects as kinds  # one email of every kind, composed as the sender does
from conftest import Harness
from webinar_notify.core import i18n
from webinar_notify.core.compose import compose
from webinar_notify.core.errors import SeriesFileError
from webinar_notify.core.jobs import EmailJob
from webinar_notify.core.mime import build
from webinar_notify.core.schedule import until
from webinar_notify.core.series_document import parse_series, series_to_document

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalogs_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalogs", ROOT / "scripts" / "catalogs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


catalogs = _catalogs_script()
SOURCE = catalogs.template()  # extracted once: every message the templates and code mark
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE]


def test_the_extraction_finds_the_templates_and_the_code() -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in SOURCE if m.id}
    assert "Manage your registration" in ids  # a template
    assert "Registration confirmed: %(series)s" in ids  # compose.py
    assert "in less than a minute" in ids  # schedule.py
    assert "this link is not valid or has expired; use the link from your latest email" in ids
    assert len(ids) > 100


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_catalog_translates_every_message(language: str) -> None:
    assert catalogs.missing(language, SOURCE) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_every_placeholder(language: str) -> None:
    with i18n.catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set().union(*(set(PLACEHOLDER.findall(i)) for i in ids))
        for text in strings:
            found = set(PLACEHOLDER.findall(text))
            # a singular may leave its count out ("cette session"), never add a name
            assert found <= wanted and wanted - found <= {"num"}, (language, message.id)


def test_a_missing_translation_is_caught(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    path = i18n.catalog_path("de")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="de")
    catalog.delete("Manage your registration")
    catalog["Join the webinar"].string = ""
    with path.open("wb") as handle:
        write_po(handle, catalog)
    assert sorted(catalogs.missing("de", SOURCE)) == ["Join the webinar",
                                                       "Manage your registration"]
    assert catalogs.missing("fr", SOURCE) == []


@pytest.mark.parametrize(("tag", "language"), [
    ("fr-BE", "fr"), ("pt-BR", "pt"), ("de", "de"), ("es-419", "es"), ("it-CH", "it"),
    ("en-GB", "en"), ("nl", None), ("", None), (None, None)])
def test_the_nearest_language_we_write(tag: str | None, language: str | None) -> None:
    assert i18n.nearest(tag) == language


@pytest.mark.parametrize(("header", "language"), [
    ("de-CH, de;q=0.9, en;q=0.5", "de"), ("nl, fr;q=0.8, en;q=0.7", "fr"),
    ("en-US,en;q=0.9", "en"), ("pt-BR", "pt"), ("nl, sv", None), ("*", None), ("", None),
    ("fr;q=0, it", "it"), ("es;q=bad, it;q=0.5", "it")])
def test_accept_language_is_negotiated(header: str, language: str | None) -> None:
    assert i18n.from_accept_language(header) == language


def test_a_page_prefers_the_stored_language_then_the_browser_then_the_series() -> None:
    assert i18n.for_page("pt-BR", "de", "fr") == "pt"
    assert i18n.for_page("", "de-AT", "fr") == "de"
    assert i18n.for_page("nl", "sv", "fr") == "fr"
    assert i18n.for_page(None, None, "en") == "en"


def _job(kind_job: EmailJob, language: str) -> EmailJob:
    return replace(kind_job, recipient=replace(kind_job.recipient, language=language))


def test_a_french_registrant_reads_everything_in_french() -> None:
    series = kinds.series()
    made = compose(series, _job(kinds.job("confirmation", ("s1", "s2")), "fr-BE"),
                   now=kinds.NOW, renderer=kinds.renderer(), links=kinds.LINKS)
    assert made.subject == ("Inscription confirmée\u00a0: Challenges in Reirradiation: "
                            "From Art to Science")
    assert "Merci de votre inscription. Vous êtes inscrit(e) à ces 2 sessions." in made.text
    assert "jeudi 26 octobre 2023 09:00 EDT (15:00 CEST)" in made.text
    assert "(début dans 16 heures 40 minutes)" in made.text.replace("\u00a0", " ")
    assert "l’heure de Bruxelles entre parenthèses" in made.text
    assert '<html lang="fr" dir="ltr">' in made.html
    assert "Gérer votre inscription" in made.html and "Manage your" not in made.html
    message = email.message_from_bytes(build(made), policy=email.policy.default)
    assert message["Content-Language"] == "fr"
    assert str(message["Subject"]) == made.subject.replace("\u00a0", " ")  # header cleaning
    calendar = made.calendars[0].content.decode()
    unfolded = calendar.replace("\r\n ", "")
    assert "Le lien de connexion vous sera envoyé avant la session." in unfolded
    assert "LOCATION:En ligne" in unfolded
    assert "SUMMARY:Reirradiation Challenges & Opportunities" in unfolded  # as written

    reminder = compose(series, _job(kinds.job("reminder", ("s1",)), "fr"), now=kinds.NOW,
                       renderer=kinds.renderer(), links=kinds.LINKS)
    assert reminder.subject == ("Rappel\u00a0: Reirradiation Challenges & Opportunities, "
                                "jeudi 26 octobre 2023 09:00 EDT (dans 16 heures 40 minutes)")
    assert ("Reirradiation Challenges & Opportunities commence le jeudi 26 octobre 2023 "
            "09:00 EDT, dans 16") in reminder.text
    assert "Ne plus recevoir les rappels ni les annonces de cette série" in reminder.html


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_kind_is_written_in_each_language(language: str) -> None:
    """No English sentence is left in any kind, in either part (titles and series text are
    the organiser's, so only our own words are checked)."""
    english = {kind: (e.subject, e.text) for kind, e in kinds.every_kind().items()}
    for kind, made in _every_kind_in(language).items():
        assert made.language == language
        assert f'<html lang="{language}"' in made.html
        for ours in ("Dear Marie", "Manage your registration", "Your registration:",
                     "You receive this", "Times are shown", "Hello,", "Watch the recording",
                     "Thank you for joining", "We missed you", "Download the slides"):
            assert ours not in made.text and ours not in made.html, (language, kind, ours)
        if not kind.startswith("announcement"):  # the organiser's own words
            assert made.subject != english[kind][0], kind


def _every_kind_in(language: str) -> dict[str, object]:
    return dict(kinds.every_kind(False, language))


def test_english_is_what_it_was_whatever_english_tag_or_unknown_language() -> None:
    series = kinds.series()
    for kind_job in (kinds.job("confirmation", ("s1", "s2", "s3")),
                     kinds.job("reminder", ("s1",), join_url="https://zoom.example/j/1")):
        plain = compose(series, kind_job, now=kinds.NOW, renderer=kinds.renderer(),
                        links=kinds.LINKS)
        for tag in ("en", "en-GB", "nl"):
            other = compose(series, _job(kind_job, tag), now=kinds.NOW,
                            renderer=kinds.renderer(), links=kinds.LINKS)
            assert (other.subject, other.text, other.html) == \
                (plain.subject, plain.text, plain.html)
    confirmation = kinds.every_kind()["confirmation"]
    assert confirmation.subject == ("Registration confirmed: Challenges in Reirradiation: "
                                    "From Art to Science")
    assert "Thu 26 Oct 2023 09:00 EDT (15:00 CEST) (starts in 16 hours 40 minutes)" \
        in confirmation.text
    assert '<html lang="en" dir="ltr">' in confirmation.html
    message = email.message_from_bytes(build(confirmation), policy=email.policy.default)
    assert message["Content-Language"] == "en"


def test_the_series_default_language_is_used_when_the_person_gave_none() -> None:
    series = replace(kinds.series(), language="de")
    for tag in ("", "nl"):
        made = compose(series, _job(kinds.job("reminder", ("s1",)), tag), now=kinds.NOW,
                       renderer=kinds.renderer(), links=kinds.LINKS)
        assert made.language == "de"
        assert "Donnerstag, 26. Oktober 2023 09:00 EDT (15:00 MESZ)" in made.text
    french = compose(series, _job(kinds.job("reminder", ("s1",)), "fr"), now=kinds.NOW,
                     renderer=kinds.renderer(), links=kinds.LINKS)
    assert french.language == "fr"


def test_the_series_file_takes_a_language_and_refuses_one_we_do_not_write() -> None:
    document = series_to_document(kinds.series())
    assert "language" not in document  # English, the default, is not written out
    read = parse_series(document | {"language": "pt-BR"})
    assert read.language == "pt"
    assert parse_series(series_to_document(read)).language == "pt"
    for bad in ("nl", "french", 3):
        with pytest.raises(SeriesFileError, match="language"):
            parse_series(document | {"language": bad})


@pytest.mark.parametrize(("language", "ahead", "said"), [
    ("fr", timedelta(hours=16, minutes=40, seconds=59), "dans 16 heures 40 minutes"),
    ("de", timedelta(hours=16, minutes=40), "in 16 Stunden, 40 Minuten"),
    ("de", timedelta(days=7), "in 7 Tagen"),  # the dative of the locale's own pattern
    ("de", timedelta(days=6, hours=23), "in 6 Tagen, 23 Stunden"),
    ("de", timedelta(days=1, hours=12), "in 1 Tag, 12 Stunden"),
    ("it", timedelta(days=14), "tra 14 giorni"),  # never "2 weeks": the unit stays days
    ("es", timedelta(days=6, hours=23, minutes=59), "dentro de 6 días 23 horas"),
    ("it", timedelta(hours=1), "tra 1 ora"),
    ("pt", timedelta(minutes=1, seconds=59), "em 1 minuto"),
    ("fr", timedelta(seconds=30), "dans moins d’une minute"),
    ("en", timedelta(hours=16, minutes=40, seconds=59), "in 16 hours 40 minutes"),
])
def test_relative_times_never_overstate_in_any_language(language: str, ahead: timedelta,
                                                        said: str) -> None:
    start = datetime(2023, 10, 26, 13, 0, tzinfo=UTC)
    assert until(start, start - ahead, language).replace("\u00a0", " ") == said


def test_the_queued_job_carries_the_language() -> None:
    job = _job(kinds.job("reminder", ("s1",)), "fr-BE")
    assert EmailJob.from_json(job.to_json()).recipient.language == "fr-BE"
    english = kinds.job("reminder", ("s1",))
    assert "lang" not in json.loads(english.to_json())["to"]
    assert EmailJob.from_json(english.to_json()).recipient.language == ""


def _register_in(harness: Harness, language: str, address: str) -> str:
    body = json.dumps({"id": f"evt-{address}", "type": "registration.created",
                       "created": int(harness.clock.now().timestamp()),
                       "data": {"registrant": {"email": address, "full_name": "Anne Martin",
                                               "time_zone": "Europe/Paris",
                                               "language": language}}}).encode()
    assert harness.post(body).status == 202
    harness.runtime.drain()
    return harness.manage_path(address)


def test_pages_speak_the_stored_language_then_the_browsers(harness: Harness) -> None:
    french = _register_in(harness, "fr-CA", "anne@example.org")
    entry = next(e for e in harness.outbox.entries() if e["to"] == "anne@example.org")
    sent = email.message_from_bytes((harness.outbox_dir / str(entry["file"])).read_bytes(),
                                    policy=email.policy.default)
    assert sent["Content-Language"] == "fr"
    assert str(sent["Subject"]).startswith("Inscription confirmée")

    page = harness.runtime.request("GET", french, {"accept-language": "de"}, b"")
    assert page.status == 200
    assert page.headers.get("Content-Language") == "fr"
    assert '<html lang="fr"' in page.text and "Télécharger mes données" in page.text
    assert "jeudi 26 octobre 2023" in page.text
    assert page.headers.get("X-Content-Type-Options") == "nosniff"  # still secured

    english = _register_in(harness, "", "sam@example.org")
    german = harness.runtime.request("GET", english,
                                     {"accept-language": "de-CH, de;q=0.9, en;q=0.5"}, b"")
    assert german.headers.get("Content-Language") == "de"
    assert "Meine Daten herunterladen" in german.text
    plain = harness.runtime.request("GET", english, {}, b"")
    assert plain.headers.get("Content-Language") == "en"
    assert "Download my data" in plain.text

    series_id, token = english.split("/")[2:4]
    refused = harness.runtime.request("GET", f"/manage/{series_id}/{token[:-2]}zz",
                                      {"accept-language": "fr"}, b"")
    assert refused.status == 404
    assert refused.headers.get("Content-Language") == "fr"
    assert "Ce lien n’est pas valide ou a expiré" in refused.text  # the page capitalises


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_zone_without_letters_is_labelled_by_its_offset_in_every_language(
        language: str) -> None:
    """Every zone, summer and winter: where the time zone database has no abbreviation, no
    locale's metazone name stands in for it (Casablanca at UTC+1 is never "WET")."""
    from zoneinfo import ZoneInfo, available_timezones

    from webinar_notify.core.times import local_zone_label, zone_label

    for name in sorted(available_timezones()):
        if not name.startswith(("Africa/", "America/", "Asia/", "Europe/", "Australia/")):
            continue
        for month in (1, 7):
            moment = datetime(2024, month, 15, 12, tzinfo=ZoneInfo(name))
            label = local_zone_label(moment, language)
            if zone_label(moment).startswith("UTC"):
                assert label == zone_label(moment), (name, label)
    casablanca = datetime(2024, 1, 15, 12, tzinfo=ZoneInfo("Africa/Casablanca"))
    assert local_zone_label(casablanca, language) == "UTC+1"


def test_an_error_after_a_good_link_speaks_the_persons_language(harness: Harness) -> None:
    french = _register_in(harness, "fr-CA", "anne@example.org")
    stale = harness.runtime.request(
        "POST", french, {"content-type": "application/x-www-form-urlencoded",
                         "accept-language": "de"}, b"action=erase_confirmed&confirm=old")
    assert stale.status == 400
    assert stale.headers.get("Content-Language") == "fr"
    assert "Cette confirmation manque ou a expiré" in stale.text
    assert harness.registration("anne@example.org") is not None  # nothing erased
    forged = harness.runtime.request("GET", french[:-3] + "AAA", {"accept-language": "de"}, b"")
    assert forged.status == 404  # a link not ours: only the browser's language is known
    assert forged.headers.get("Content-Language") == "de"
